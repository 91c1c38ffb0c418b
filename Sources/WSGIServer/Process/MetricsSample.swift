import CProcessShim

/// One worker's `--metrics-bind` figures, as read from its scoreboard slot, or the sum over
/// several workers (what a scrape reports).
struct MetricsSample: Equatable, Sendable {
    /// "1xx"..."5xx", then "other" (600-999, which an application may send).
    static let statusClasses = ["1xx", "2xx", "3xx", "4xx", "5xx", "other"]
    /// Upper bounds of the duration buckets, in microseconds (the last bucket is +Inf).
    static let durationBounds: [UInt64] = (0..<Int(CPROC_DURATION_BOUNDS)).map { CProc_duration_bound_us(Int32($0)) }

    /// Responses per status class, indexed as `statusClasses`.
    var responses = [UInt64](repeating: 0, count: statusClasses.count)
    /// Responses per duration bucket (not cumulative), one more than `durationBounds`.
    var durationBuckets = [UInt64](repeating: 0, count: durationBounds.count + 1)
    var durationSumMicroseconds: UInt64 = 0
    var connectionsOpen = 0
    var requestsInFlight = 0
    var queueDepth = 0

    init() {}

    init(_ raw: CProcMetrics) {
        responses = Self.values(of: raw.responses, count: responses.count)
        durationBuckets = Self.values(of: raw.duration_buckets, count: durationBuckets.count)
        durationSumMicroseconds = raw.duration_sum_us
        connectionsOpen = Int(raw.connections_open)
        requestsInFlight = Int(raw.requests_in_flight)
        queueDepth = Int(raw.queue_depth)
    }

    /// Every observation lands in exactly one bucket.
    var durationCount: UInt64 { durationBuckets.reduce(0, &+) }

    /// Adds the counters of `other` (a live worker's, or an exited one's, which keep counting
    /// towards the totals).
    mutating func addCounters(of other: MetricsSample) {
        for i in responses.indices { responses[i] &+= other.responses[i] }
        for i in durationBuckets.indices { durationBuckets[i] &+= other.durationBuckets[i] }
        durationSumMicroseconds &+= other.durationSumMicroseconds
    }

    /// Adds the gauges of `other` (live workers only: an exited worker has nothing open).
    mutating func addGauges(of other: MetricsSample) {
        connectionsOpen += other.connectionsOpen
        requestsInFlight += other.requestsInFlight
        queueDepth += other.queueDepth
    }

    /// The C struct's fixed arrays arrive as tuples of UInt64.
    private static func values<T>(of tuple: T, count: Int) -> [UInt64] {
        withUnsafeBytes(of: tuple) { raw in
            precondition(raw.count == count * MemoryLayout<UInt64>.stride, "C array size mismatch")
            return (0..<count).map { raw.load(fromByteOffset: $0 * MemoryLayout<UInt64>.stride, as: UInt64.self) }
        }
    }
}
