import CProcessShim

/// Per-worker facts in memory shared by the supervisor and every worker: whether the worker is
/// ready, how many requests it served, when its oldest request in flight started (for the
/// stuck-request watchdog, `--timeout`), and its `--metrics-bind` counters and gauges. Mapped
/// once by the supervisor before any fork, so every worker inherits the same pages; never
/// unmapped.
final class Scoreboard: @unchecked Sendable {
    // @unchecked Sendable: the mapping never moves or goes away, and each slot is touched only
    // through the atomic accessors of ScoreboardSlot.
    let count: Int
    private let base: UnsafeMutablePointer<CProcSlot>

    init?(slots count: Int) {
        guard let base = CProc_scoreboard_create(Int32(count)) else { return nil }
        self.base = base
        self.count = count
    }

    subscript(index: Int) -> ScoreboardSlot {
        precondition(index >= 0 && index < count, "scoreboard slot \(index) out of range")
        // The C side indexes: it knows the slot's padded size.
        return ScoreboardSlot(pointer: CProc_scoreboard_slot(base, Int32(index)))
    }
}

/// One worker's slot. The worker's server thread writes it with plain atomic stores (no system
/// calls, nothing on the request path that could block); the supervisor reads it once a second.
public struct ScoreboardSlot: @unchecked Sendable {
    // @unchecked Sendable: a pointer into the shared mapping, accessed only with C11 atomics.
    let pointer: UnsafeMutablePointer<CProcSlot>

    public enum State: UInt32, Sendable {
        /// Forked, not serving yet (loading the application).
        case starting = 0
        /// Accepting connections.
        case ready = 1
        /// Reached --max-requests and draining; the supervisor starts its replacement at once.
        case recycling = 2
    }

    var state: State {
        get { State(rawValue: CProc_slot_state(pointer)) ?? .starting }
        nonmutating set { CProc_slot_set_state(pointer, newValue.rawValue) }
    }

    var served: UInt64 { CProc_slot_served(pointer) }

    func reset() { CProc_slot_reset(pointer) }

    func addServed(_ count: UInt64) { CProc_slot_add_served(pointer, count) }

    /// The oldest request in flight started at `start` (monotonic ms); `line` is "GET /path".
    func setOldestRequest(start: Int64, line: UnsafeRawBufferPointer) {
        CProc_slot_set_request(pointer, start, line.baseAddress, line.count)
    }

    func clearRequest() {
        CProc_slot_set_request(pointer, 0, nil, 0)
    }

    // MARK: Metrics (--metrics-bind)

    /// A response went out: its status class, its duration bucket and the duration sum. Server
    /// thread only (single writer: plain loads and stores, no locked instruction).
    func recordResponse(status: Int, durationMicroseconds: UInt64) {
        CProc_slot_record_response(pointer, Int32(truncatingIfNeeded: status), durationMicroseconds)
    }

    /// Server thread only.
    func setConnectionsOpen(_ value: Int) { CProc_slot_set_connections_open(pointer, Int64(value)) }

    /// Server thread only.
    func setRequestsInFlight(_ value: Int) { CProc_slot_set_requests_in_flight(pointer, Int64(value)) }

    /// Any thread, under the lock that orders the queue's changes.
    func setQueueDepth(_ value: Int) { CProc_slot_set_queue_depth(pointer, Int64(value)) }

    /// The slot's metrics as they are now (the supervisor's read).
    func readMetrics() -> MetricsSample {
        var raw = CProcMetrics()
        CProc_slot_read_metrics(pointer, &raw)
        return MetricsSample(raw)
    }

    /// The oldest request in flight, or nil when the worker is idle.
    func oldestRequest() -> (start: Int64, line: String)? {
        var start: Int64 = 0
        var bytes = [UInt8](repeating: 0, count: Int(CPROC_DESCRIPTION_MAX))
        let n = bytes.withUnsafeMutableBytes { raw in
            CProc_slot_read_request(pointer, &start, raw.baseAddress!.assumingMemoryBound(to: CChar.self), raw.count)
        }
        guard start != 0 else { return nil }
        return (start, String(decoding: bytes.prefix(n), as: UTF8.self))
    }
}
