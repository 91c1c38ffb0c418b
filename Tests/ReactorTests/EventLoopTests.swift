#if canImport(Glibc)
import Glibc
#endif
import Reactor
import Synchronization
import Testing
import TestSupport

/// Appends to a shared log; safe from any thread.
final class EventLog: Sendable {
    private let entries = Mutex<[String]>([])
    func append(_ entry: String) { entries.withLock { $0.append(entry) } }
    var all: [String] { entries.withLock { $0 } }
}

/// A handler that records what it was told, and optionally does something on the loop.
final class RecordingHandler: EventHandler {
    private(set) var received: [IOEvents] = []
    var onEvent: ((IOEvents) -> Void)?

    init(onEvent: ((IOEvents) -> Void)? = nil) {
        self.onEvent = onEvent
    }

    func handleEvents(_ events: IOEvents) {
        received.append(events)
        onEvent?(events)
    }
}

final class ClosureTask: LoopTask {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    func runOnLoop() { body() }
}

/// A backend that reports exactly what the test scripts, so stale events can be staged.
final class ScriptedBackend: ReadinessBackend {
    let name = "scripted"
    private(set) var registered: [Int32: UInt32] = [:]
    var nextEvents: [ReadyEvent] = []

    func register(fd: Int32, id: UInt32, interest: IOEvents) { registered[fd] = id }
    func reregister(fd: Int32, id: UInt32, interest: IOEvents) { registered[fd] = id }
    func deregister(fd: Int32) { registered[fd] = nil }
    func poll(timeoutMilliseconds: Int32, into events: inout [ReadyEvent]) {
        events.append(contentsOf: nextEvents)
        nextEvents.removeAll()
    }
    func rearm(fd: Int32, events: IOEvents) {}
    func close() {}
}

struct EventLoopTests {
    private func makeLoop() throws -> EventLoop {
        try EventLoop(backend: EpollBackend())
    }

    @Test func handlerReceivesEventsForItsDescriptor() throws {
        let loop = try makeLoop()
        let pair = SocketPair()
        let handler = RecordingHandler()
        try loop.register(fd: pair.a, handler: handler, interest: .readable)

        try loop.runOnce(maximumWaitMilliseconds: 0)
        #expect(handler.received.isEmpty)

        pair.writeToA()
        try loop.runOnce(maximumWaitMilliseconds: 1000)
        #expect(handler.received == [.readable])

        try loop.reregister(fd: pair.a, interest: .writable)
        try loop.runOnce(maximumWaitMilliseconds: 1000)
        #expect(handler.received.last?.contains(.writable) == true)

        loop.deregister(fd: pair.a)
        pair.writeToA()
        try loop.runOnce(maximumWaitMilliseconds: 50)
        #expect(handler.received.count == 2)
    }

    /// The stale event is staged directly: registration 1 of fd 42 has ready data, fd 42 is
    /// closed and its number reused by registration 2 before the event is delivered.
    @Test func staleEventForAReusedDescriptorIsDropped() throws {
        let backend = ScriptedBackend()
        let loop = try EventLoop(backend: backend)
        let first = RecordingHandler()
        let second = RecordingHandler()
        let fd: Int32 = 42  // never touched: the scripted backend only records it

        let oldID = try loop.register(fd: fd, handler: first, interest: .readable)
        loop.deregister(fd: fd)
        #expect(backend.registered[fd] == nil)
        let newID = try loop.register(fd: fd, handler: second, interest: .readable)
        #expect(newID != oldID)
        #expect(backend.registered[fd] == newID)

        backend.nextEvents = [ReadyEvent(fd: fd, registrationID: oldID, events: .readable)]
        try loop.runOnce(maximumWaitMilliseconds: 0)
        #expect(first.received.isEmpty)
        #expect(second.received.isEmpty)

        backend.nextEvents = [ReadyEvent(fd: fd, registrationID: newID, events: .readable)]
        try loop.runOnce(maximumWaitMilliseconds: 0)
        #expect(first.received.isEmpty)
        #expect(second.received == [.readable])
    }

    @Test func eventsForUnknownDescriptorsAreIgnored() throws {
        let backend = ScriptedBackend()
        let loop = try EventLoop(backend: backend)
        let handler = RecordingHandler()
        let id = try loop.register(fd: 5, handler: handler, interest: .readable)
        loop.deregister(fd: 5)
        backend.nextEvents = [
            ReadyEvent(fd: 5, registrationID: id, events: .readable),  // deregistered
            ReadyEvent(fd: 6, registrationID: id, events: .readable),  // never registered
            ReadyEvent(fd: 100_000, registrationID: 1, events: .readable),  // past the table
        ]
        try loop.runOnce(maximumWaitMilliseconds: 0)
        #expect(handler.received.isEmpty)
    }

    /// The same with real sockets: inside one batch, the handler that runs first closes a
    /// descriptor whose event is later in the batch and reuses its number. epoll reports ready
    /// descriptors in the order they became ready, so the trigger is written first.
    @Test func staleEventInTheSameBatchIsDropped() throws {
        let loop = try makeLoop()
        let trigger = SocketPair()
        let victim = SocketPair()
        let replacement = SocketPair()
        let victimFD = victim.a
        let stale = RecordingHandler()
        let reused = RecordingHandler()
        let swapper = RecordingHandler { _ in
            loop.deregister(fd: victimFD)
            // dup2 closes the victim's socket and gives its number to the (idle) replacement.
            let rc = dup2(replacement.a, victimFD)
            precondition(rc == victimFD, "dup2: errno \(errno)")
            _ = try? loop.register(fd: victimFD, handler: reused, interest: .readable)
        }
        try loop.register(fd: trigger.a, handler: swapper, interest: .readable)
        try loop.register(fd: victimFD, handler: stale, interest: .readable)

        trigger.writeToA()
        victim.writeToA()
        try loop.runOnce(maximumWaitMilliseconds: 1000)

        #expect(swapper.received == [.readable])
        #expect(stale.received.isEmpty)
        #expect(reused.received.isEmpty)
    }

