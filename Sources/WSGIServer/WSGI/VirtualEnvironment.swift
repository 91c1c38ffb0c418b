#if canImport(Glibc)
import Glibc
#endif

/// A virtualenv the embedded interpreter is pointed at, checked before Python starts: a venv
/// made by another Python version would import extension modules built for the wrong ABI.
struct VirtualEnvironment {
    let path: String

    /// `<venv>/bin/python`: as PyConfig.executable it makes sys.prefix the venv.
    var executable: String { path + "/bin/python" }

    /// Checks that path is a venv made for Python major.minor.
    init(path: String, major: Int, minor: Int) throws(PythonRuntimeError) {
        var trimmed = path
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        self.path = trimmed
        let expected = "\(major).\(minor)"
        guard Self.isDirectory(trimmed) else {
            throw .virtualenv("virtualenv \(trimmed) does not exist or is not a directory")
        }
        guard access(executable, X_OK) == 0 || access(trimmed + "/bin/python3", X_OK) == 0 else {
            throw .virtualenv("\(trimmed) is not a virtualenv: no bin/python")
        }
        if let version = Self.configuredVersion(trimmed + "/pyvenv.cfg") {
            guard version == expected || version.hasPrefix(expected + ".") else {
                throw .virtualenv(
                    "virtualenv \(trimmed) was made for Python \(version), but yimmo-wsgi embeds Python "
                        + "\(expected); recreate it with python\(expected) -m venv")
            }
            return
        }
        let libraries = Self.pythonLibraries(in: trimmed + "/lib")
        if !libraries.isEmpty && !libraries.contains("python" + expected) {
            throw .virtualenv(
                "virtualenv \(trimmed) holds \(libraries.sorted().joined(separator: ", ")) but yimmo-wsgi "
                    + "embeds Python \(expected); recreate it with python\(expected) -m venv")
        }
    }

    /// The `version` (venv) or `version_info` (uv, virtualenv) entry of pyvenv.cfg.
    private static func configuredVersion(_ file: String) -> String? {
        guard let text = readFile(file) else { return nil }
        var found: String?
        for line in text.split(whereSeparator: \.isNewline) {
            let parts = line.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let key = parts[0].trimmingSpaces()
            if key == "version" || (key == "version_info" && found == nil) {
                found = String(parts[1].trimmingSpaces())
            }
        }
        return found
    }

    private static func pythonLibraries(in directory: String) -> [String] {
        guard let handle = opendir(directory) else { return [] }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name.hasPrefix("python3.") { names.append(name) }
        }
        return names
    }

    private static func isDirectory(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0 && (status.st_mode & S_IFMT) == S_IFDIR
    }

    private static func readFile(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = fread(&chunk, 1, chunk.count, file)
            if count <= 0 { break }
            bytes += chunk[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension Substring {
    fileprivate func trimmingSpaces() -> Substring {
        var result = self
        while let first = result.first, first == " " || first == "\t" { result.removeFirst() }
        while let last = result.last, last == " " || last == "\t" || last == "\r" { result.removeLast() }
        return result
    }
}
