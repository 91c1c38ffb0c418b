import Reactor
import Testing

/// A wheel driven by explicit time: `advance` moves the clock one millisecond at a time, as a
/// loop that polls often would, and records when each timer fired.
private struct Harness {
    static let tick: Int64 = 10
    static let slots = 8  // span: 80 ms

    var wheel: TimerWheel
    var now: Int64
    private var names: [ObjectIdentifier: String] = [:]
    private(set) var fired: [(name: String, at: Int64)] = []

    init(now: Int64 = 0) {
        self.now = now
        wheel = TimerWheel(slotCount: Self.slots, tickMilliseconds: Self.tick, now: now)
    }

    mutating func timer(_ name: String) -> Timer {
        let timer = Timer()
        names[ObjectIdentifier(timer)] = name
        return timer
    }

    mutating func advance(to time: Int64) {
        var due: [Timer] = []
        while now < time {
            now += 1
            wheel.collectExpired(now: now, into: &due)
            for timer in due { fired.append((names[ObjectIdentifier(timer)] ?? "?", now)) }
            due.removeAll()
        }
    }

    /// When `name` fired, in order (empty if never).
    func firings(of name: String) -> [Int64] {
        fired.filter { $0.name == name }.map(\.at)
    }
}

struct TimerWheelTests {
    @Test func timersFireInDeadlineOrder() {
        var h = Harness()
        let late = h.timer("late"), early = h.timer("early"), middle = h.timer("middle")
        h.wheel.arm(late, deadline: 50)
        h.wheel.arm(early, deadline: 20)
        h.wheel.arm(middle, deadline: 35)
        h.advance(to: 200)
        #expect(h.fired.map(\.name) == ["early", "middle", "late"])
        #expect(!late.isArmed && !early.isArmed && !middle.isArmed)
    }

    /// Never early, at most one tick late, exactly once; deadlines well past the wheel's span
    /// (80 ms here) included.
    @Test(arguments: [0, 1, 9, 10, 11, 35, 79, 80, 81, 85, 160, 165, 799, 800, 1234] as [Int64])
    func timerFiresOnceWithinOneTickOfItsDeadline(deadline: Int64) {
        var h = Harness()
        let t = h.timer("t")
        h.wheel.arm(t, deadline: deadline)
        h.advance(to: deadline + 500)
        let firings = h.firings(of: "t")
        #expect(firings.count == 1)
        if let at = firings.first {
            #expect(at >= deadline)
            #expect(at <= max(deadline, 1) + Harness.tick)
        }
    }

    @Test func timerOnATickBoundaryFiresExactlyThen() {
        var h = Harness()
        let t = h.timer("t")
        h.wheel.arm(t, deadline: 240)  // three turns of the wheel away
        h.advance(to: 1000)
        #expect(h.firings(of: "t") == [240])
    }

    @Test func largeJumpOfTimeFiresEverythingDueAndNothingElse() {
        var h = Harness()
        let due = h.timer("due"), notDue = h.timer("notDue")
        h.wheel.arm(due, deadline: 300)
        h.wheel.arm(notDue, deadline: 1_500)
        var expired: [Timer] = []
        h.wheel.collectExpired(now: 1_000, into: &expired)
        #expect(expired.count == 1 && expired.first === due)
        #expect(notDue.isArmed)
        expired.removeAll()
        h.wheel.collectExpired(now: 1_499, into: &expired)
        #expect(expired.isEmpty)
        h.wheel.collectExpired(now: 1_510, into: &expired)
        #expect(expired.count == 1 && expired.first === notDue)
    }

    @Test func cancelPreventsFiring() {
        var h = Harness()
        let t = h.timer("t"), other = h.timer("other")
        h.wheel.arm(t, deadline: 30)
        h.wheel.arm(other, deadline: 30)
        h.advance(to: 10)
        h.wheel.cancel(t)
        #expect(!t.isArmed)
        h.advance(to: 500)
        #expect(h.firings(of: "t").isEmpty)
        #expect(h.firings(of: "other").count == 1)
    }

    @Test func cancelThenRearmFiresOnceAtTheNewDeadline() {
        var h = Harness()
        let t = h.timer("t")
        h.wheel.arm(t, deadline: 30)
        h.wheel.cancel(t)
        h.wheel.arm(t, deadline: 30)
        h.advance(to: 500)
        #expect(h.firings(of: "t") == [30])
    }

    @Test func rearmLaterFiresOnlyAtTheNewDeadline() {
        var h = Harness()
        let t = h.timer("t")
        h.wheel.arm(t, deadline: 30)
        h.advance(to: 10)
        h.wheel.arm(t, deadline: 70)
        #expect(t.deadline == 70)
        h.advance(to: 500)
        #expect(h.firings(of: "t") == [70])
    }

