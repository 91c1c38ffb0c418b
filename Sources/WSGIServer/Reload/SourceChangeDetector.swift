/// One way of noticing that source files changed: inotify where the kernel has it, a periodic
/// scan of modification times everywhere. `SourceWatcher` asks it at the supervisor's tick and
/// does the debouncing. Times are monotonic milliseconds.
protocol SourceChangeDetector: AnyObject {
    /// How it is watching, for the log ("inotify, 12 directories").
    var summary: String { get }
    /// A descriptor that becomes readable when something changed, for a wait that can watch
    /// descriptors; nil when only asking at `nextCheck` will do.
    var descriptor: Int32? { get }
    /// When it wants to be asked again, nothing else having happened.
    func nextCheck(after now: Int64) -> Int64
    /// The source files created, modified, removed or renamed since the last call (absolute
    /// paths; the root itself when it only knows that something changed). Throws when it can
    /// no longer watch, e.g. past the kernel's inotify limits.
    func changes(now: Int64) throws(SourceWatchError) -> [String]
    /// Releases its descriptor: a forked worker's copy has no use for it.
    func close()
}

/// Why a detector cannot watch (any more); the watcher falls back to polling.
struct SourceWatchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
