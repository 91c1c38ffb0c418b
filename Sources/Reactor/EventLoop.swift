#if canImport(Glibc)
import Glibc
#endif
import CEpollShim
import Synchronization

/// Receives readiness for one registered descriptor. Called on the loop thread.
public protocol EventHandler: AnyObject {
    func handleEvents(_ events: IOEvents)
}

/// Work posted to the loop from any thread (or deferred on it). Objects, not closures, so a
/// connection can post itself without allocating.
public protocol LoopTask: AnyObject, Sendable {
    func runOnLoop()
}

/// One thread's reactor: a readiness backend, a handler table indexed by fd, a timer wheel and
/// a cross-thread task queue with an eventfd wake-up.
///
/// The backend is held as an existential: `poll` is called once per batch of events, not per
/// event, and keeping the loop non-generic keeps every connection type non-generic too.
public final class EventLoop: @unchecked Sendable {
    // @unchecked Sendable: only `post`, `stop` and `isInLoopThread` are called off the loop
    // thread; they touch `incoming`, `sleeping`, `stopRequested` and `wakeFD`, all synchronised.

    private struct Slot {
        var id: UInt32 = 0
        var handler: EventHandler?
    }

    public let backend: any ReadinessBackend
    public var timers: TimerWheel
    /// Monotonic time cached once per iteration; handlers use it for deadlines.
    public private(set) var now: Int64
    /// Counts `runOnce` calls: an object released in an earlier iteration is no longer on any
    /// call stack of the loop (see `HTTPServer`'s connection pool).
    public private(set) var iteration: UInt64 = 0

    private var slots: [Slot] = []
    private var nextID: UInt32 = 1
    private var events: [ReadyEvent] = []
    private var deferred: [LoopTask] = []
    private var running: [LoopTask] = []
    private var expired: [Timer] = []
    private let incoming = Mutex<[LoopTask]>([])
    private let hasIncoming = Atomic<Bool>(false)
    private let sleeping = Atomic<Bool>(false)
    private let wakePending = Atomic<Bool>(false)
    private let stopRequested = Atomic<Bool>(false)
    private let wakeFD: Int32
    private var loopThread: pthread_t?

    public init(backend: any ReadinessBackend) throws(SyscallError) {
        self.backend = backend
        now = monotonicMilliseconds()
        timers = TimerWheel(now: now)
        wakeFD = try retryingBlocking("eventfd") { CEpoll_eventfd() }
        events.reserveCapacity(256)
        try backend.register(fd: wakeFD, id: 0, interest: .readable)
    }

    deinit {
        backend.close()
        closeDescriptor(wakeFD)
    }

    // MARK: Registration (loop thread)

    /// Registers `fd`; returns the registration id reported with its events.
    @discardableResult
    public func register(fd: Int32, handler: EventHandler, interest: IOEvents) throws(SyscallError) -> UInt32 {
        let index = Int(fd)
        if index >= slots.count {
            slots.append(contentsOf: repeatElement(Slot(), count: max(index + 1, slots.count * 2) - slots.count))
        }
        let id = nextID
        nextID = nextID == UInt32.max ? 1 : nextID + 1
        try backend.register(fd: fd, id: id, interest: interest)
        slots[index] = Slot(id: id, handler: handler)
        return id
    }

    public func reregister(fd: Int32, interest: IOEvents) throws(SyscallError) {
        try backend.reregister(fd: fd, id: slots[Int(fd)].id, interest: interest)
    }

    /// Tells the backend the handler drained `events` on `fd` (see `ReadinessBackend.rearm`).
    @inline(__always)
    public func rearm(fd: Int32, events: IOEvents) {
        backend.rearm(fd: fd, events: events)
    }

    /// Forgets `fd`; call before closing it. Events already fetched for it are dropped.
    /// `closing`: the fd is closed right after and shared with no other descriptor or process
    /// (an accepted connection), so the backend may leave the removal to close(2).
    public func deregister(fd: Int32, closing: Bool = false) {
        let index = Int(fd)
        guard index < slots.count, slots[index].handler != nil else { return }
        // A failure here means the fd is already gone from the set; nothing to undo.
        if closing {
            try? backend.deregisterBeforeClose(fd: fd)
        } else {
            try? backend.deregister(fd: fd)
        }
        slots[index] = Slot()
    }

