import CPythonShim
import Synchronization

/// Python objects whose last reference is dropped off a thread that may not hold the GIL (the
/// server thread, done writing a lent `bytes` body): queued here, and released by a worker the
/// next time it holds the GIL, before each request and before it waits for one.
final class PythonReleaseQueue: BodyReleaser {
    /// @unchecked Sendable: a reference in transit; only a worker holding the GIL uses it.
    private struct Reference: @unchecked Sendable { let object: OpaquePointer }

    private let pending = Mutex<[Reference]>([])
    private let count = Atomic<Int>(0)

    func release(_ token: OpaquePointer) {
        pending.withLock { $0.append(Reference(object: token)) }
        count.add(1, ordering: .releasing)
    }

    var hasPending: Bool { count.load(ordering: .acquiring) > 0 }

    /// Drops every queued reference. GIL held. One at a time, so the queue keeps its storage
    /// and neither side allocates once it has grown (a lent body is 32 KiB or more: a lock per
    /// body is nothing next to sending it).
    func drainHoldingGIL() {
        while hasPending {
            guard let reference = pending.withLock({ $0.popLast() }) else { return }
            count.subtract(1, ordering: .releasing)
            YPy_DecRef(reference.object)
        }
    }
}
