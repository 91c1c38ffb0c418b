#if canImport(Glibc)
import Glibc
#endif
import Reactor

/// `--reload`: watches the application's directory for changed `*.py` files and says when the
/// supervisor should reload, exactly as on SIGHUP. It lives in the supervisor, so it starts no
/// thread and no Python (see `Supervisor`): the supervisor asks `check(now:)` on its tick, and
/// wakes by `nextDeadline(now:)` at the latest.
///
/// inotify where the kernel has it (Linux); a polling scan where it does not, or once its
/// limits are reached. Bursts are debounced into one reload (`ChangeDebouncer`).
public final class SourceWatcher {
    /// The watched directory (absolute, symbolic links resolved).
    public let directory: String
    private let limits: SourceTreeWalk.Limits
    private var detector: any SourceChangeDetector
    private var debouncer = ChangeDebouncer()

    /// Starts watching `directory` (inotify unless `polling`).
    init(directory: String, limits: SourceTreeWalk.Limits = .init(), polling: Bool = false) {
        self.directory = directory
        self.limits = limits
        let now = monotonicMilliseconds()
        #if os(Linux)
        if !polling {
            do {
                detector = try InotifySourceTree(root: directory, limits: limits)
                return
            } catch {
                Log.warning("reload: cannot watch with inotify (\(error)); scanning instead")
            }
        }
        #endif
        detector = PolledSourceTree(root: directory, limits: limits, now: now)
    }

    /// How it watches, for the log.
    public var summary: String { detector.summary }

    /// Readable when a change is waiting (inotify); for a supervisor wait that polls
    /// descriptors. nil when polling.
    public var descriptor: Int32? { detector.descriptor }

    /// The latest time the supervisor should call `check(now:)`.
    public func nextDeadline(now: Int64) -> Int64 {
        min(detector.nextCheck(after: now), debouncer.deadline ?? .max)
    }

    /// What changed, e.g. "app.py changed", once a burst of changes has settled; nil otherwise.
    public func check(now: Int64) -> String? {
        do {
            debouncer.record(try detector.changes(now: now), at: now)
        } catch {
            Log.warning("reload: \(error); scanning \(directory) instead")
            detector.close()
            detector = PolledSourceTree(root: directory, limits: limits, now: now)
            // What happened while the watches failed is unknown: assume a change.
            debouncer.record([directory], at: now)
        }
        return debouncer.take(at: now).map(describe)
    }

    /// In a freshly forked worker: drops the worker's copy of the descriptor, which it never
    /// reads and which would keep the inotify instance alive after the supervisor closed it.
    public func closeAfterFork() {
        detector.close()
    }

    private func describe(_ burst: ChangeDebouncer.Burst) -> String {
        let first = burst.first == directory
            ? "files under \(directory)"
            : burst.first.hasPrefix(directory + "/") ? String(burst.first.dropFirst(directory.count + 1)) : burst.first
        let others = burst.count - 1
        return others == 0 ? "\(first) changed" : "\(first) and \(others) other file\(others == 1 ? "" : "s") changed"
    }
}

@available(*, unavailable)
extension SourceWatcher: Sendable {}
