#if canImport(Glibc)
import Glibc
#endif

/// The supervisor's view of one live worker process.
struct WorkerRecord {
    let pid: pid_t
    let number: Int
    let generation: Int
    let slotIndex: Int
    /// Monotonic milliseconds.
    let startedAt: Int64
    var ready = false
    /// Told to stop, or stopping on its own (recycling): no longer counts as the worker with its
    /// number, so a replacement may start; its exit is expected.
    var retiring = false
    /// SIGKILL if still alive at this monotonic millisecond.
    var killDeadline: Int64?
    var killed = false
    /// Why the supervisor killed it ("request timeout"), for the exit's log line.
    var killReason: String?

    /// "worker 2 (pid 1234)", with the generation when it is not the current one.
    func name(currentGeneration: Int) -> String {
        generation == currentGeneration
            ? "worker \(number) (pid \(pid))"
            : "worker \(number) (pid \(pid), generation \(generation))"
    }
}
