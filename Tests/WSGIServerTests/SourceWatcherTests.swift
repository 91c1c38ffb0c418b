#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Reactor
import Testing
@testable import WSGIServer

/// The detectors against a real directory: each step changes the tree and says which paths
/// (relative to the root) must be reported. inotify and polling must agree.
@Suite struct SourceWatcherTests {
    enum Backend: String, CaseIterable { case inotify, polling }

    struct Step: CustomStringConvertible, Sendable {
        let description: String
        let action: @Sendable (String) throws -> Void
        let expected: Set<String>
    }

    static let steps: [Step] = [
        Step(description: "modify app.py", action: { try write($0 + "/app.py", "BODY = b'two'\n") }, expected: ["app.py"]),
        Step(description: "create a module in a package", action: { try write($0 + "/pkg/new.py", "X = 1\n") }, expected: ["pkg/new.py"]),
        Step(description: "delete it", action: { try FileManager.default.removeItem(atPath: $0 + "/pkg/new.py") }, expected: ["pkg/new.py"]),
        Step(description: "rename a module", action: { try FileManager.default.moveItem(atPath: $0 + "/app.py", toPath: $0 + "/main.py") },
             expected: ["app.py", "main.py"]),
        Step(description: "touch main.py", action: { try touch($0 + "/main.py") }, expected: ["main.py"]),
        Step(description: "a non-Python file", action: { try write($0 + "/notes.txt", "hello\n") }, expected: []),
        Step(description: "byte code", action: {
            try write($0 + "/__pycache__/main.cpython-311.pyc", "x")
            try write($0 + "/__pycache__/stray.py", "x")
        }, expected: []),
        Step(description: "ignored directories", action: {
            try write($0 + "/.git/hooks/x.py", "x")
            try write($0 + "/node_modules/x.py", "x")
            try write($0 + "/venv/lib/x.py", "x")
            try write($0 + "/lib/site-packages/x.py", "x")
        }, expected: []),
        Step(description: "an editor's lock file", action: { try write($0 + "/.#main.py", "x") }, expected: []),
        Step(description: "a new subpackage", action: { try write($0 + "/sub/deeper/m.py", "M = 1\n") }, expected: ["sub/deeper/m.py"]),
        Step(description: "a module in it", action: { try write($0 + "/sub/deeper/n.py", "N = 1\n") }, expected: ["sub/deeper/n.py"]),
        Step(description: "a package moved away", action: { try FileManager.default.moveItem(atPath: $0 + "/sub", toPath: $0 + "/.trash") },
             expected: ["sub"]),
    ]

    @Test(arguments: Backend.allCases)
    func detectsWhatMatters(backend: Backend) throws {
        let root = try Self.makeTree()
        defer { try? FileManager.default.removeItem(atPath: root) }
        var now = monotonicMilliseconds()
        let detector: any SourceChangeDetector = switch backend {
        case .inotify: try InotifySourceTree(root: root, limits: .init())
        case .polling: PolledSourceTree(root: root, limits: .init(), interval: 1, now: now)
        }
        defer { detector.close() }
        for step in Self.steps {
            try step.action(root)
            now += 10
            let reported = try detector.changes(now: now)
            let relative = Set(reported.map { String($0.dropFirst(root.count + 1)) })
            // Polling reports a moved package by its files; inotify by the directory.
            let expected = backend == .polling && step.description.hasPrefix("a package moved")
                ? ["sub/deeper/m.py", "sub/deeper/n.py"] : step.expected
            #expect(relative == expected, "\(backend): \(step)")
        }
    }

    @Test(arguments: Backend.allCases)
    func watcherReportsOnceTheBurstSettles(backend: Backend) throws {
        let root = try Self.makeTree()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let watcher = SourceWatcher(directory: root, polling: backend == .polling)
        defer { watcher.closeAfterFork() }
        #expect((watcher.descriptor != nil) == (backend == .inotify))
        let start = monotonicMilliseconds()
        #expect(watcher.check(now: start + 1000) == nil)
        try Self.write(root + "/app.py", "BODY = b'two'\n")
        try Self.write(root + "/pkg/__init__.py", "# changed\n")
        #expect(watcher.check(now: start + 2000) == nil)  // seen, not yet quiet
        #expect(watcher.nextDeadline(now: start + 2000) <= start + 2250)
        #expect(watcher.check(now: start + 2250) == "app.py and 1 other file changed")
        #expect(watcher.check(now: start + 4000) == nil)
    }

