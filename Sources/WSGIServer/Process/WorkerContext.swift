#if canImport(Glibc)
import Glibc
#endif
import Reactor

/// What a worker process is told by the supervisor that forked it: who it is, which listening
/// sockets to accept on, and how to report back. Handed to the executable's worker function,
/// which builds the server (and, with the WSGI bridge, initialises Python: nothing of Python
/// exists in the supervisor, so each worker starts it fresh).
public struct WorkerContext: Sendable {
    /// 1...processes; a replacement keeps the number of the worker it replaces.
    public let number: Int
    /// Bumped by each reload (SIGHUP).
    public let generation: Int
    /// How many workers the supervisor runs (wsgi.multiprocess is `processes > 1`).
    public let processes: Int
    public let listeners: [ListeningSocket]
    /// This worker's `--max-requests`, jitter applied; 0: unlimited.
    public let maxRequests: Int
    let slot: ScoreboardSlot
    let supervisorPID: pid_t
    /// `--timeout` is on: publish the oldest request in flight for the watchdog.
    let watchdog: Bool
    /// `--metrics-bind` is on: keep this worker's metrics in its slot.
    let metrics: Bool

    public var multiprocess: Bool { processes > 1 }

    /// Hands the inherited listening sockets to `server` (shared with the other workers) and
    /// wires up request counting for `--max-requests`, the `--timeout` watchdog and the
    /// `--metrics-bind` counters (the WSGI handler's queue depth included).
    /// `busyThreshold`: with this many requests in flight the worker leaves new connections to
    /// the other workers (the handler's thread count; 0 for a handler that never blocks).
    public func attach(_ server: HTTPServer, busyThreshold: Int = 0) throws(SyscallError) {
        if multiprocess {
            server.acceptBatch = 1
            server.busyThreshold = busyThreshold
        }
        try server.adopt(listeners, shared: true)
        server.maxRequests = maxRequests
        server.scoreboard = slot
        server.publishesOldestRequest = watchdog
        if metrics {
            server.metrics = slot
            (server.handler as? WSGIHandler)?.publishQueueDepth(to: slot)
        }
        let slot = slot
        let supervisor = supervisorPID
        server.onRecycle = {
            // The supervisor starts the replacement now instead of when this process exits.
            slot.state = .recycling
            kill(supervisor, SIGUSR1)
        }
    }

    /// The worker accepts connections from now on; the supervisor counts it as started (a
    /// reload waits for this before it stops the old workers).
    public func reportReady() {
        slot.state = .ready
        kill(supervisorPID, SIGUSR1)
    }
}
