#if os(Linux)
import Glibc
import Reactor

/// Watches the tree with inotify: one watch per directory (inotify is not recursive), added as
/// directories appear. The descriptor is non-blocking and read until EAGAIN at each check, so
/// the supervisor's single thread never blocks on it.
final class InotifySourceTree: SourceChangeDetector {
    private var fd: Int32
    private let root: String
    private let limits: SourceTreeWalk.Limits
    /// Watch descriptor -> the directory it watches.
    private var watches: [Int32: String] = [:]
    private var buffer = [UInt8](repeating: 0, count: 64 * 1024)
    private var warnedLimit = false

    /// Everything that can change a file's content or its presence. IN_ATTRIB makes `touch`
    /// reload, as with polling watchers; reads (IN_ACCESS, IN_CLOSE_NOWRITE) never do.
    private static let mask = UInt32(
        IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB
            | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK)
    /// How often to look when nothing else wakes the supervisor: reading an idle inotify
    /// descriptor is one failed read(2).
    private static let interval: Int64 = 250

    init(root: String, limits: SourceTreeWalk.Limits) throws(SourceWatchError) {
        fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else {
            throw SourceWatchError("inotify_init1: \(String(cString: strerror(errno))) (fs.inotify.max_user_instances?)")
        }
        self.root = root
        self.limits = limits
        do {
            _ = try addTree(root)
        } catch {
            close()
            throw error
        }
    }

    deinit { close() }

    var summary: String { "inotify, \(watches.count) director\(watches.count == 1 ? "y" : "ies")" }

    var descriptor: Int32? { fd >= 0 ? fd : nil }

    func nextCheck(after now: Int64) -> Int64 { now + Self.interval }

    func close() {
        if fd >= 0 { closeDescriptor(fd) }
        fd = -1
    }

    func changes(now: Int64) throws(SourceWatchError) -> [String] {
        guard fd >= 0 else { return [] }
        var changed: [String] = []
        // Bounded, so a process that writes without pause cannot hold the supervisor here.
        for _ in 0..<64 {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { break }
            guard count > 0 else {
                throw SourceWatchError("reading inotify events: \(count < 0 ? String(cString: strerror(errno)) : "end of file")")
            }
            for event in Self.parse(buffer, count: count) {
                try handle(event, into: &changed)
            }
        }
        return changed
    }

    // MARK: Events

    struct Event: Equatable {
        var wd: Int32
        var mask: UInt32
        var name: String
    }

    /// Splits what read(2) returned into events: a fixed 16-byte header (wd, mask, cookie, len)
    /// and `len` bytes of NUL-padded name.
    static func parse(_ bytes: [UInt8], count: Int) -> [Event] {
        bytes.withUnsafeBytes { raw in
            var events: [Event] = []
            var offset = 0
            while offset + 16 <= count {
                let wd = raw.loadUnaligned(fromByteOffset: offset, as: Int32.self)
                let mask = raw.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self)
                let length = Int(raw.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self))
                let end = min(offset + 16 + length, count)
                let name = String(decoding: raw[(offset + 16)..<end].prefix { $0 != 0 }, as: UTF8.self)
                events.append(Event(wd: wd, mask: mask, name: name))
                offset = end
            }
            return events
        }
    }

    private func handle(_ event: Event, into changed: inout [String]) throws(SourceWatchError) {
        if event.mask & UInt32(IN_Q_OVERFLOW) != 0 {
            // Events were lost: something changed, what is unknown.
            changed.append(root)
            return
        }
        if event.mask & UInt32(IN_IGNORED) != 0 {
            if watches.removeValue(forKey: event.wd) == root {
                Log.warning("reload: \(root) was removed or moved; no longer watching for changes")
            }
            return
        }
        guard let directory = watches[event.wd], !event.name.isEmpty else { return }
        let path = directory + "/" + event.name
        if event.mask & UInt32(IN_ISDIR) == 0 {
            if SourceFilter.isSourceFile(event.name) { changed.append(path) }
            return
        }
        guard !SourceFilter.skipsDirectory(event.name) else { return }
        if event.mask & UInt32(IN_CREATE | IN_MOVED_TO) != 0 {
            // Files may have landed in it before its watch existed: they count as changes.
            changed += try addTree(path)
        } else if event.mask & UInt32(IN_MOVED_FROM) != 0, unwatch(under: path) {
            // A package renamed or moved away. (A deleted one reports its files first.)
            changed.append(path)
        }
    }

    // MARK: Watches

    /// Watches `top` and every directory below it that the filter keeps; returns the source
    /// files found in them.
    private func addTree(_ top: String) throws(SourceWatchError) -> [String] {
        let room = limits.directories - watches.count
        guard room > 0 else {
            warnLimit()
            return []
        }
        // Only directories cost watches; every file found is reported.
        let walk = SourceTreeWalk(root: top, limits: .init(directories: room, files: .max))
        if walk.truncated { warnLimit() }
        for directory in walk.directories {
            let wd = inotify_add_watch(fd, directory, Self.mask)
            if wd >= 0 {
                watches[wd] = directory
                continue
            }
            switch errno {
            case ENOENT, ENOTDIR, EACCES, ELOOP:
                continue  // gone already, or not ours to read: nothing to watch there
            case ENOSPC:
                throw SourceWatchError("the inotify watch limit (fs.inotify.max_user_watches) is reached")
            default:
                throw SourceWatchError("inotify_add_watch \(directory): \(String(cString: strerror(errno)))")
            }
        }
        return walk.files
    }

    /// Drops the watches of `path` and below, whose paths are stale once it moved; returns
    /// whether there were any. A move back into the tree adds them again.
    private func unwatch(under path: String) -> Bool {
        let stale = watches.filter { $0.value == path || $0.value.hasPrefix(path + "/") }
        for wd in stale.keys {
            inotify_rm_watch(fd, wd)
            watches[wd] = nil
        }
        return !stale.isEmpty
    }

    private func warnLimit() {
        guard !warnedLimit else { return }
        warnedLimit = true
        Log.warning("reload: \(root) holds more than \(limits.directories) directories; watching only the first \(limits.directories)")
    }
}
#endif
