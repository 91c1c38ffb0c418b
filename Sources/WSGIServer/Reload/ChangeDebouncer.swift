/// Turns a burst of file changes into one reload. An editor's save is several events (a write,
/// a rename, an attribute change, sometimes a backup file), and a `git checkout` is hundreds:
/// the reload waits until the tree has been quiet for `quiet` milliseconds, or at most
/// `longest` after the first change, so a tree that never stops changing still reloads.
/// Times are monotonic milliseconds; the caller does the I/O.
struct ChangeDebouncer: Sendable, Equatable {
    /// What a due reload reports: the first changed path and how many distinct paths changed.
    struct Burst: Sendable, Equatable {
        var first: String
        var count: Int
    }

    let quiet: Int64
    let longest: Int64
    private var paths: [String] = []
    private var firstAt: Int64 = 0
    private var lastAt: Int64 = 0

    init(quiet: Int64 = 250, longest: Int64 = 2000) {
        self.quiet = quiet
        self.longest = longest
    }

    /// Notes changes seen at `now` (nothing when `changed` is empty).
    mutating func record(_ changed: [String], at now: Int64) {
        guard !changed.isEmpty else { return }
        if paths.isEmpty { firstAt = now }
        lastAt = now
        for path in changed where !paths.contains(path) && paths.count < 1000 {
            paths.append(path)
        }
    }

    /// When the pending burst is due, or nil when nothing is pending.
    var deadline: Int64? {
        paths.isEmpty ? nil : min(lastAt + quiet, firstAt + longest)
    }

    /// The burst, if it is due at `now`; it is then forgotten.
    mutating func take(at now: Int64) -> Burst? {
        guard let deadline, now >= deadline else { return nil }
        defer { paths.removeAll() }
        return Burst(first: paths[0], count: paths.count)
    }
}
