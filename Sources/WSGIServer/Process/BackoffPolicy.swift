/// When to start a worker again after it died. A worker that served for a while and then died is
/// replaced at once; one that keeps dying at start (it never became ready, or lived less than
/// `stableAfter`) is restarted after a delay that doubles each time, up to `maximumDelay`,
/// forever: the supervisor never gives up on a worker, it only slows down (and logs every try).
public struct BackoffPolicy: Sendable, Equatable {
    /// The delay after the second failed start in a row (the first is retried at once).
    public var initialDelay: Double
    public var maximumDelay: Double
    /// A worker that became ready and lived at least this long did not fail at start.
    public var stableAfter: Double

    public init(initialDelay: Double = 0.25, maximumDelay: Double = 30, stableAfter: Double = 1) {
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
        self.stableAfter = stableAfter
    }

    /// Whether a death counts as a failed start.
    public func isFailedStart(lifetime: Double, becameReady: Bool) -> Bool {
        !becameReady || lifetime < stableAfter
    }

    /// Seconds to wait before the next start, after `failures` failed starts in a row.
    public func delay(afterFailedStarts failures: Int) -> Double {
        guard failures >= 2 else { return 0 }
        // 2^(failures-2), with the exponent bounded so the arithmetic never overflows.
        let doublings = min(failures - 2, 62)
        return min(maximumDelay, initialDelay * Double(1 << doublings))
    }
}
