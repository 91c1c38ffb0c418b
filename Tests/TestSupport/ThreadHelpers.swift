#if canImport(Glibc)
import Glibc
#endif
import Synchronization

// Thread helpers shared by every Swift test target: real pthreads and bounded waits, so a test
// can block a thread (as a worker would) without starving Swift's cooperative pool.

/// A value handed back from another thread.
public final class Box<Value: Sendable>: Sendable {
    private let storage: Mutex<Value?> = Mutex(nil)
    public init() {}
    public var value: Value? { storage.withLock { $0 } }
    public func set(_ value: Value) { storage.withLock { $0 = value } }
}

/// A flag shared with another thread.
public final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    public init() {}
    public var isSet: Bool { value.load(ordering: .acquiring) }
    public func set() { value.store(true, ordering: .releasing) }
}

/// A counter shared between threads.
public final class Counter: Sendable {
    private let value = Atomic<Int>(0)
    public init() {}
    public var current: Int { value.load(ordering: .acquiring) }
    public func increment() { value.add(1, ordering: .acquiringAndReleasing) }
}

/// A plain pthread, so a test can block a real thread without starving Swift's cooperative pool.
public final class TestThread: Sendable {
    private final class Start {
        let body: @Sendable () -> Void
        let finished: Flag
        init(body: @escaping @Sendable () -> Void, finished: Flag) {
            self.body = body
            self.finished = finished
        }
    }

    private let finished = Flag()
    private let thread: pthread_t

    public init(_ body: @escaping @Sendable () -> Void) {
        // Unmanaged: the start context crosses pthread_create as a void*; the thread releases it.
        let context = Unmanaged.passRetained(Start(body: body, finished: finished)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            let start = Unmanaged<Start>.fromOpaque(raw!).takeRetainedValue()
            start.body()
            start.finished.set()
            return nil
        }, context)
        precondition(rc == 0, "pthread_create: \(rc)")
        self.thread = thread
    }

    public var isFinished: Bool { finished.isSet }

    /// Waits at most `timeoutMilliseconds` for the thread to end; false if it is still running
    /// (it is then left behind, and the test that asked has failed).
    public func join(timeoutMilliseconds: Int64 = 5000) -> Bool {
        guard waitUntil(timeoutMilliseconds: timeoutMilliseconds, { finished.isSet }) else { return false }
        pthread_join(thread, nil)
        return true
    }
}

/// Polls `condition` every millisecond for at most `timeoutMilliseconds`; true once it holds.
public func waitUntil(timeoutMilliseconds: Int64, _ condition: () -> Bool) -> Bool {
    let deadline = monotonicNow() + timeoutMilliseconds
    while !condition() {
        if monotonicNow() >= deadline { return condition() }
        usleep(1000)
    }
    return true
}

public func monotonicNow() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}

public func sleepMilliseconds(_ ms: Int) {
    usleep(UInt32(ms * 1000))
}