    // MARK: Tasks

    /// Runs `task` on the loop thread after the current batch of events (loop thread only).
    public func deferTask(_ task: LoopTask) {
        deferred.append(task)
    }

    /// Runs `task` on the loop thread soon; safe from any thread. Costs a syscall only when the
    /// loop is asleep in the backend and no wake-up is already on its way.
    public func post(_ task: LoopTask) {
        incoming.withLock { $0.append(task) }
        hasIncoming.store(true, ordering: .sequentiallyConsistent)
        wakeIfSleeping()
    }

    private func wakeIfSleeping() {
        guard sleeping.load(ordering: .sequentiallyConsistent) else { return }
        if !wakePending.exchange(true, ordering: .acquiringAndReleasing) {
            var one: UInt64 = 1
            _ = write(wakeFD, &one, 8)
        }
    }

    public func stop() {
        stopRequested.store(true, ordering: .sequentiallyConsistent)
        if !wakePending.exchange(true, ordering: .acquiringAndReleasing) {
            var one: UInt64 = 1
            _ = write(wakeFD, &one, 8)
        }
    }

    public var isStopping: Bool { stopRequested.load(ordering: .relaxed) }

    public var isInLoopThread: Bool {
        guard let loopThread else { return false }
        return pthread_equal(loopThread, pthread_self()) != 0
    }

    // MARK: Running

    /// Runs until `stop()`.
    public func run() throws(SyscallError) {
        loopThread = pthread_self()
        while !stopRequested.load(ordering: .relaxed) {
            try runOnce()
        }
    }

    /// One iteration: wait for events (or tasks, or the next timer tick), dispatch, run tasks.
    public func runOnce(maximumWaitMilliseconds: Int32 = -1) throws(SyscallError) {
        if loopThread == nil { loopThread = pthread_self() }
        iteration &+= 1
        var timeout = timers.pollTimeout(now: now)
        if maximumWaitMilliseconds >= 0 && (timeout < 0 || timeout > maximumWaitMilliseconds) {
            timeout = maximumWaitMilliseconds
        }
        // Announce sleep before re-checking the queue: a poster that enqueues after our check
        // sees `sleeping` and writes the eventfd (both sides use sequentially consistent ops).
        sleeping.store(true, ordering: .sequentiallyConsistent)
        if hasIncoming.load(ordering: .sequentiallyConsistent) || !deferred.isEmpty
            || stopRequested.load(ordering: .sequentiallyConsistent) {
            timeout = 0
        }
        events.removeAll(keepingCapacity: true)
        defer { sleeping.store(false, ordering: .sequentiallyConsistent) }
        try backend.poll(timeoutMilliseconds: timeout, into: &events)
        now = monotonicMilliseconds()

        for event in events {
            if event.fd == wakeFD && event.registrationID == 0 {
                drainWakeFD()
                continue
            }
            let index = Int(event.fd)
            guard index < slots.count, slots[index].id == event.registrationID,
                  let handler = slots[index].handler else { continue }  // stale: fd closed or reused
            handler.handleEvents(event.events)
        }
        runTasks()
        timers.collectExpired(now: now, into: &expired)
        for timer in expired where !timer.isArmed {
            timer.target?.timerFired(timer)
        }
        expired.removeAll(keepingCapacity: true)
        runTasks()
    }

    private func drainWakeFD() {
        var value: UInt64 = 0
        _ = read(wakeFD, &value, 8)
        wakePending.store(false, ordering: .sequentiallyConsistent)
        backend.rearm(fd: wakeFD, events: .readable)
    }

    private func runTasks() {
        if hasIncoming.load(ordering: .sequentiallyConsistent) {
            hasIncoming.store(false, ordering: .sequentiallyConsistent)
            incoming.withLock { queue in
                swap(&queue, &running)
            }
            for task in running { task.runOnLoop() }
            running.removeAll(keepingCapacity: true)
        }
        // Deferred tasks may defer more; run until the list settles.
        while !deferred.isEmpty {
            swap(&deferred, &running)
            for task in running { task.runOnLoop() }
            running.removeAll(keepingCapacity: true)
        }
    }
}
