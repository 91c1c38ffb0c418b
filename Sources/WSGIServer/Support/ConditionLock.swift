#if canImport(Glibc)
import Glibc
#endif

/// A pthread mutex with condition variables, for the few places where a worker thread must
/// block (waiting for request body bytes, for output to drain). Synchronization.Mutex has no
/// condition variable.
final class ConditionLock: @unchecked Sendable {
    // @unchecked Sendable: all state lives behind the pthread mutex it wraps.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let conditions: UnsafeMutablePointer<pthread_cond_t>
    let conditionCount: Int

    init(conditions count: Int) {
        // unsafe: pthread objects must not move in memory, so they live in manual allocations.
        mutex = .allocate(capacity: 1)
        conditions = .allocate(capacity: count)
        conditionCount = count
        pthread_mutex_init(mutex, nil)
        for i in 0..<count {
            var attr = pthread_condattr_t()
            pthread_condattr_init(&attr)
            pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
            pthread_cond_init(conditions + i, &attr)
            pthread_condattr_destroy(&attr)
        }
    }

    deinit {
        for i in 0..<conditionCount { pthread_cond_destroy(conditions + i) }
        pthread_mutex_destroy(mutex)
        conditions.deallocate()
        mutex.deallocate()
    }

    @inline(__always) func lock() { pthread_mutex_lock(mutex) }
    @inline(__always) func unlock() { pthread_mutex_unlock(mutex) }

    @inline(__always)
    func withLock<R>(_ body: () throws -> R) rethrows -> R {
        lock()
        defer { unlock() }
        return try body()
    }

    /// Waits on condition `index`; the caller holds the lock and re-checks its predicate.
    func wait(_ index: Int) {
        pthread_cond_wait(conditions + index, mutex)
    }

    /// Waits at most `milliseconds`; returns false on time-out.
    func wait(_ index: Int, milliseconds: Int) -> Bool {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        let total = Int(ts.tv_nsec) + (milliseconds % 1000) * 1_000_000
        ts.tv_sec += milliseconds / 1000 + total / 1_000_000_000
        ts.tv_nsec = total % 1_000_000_000
        return pthread_cond_timedwait(conditions + index, mutex, &ts) == 0
    }

    func signal(_ index: Int) { pthread_cond_signal(conditions + index) }
    func broadcast(_ index: Int) { pthread_cond_broadcast(conditions + index) }
}
