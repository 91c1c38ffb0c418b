import Foundation
import Testing
@testable import WSGIServer

@Suite struct VirtualEnvironmentTests {
    /// A directory shaped like a venv: bin/python plus the given pyvenv.cfg and lib/ entries.
    private func makeVenv(config: String?, libraries: [String] = []) throws -> String {
        let root = FileManager.default.temporaryDirectory
            .appendingPathComponent("yimmo-venv-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root + "/bin", withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: root + "/bin/python", contents: Data(), attributes: [.posixPermissions: 0o755])
        if let config {
            try config.write(toFile: root + "/pyvenv.cfg", atomically: true, encoding: .utf8)
        }
        for library in libraries {
            try FileManager.default.createDirectory(atPath: root + "/lib/" + library, withIntermediateDirectories: true)
        }
        return root
    }

    @Test func acceptsMatchingVersion() throws {
        let path = try makeVenv(config: "home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11.2\n")
        let venv = try VirtualEnvironment(path: path + "/", major: 3, minor: 11)
        #expect(venv.executable == path + "/bin/python")
    }

    @Test func acceptsVersionInfoKey() throws {
        let path = try makeVenv(config: "home = /opt/bin\nversion_info = 3.11.9\n")
        _ = try VirtualEnvironment(path: path, major: 3, minor: 11)
    }

    @Test func rejectsOtherVersion() throws {
        let path = try makeVenv(config: "version = 3.12.1\n")
        #expect {
            try VirtualEnvironment(path: path, major: 3, minor: 11)
        } throws: { error in
            "\(error)".contains("3.12.1") && "\(error)".contains("3.11")
        }
    }

    @Test func rejectsMinorPrefixLookalike() throws {
        let path = try makeVenv(config: "version = 3.110.0\n")
        #expect(throws: PythonRuntimeError.self) { try VirtualEnvironment(path: path, major: 3, minor: 11) }
    }

    @Test func fallsBackToLibraryDirectories() throws {
        let good = try makeVenv(config: nil, libraries: ["python3.11"])
        _ = try VirtualEnvironment(path: good, major: 3, minor: 11)
        let bad = try makeVenv(config: nil, libraries: ["python3.9"])
        #expect(throws: PythonRuntimeError.self) { try VirtualEnvironment(path: bad, major: 3, minor: 11) }
    }

    @Test func rejectsMissingDirectoryAndNonVenv() throws {
        #expect(throws: PythonRuntimeError.self) {
            try VirtualEnvironment(path: "/nonexistent/yimmo-venv", major: 3, minor: 11)
        }
        let plain = FileManager.default.temporaryDirectory.appendingPathComponent("yimmo-plain-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: plain, withIntermediateDirectories: true)
        #expect(throws: PythonRuntimeError.self) { try VirtualEnvironment(path: plain, major: 3, minor: 11) }
    }
}
