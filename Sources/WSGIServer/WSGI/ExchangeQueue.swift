#if canImport(Glibc)
import Glibc
#endif

/// The hand-off from the server thread to the workers: a FIFO under a mutex and condition
/// variable. Waking signals only when a worker is actually waiting, so a busy pool costs the
/// server thread no wake-up syscall per request; `push(_:wake: false)` leaves the wake-up to one
/// `wakeForQueued()` per batch of pushes. With `--metrics-bind` its length is published as the
/// queue-depth gauge, stored under the mutex by whichever thread changed it.
final class ExchangeQueue: @unchecked Sendable {  // all mutable state is guarded by `mutex`
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var ring: [HTTPExchange?]
    private var head = 0
    private var count = 0
    private var waiting = 0
    private var closed = false
    private var depthGauge: ScoreboardSlot?

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
        ring = Array(repeating: nil, count: 64)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// Queues an exchange; false once the queue is closed. Never blocks for long. With `wake`
    /// false no waiting worker is signalled: the caller must call `wakeForQueued()` soon.
    func push(_ exchange: HTTPExchange, wake: Bool = true) -> Bool {
        pthread_mutex_lock(mutex)
        guard !closed else {
            pthread_mutex_unlock(mutex)
            return false
        }
        if count == ring.count { grow() }
        ring[(head + count) % ring.count] = exchange
        count += 1
        depthGauge?.setQueueDepth(count)
        let signal = wake && waiting > 0
        pthread_mutex_unlock(mutex)
        if signal { pthread_cond_signal(condition) }
        return true
    }

    /// Wakes as many waiting workers as there are queued exchanges (at most).
    func wakeForQueued() {
        pthread_mutex_lock(mutex)
        let wanted = min(count, waiting)
        pthread_mutex_unlock(mutex)
        for _ in 0..<wanted { pthread_cond_signal(condition) }
    }

    /// The next exchange, waiting for one; nil once the queue is closed and empty.
    func pop() -> HTTPExchange? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while count == 0 && !closed {
            waiting += 1
            pthread_cond_wait(condition, mutex)
            waiting -= 1
        }
        guard count > 0 else { return nil }
        let exchange = ring[head]
        ring[head] = nil
        head = (head + 1) % ring.count
        count -= 1
        depthGauge?.setQueueDepth(count)
        return exchange
    }

    /// Publishes the queue's length in `slot` from now on (`--metrics-bind`).
    func publishDepth(to slot: ScoreboardSlot) {
        pthread_mutex_lock(mutex)
        depthGauge = slot
        slot.setQueueDepth(count)
        pthread_mutex_unlock(mutex)
    }

    /// Workers asleep in `pop()`, or woken and not yet running.
    var waitingWorkers: Int {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return waiting
    }

    /// Refuses new exchanges; workers drain what is queued, then pop() returns nil.
    func close() {
        pthread_mutex_lock(mutex)
        closed = true
        pthread_mutex_unlock(mutex)
        pthread_cond_broadcast(condition)
    }

    private func grow() {
        var grown = [HTTPExchange?](repeating: nil, count: ring.count * 2)
        for offset in 0..<count { grown[offset] = ring[(head + offset) % ring.count] }
        ring = grown
        head = 0
    }
}