    @Test func walkIsBounded() throws {
        let root = try Self.makeTree()
        defer { try? FileManager.default.removeItem(atPath: root) }
        for n in 0..<5 { try Self.write(root + "/d\(n)/m.py", "") }
        let all = SourceTreeWalk(root: root)
        #expect(!all.truncated)
        #expect(all.files.count == 7)  // app.py, pkg/__init__.py, d0...d4/m.py
        #expect(all.directories.count == 7)  // the root, pkg, d0...d4 (not __pycache__)
        let fewFiles = SourceTreeWalk(root: root, limits: .init(directories: 100, files: 3))
        #expect(fewFiles.truncated && fewFiles.files.count == 3)
        let fewDirectories = SourceTreeWalk(root: root, limits: .init(directories: 2, files: 100))
        #expect(fewDirectories.truncated && fewDirectories.directories.count == 2)
    }

    @Test func parsesInotifyEvents() {
        func event(_ wd: Int32, _ mask: UInt32, _ name: String, padded length: Int) -> [UInt8] {
            var bytes: [UInt8] = []
            withUnsafeBytes(of: wd) { bytes += $0 }
            withUnsafeBytes(of: mask) { bytes += $0 }
            withUnsafeBytes(of: UInt32(0)) { bytes += $0 }
            withUnsafeBytes(of: UInt32(length)) { bytes += $0 }
            bytes += Array(name.utf8) + [UInt8](repeating: 0, count: length - name.utf8.count)
            return bytes
        }
        let bytes = event(1, 0x100, "app.py", padded: 16) + event(2, 0x8000, "", padded: 0) + event(3, 0x2, "m.py", padded: 8)
        #expect(InotifySourceTree.parse(bytes + [0, 0, 0], count: bytes.count) == [
            .init(wd: 1, mask: 0x100, name: "app.py"),
            .init(wd: 2, mask: 0x8000, name: ""),
            .init(wd: 3, mask: 0x2, name: "m.py"),
        ])
    }

    @Test(arguments: [
        // (before, after, changed)
        ([("a.py", 1)], [("a.py", 1)], []),
        ([("a.py", 1)], [("a.py", 2)], ["a.py"]),
        ([("a.py", 1)], [("a.py", 1), ("b.py", 1)], ["b.py"]),
        ([("a.py", 1), ("b.py", 1)], [("b.py", 1)], ["a.py"]),
        ([("a.py", 1)], [("c.py", 1)], ["a.py", "c.py"]),
    ] as [([(String, Int)], [(String, Int)], [String])])
    func pollingDifference(before: [(String, Int)], after: [(String, Int)], changed: [String]) {
        func snapshot(_ entries: [(String, Int)]) -> [String: PolledSourceTree.Stamp] {
            Dictionary(uniqueKeysWithValues: entries.map { ($0.0, PolledSourceTree.Stamp(seconds: $0.1, nanoseconds: 0, size: 1, inode: 7)) })
        }
        #expect(PolledSourceTree.difference(from: snapshot(before), to: snapshot(after)) == changed)
    }

    // MARK: Helpers

    /// app.py, pkg/__init__.py and an empty __pycache__ in a fresh temporary directory.
    static func makeTree() throws -> String {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("yimmo-watch-\(UUID().uuidString)").path
        try write(root + "/app.py", "BODY = b'one'\n")
        try write(root + "/pkg/__init__.py", "")
        try FileManager.default.createDirectory(atPath: root + "/__pycache__", withIntermediateDirectories: true)
        return root
    }

    static func write(_ path: String, _ text: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try text.write(toFile: path, atomically: false, encoding: .utf8)
    }

    /// A new modification time an hour ahead, so even a coarse-grained file system sees it.
    static func touch(_ path: String) throws {
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(3600)], ofItemAtPath: path)
    }
}
