#if canImport(Glibc)
import Glibc
#endif

/// Watches the tree by scanning it: every `interval` it lists the source files and compares
/// their modification time, size and inode with the previous scan. The fallback where inotify
/// is missing or its limits are reached; the file count is bounded (`SourceTreeWalk.Limits`)
/// so a scan stays in the milliseconds.
final class PolledSourceTree: SourceChangeDetector {
    /// What a scan remembers of a file; any difference is a change (an editor that replaces
    /// the file by rename changes the inode even within one mtime tick).
    struct Stamp: Equatable {
        var seconds: Int
        var nanoseconds: Int
        var size: Int64
        var inode: UInt64
    }

    let interval: Int64
    private let root: String
    private let limits: SourceTreeWalk.Limits
    private var snapshot: [String: Stamp] = [:]
    private var lastScan: Int64
    private var warnedLimit = false

    init(root: String, limits: SourceTreeWalk.Limits, interval: Int64 = 1000, now: Int64) {
        self.root = root
        self.limits = limits
        self.interval = interval
        lastScan = now
        snapshot = scan()
    }

    var summary: String { "polling every \(interval) ms, \(snapshot.count) file\(snapshot.count == 1 ? "" : "s")" }

    var descriptor: Int32? { nil }

    func nextCheck(after now: Int64) -> Int64 { max(now, lastScan + interval) }

    func close() {}

    func changes(now: Int64) -> [String] {
        guard now >= lastScan + interval else { return [] }
        lastScan = now
        let current = scan()
        defer { snapshot = current }
        return Self.difference(from: snapshot, to: current)
    }

    /// The paths added, removed or changed between two scans, sorted.
    static func difference(from old: [String: Stamp], to new: [String: Stamp]) -> [String] {
        var changed = new.filter { old[$0.key] != $0.value }.map(\.key)
        changed += old.keys.filter { new[$0] == nil }
        return changed.sorted()
    }

    private func scan() -> [String: Stamp] {
        let walk = SourceTreeWalk(root: root, limits: limits)
        if walk.truncated && !warnedLimit {
            warnedLimit = true
            Log.warning("reload: \(root) holds more than \(limits.files) source files or \(limits.directories) directories; watching only the first ones")
        }
        var stamps: [String: Stamp] = [:]
        for path in walk.files {
            var status = stat()
            guard stat(path, &status) == 0 else { continue }  // removed since the listing
            stamps[path] = Stamp(
                seconds: Int(status.st_mtim.tv_sec), nanoseconds: Int(status.st_mtim.tv_nsec),
                size: Int64(status.st_size), inode: UInt64(status.st_ino))
        }
        return stamps
    }
}