    @Test func rearmLaterPastTheSpanFiresOnlyAtTheNewDeadline() {
        var h = Harness()
        let t = h.timer("t")
        h.wheel.arm(t, deadline: 30)
        h.advance(to: 25)
        h.wheel.arm(t, deadline: 250)
        h.advance(to: 1000)
        #expect(h.firings(of: "t") == [250])
    }

    @Test func rearmEarlierFiresOnceAtTheEarlierDeadline() {
        var h = Harness()
        let t = h.timer("t")
        h.wheel.arm(t, deadline: 70)
        h.wheel.arm(t, deadline: 30)
        h.advance(to: 500)
        #expect(h.firings(of: "t") == [30])
    }

    /// Earlier, then a bit later again: still one entry that counts, at the last deadline.
    @Test func rearmEarlierThenLaterFiresOnceAtTheLastDeadline() {
        var h = Harness()
        let t = h.timer("t")
        h.wheel.arm(t, deadline: 70)
        h.wheel.arm(t, deadline: 30)
        h.wheel.arm(t, deadline: 50)
        h.advance(to: 500)
        #expect(h.firings(of: "t") == [50])
    }

    /// A target re-arms its timer after it fired (the usual connection pattern); the entry left
    /// from an earlier, longer arming must not fire it a second time.
    @Test func timerRearmedAfterFiringFiresAgainOnlyOnce() {
        var h = Harness()
        let t = h.timer("t")
        h.wheel.arm(t, deadline: 70)
        h.wheel.arm(t, deadline: 30)
        h.advance(to: 30)
        #expect(h.firings(of: "t") == [30])
        h.wheel.arm(t, deadline: 70)
        h.advance(to: 500)
        #expect(h.firings(of: "t") == [30, 70])
    }

    @Test func armedCountFollowsArmCancelAndFire() {
        var h = Harness()
        let a = h.timer("a"), b = h.timer("b"), c = h.timer("c")
        #expect(h.wheel.armedCount == 0)
        h.wheel.arm(a, deadline: 20)
        h.wheel.arm(b, deadline: 40)
        h.wheel.arm(c, deadline: 60)
        #expect(h.wheel.armedCount == 3)
        h.wheel.arm(b, deadline: 10)  // re-arming is not a new timer
        h.wheel.arm(c, deadline: 90)
        #expect(h.wheel.armedCount == 3)
        h.wheel.cancel(c)
        h.wheel.cancel(c)  // cancelling twice counts once
        #expect(h.wheel.armedCount == 2)
        h.advance(to: 10)
        #expect(h.wheel.armedCount == 1)
        h.advance(to: 20)
        #expect(h.wheel.armedCount == 0)
        h.wheel.cancel(a)  // cancelling a fired timer changes nothing
        #expect(h.wheel.armedCount == 0)
    }

    @Test func pollTimeoutIsMinusOneWhenNothingIsArmed() {
        var h = Harness()
        #expect(h.wheel.pollTimeout(now: 3) == -1)
        let t = h.timer("t")
        h.wheel.arm(t, deadline: 1000)
        #expect(h.wheel.pollTimeout(now: 3) == 7)  // until the next tick
        h.advance(to: 25)
        #expect(h.wheel.pollTimeout(now: 25) == 5)
        #expect(h.wheel.pollTimeout(now: 90) == 0)  // behind: never negative
        h.wheel.cancel(t)
        #expect(h.wheel.pollTimeout(now: 25) == -1)
    }

    /// After a long stretch with nothing armed, a new timer is neither fired at once nor lost.
    @Test func timerArmedAfterALongIdleStretchFiresOnTime() {
        var h = Harness()
        var none: [Timer] = []
        h.wheel.collectExpired(now: 1_000_000, into: &none)
        h.now = 1_000_000
        let t = h.timer("t")
        h.wheel.arm(t, deadline: 1_000_050)
        h.advance(to: 1_001_000)
        #expect(h.firings(of: "t") == [1_000_050])
    }

    /// The loop may arm before it has collected for a long blocked stretch.
    @Test func timerArmedBeforeTheWheelCatchesUpFiresOnTime() {
        var h = Harness()
        h.now = 10_000  // the wheel is still at 0
        let t = h.timer("t")
        h.wheel.arm(t, deadline: 10_035)
        h.advance(to: 11_000)
        let firings = h.firings(of: "t")
        #expect(firings.count == 1)
        #expect((firings.first ?? 0) >= 10_035 && (firings.first ?? 0) <= 10_045)
    }
}