    @Test func postFromAnotherThreadWakesABlockedLoop() throws {
        let loop = try makeLoop()
        let ran = Flag()
        let poster = TestThread {
            sleepMilliseconds(50)
            loop.post(ClosureTask { ran.set() })
        }
        let start = monotonicNow()
        while !ran.isSet && monotonicNow() - start < 5000 {
            try loop.runOnce(maximumWaitMilliseconds: 5000)
        }
        let elapsed = monotonicNow() - start
        #expect(ran.isSet)
        #expect(elapsed < 2000, "woke after \(elapsed) ms")
        #expect(poster.join())
    }

    @Test func tasksPostedFromManyThreadsRunExactlyOnceOnTheLoopThread() throws {
        let loop = try makeLoop()
        let threads = 4
        let perThread = 500
        let total = Counter()
        let offLoop = Counter()
        let runs = (0..<threads * perThread).map { _ in Counter() }
        let tasks = runs.map { counter in
            ClosureTask {
                counter.increment()
                total.increment()
                if !loop.isInLoopThread { offLoop.increment() }
            }
        }
        let posters = (0..<threads).map { t in
            TestThread {
                for i in 0..<perThread { loop.post(tasks[t * perThread + i]) }
            }
        }
        let start = monotonicNow()
        while total.current < tasks.count && monotonicNow() - start < 5000 {
            try loop.runOnce(maximumWaitMilliseconds: 100)
        }
        for poster in posters { #expect(poster.join()) }
        try loop.runOnce(maximumWaitMilliseconds: 0)

        #expect(total.current == tasks.count)
        #expect(runs.allSatisfy { $0.current == 1 })
        #expect(offLoop.current == 0)
    }

    @Test func stopFromAnotherThreadEndsRun() throws {
        let loop = try makeLoop()
        let returned = Flag()
        let runner = TestThread {
            do {
                try loop.run()
            } catch {
                Issue.record("run failed: \(error)")
            }
            returned.set()
        }
        sleepMilliseconds(30)
        #expect(!returned.isSet)
        loop.stop()
        #expect(runner.join(timeoutMilliseconds: 2000))
        #expect(loop.isStopping)
    }

    @Test func isInLoopThreadIsFalseElsewhere() throws {
        let loop = try makeLoop()
        #expect(!loop.isInLoopThread)
        try loop.runOnce(maximumWaitMilliseconds: 0)
        #expect(loop.isInLoopThread)
        let elsewhere = Flag()
        let other = TestThread { if !loop.isInLoopThread { elsewhere.set() } }
        #expect(other.join())
        #expect(elsewhere.isSet)
    }

    @Test func deferredTasksRunAfterTheWholeBatch() throws {
        let loop = try makeLoop()
        let log = EventLog()
        let first = SocketPair()
        let second = SocketPair()
        let a = RecordingHandler { _ in
            log.append("handler")
            loop.deferTask(ClosureTask {
                log.append("deferred")
                loop.deferTask(ClosureTask { log.append("deferred by deferred") })
            })
        }
        let b = RecordingHandler { _ in log.append("handler") }
        try loop.register(fd: first.a, handler: a, interest: .readable)
        try loop.register(fd: second.a, handler: b, interest: .readable)
        first.writeToA()
        second.writeToA()

        try loop.runOnce(maximumWaitMilliseconds: 1000)
        #expect(log.all == ["handler", "handler", "deferred", "deferred by deferred"])
    }

    /// With no cap on the wait, the loop must still wake for an armed timer; it runs on its own
    /// thread so a loop that sleeps forever fails the test instead of hanging it.
    @Test func armedTimerFiresThroughTheLoop() throws {
        final class Target: TimerTarget, Sendable {
            let fired = Counter()
            let firedAt = Mutex<Int64>(0)
            func timerFired(_ timer: Timer) {
                fired.increment()
                firedAt.withLock { $0 = monotonicNow() }
            }
        }
        let loop = try makeLoop()
        let target = Target()
        let timer = Timer(target: target)
        let deadline = monotonicNow() + 30
        loop.timers.arm(timer, deadline: deadline)
        #expect(loop.timers.armedCount == 1)

        let runner = TestThread {
            while target.fired.current == 0 {
                _ = try? loop.runOnce()
            }
        }
        #expect(runner.join(timeoutMilliseconds: 2000))
        #expect(target.fired.current == 1)
        #expect(target.firedAt.withLock { $0 } >= deadline)
        #expect(!timer.isArmed)
        #expect(loop.timers.armedCount == 0)
    }

    /// An owner going away resets its timer's target; a deadline that then passes fires nothing.
    @Test func dueTimerWithoutTargetFiresNothing() throws {
        final class Target: TimerTarget, Sendable {
            let fired = Counter()
            func timerFired(_ timer: Timer) { fired.increment() }
        }
        let loop = try makeLoop()
        let target = Target()
        let timer = Timer(target: target)
        loop.timers.arm(timer, deadline: monotonicNow() + 10)
        timer.target = nil
        let deadline = monotonicNow() + 300
        while monotonicNow() < deadline && loop.timers.armedCount > 0 {
            try loop.runOnce(maximumWaitMilliseconds: 20)
        }
        #expect(loop.timers.armedCount == 0, "the deadline passed and the timer was collected")
        #expect(target.fired.current == 0)
    }
}
