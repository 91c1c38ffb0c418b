/// Something a timer can fire into. Called on the loop thread.
public protocol TimerTarget: AnyObject {
    func timerFired(_ timer: Timer)
}

/// One re-armable deadline, owned by its user (a connection keeps one for its whole life).
public final class Timer {
    /// unowned, not weak: a weak reference gives its target a side table, which sends every
    /// retain and release of that object (a connection: several per request) down the slow
    /// path. An owner that goes away while its timer may still be due sets this to nil first;
    /// a forgotten reset traps on the next fire instead of reading freed memory.
    public unowned(safe) var target: TimerTarget?
    /// Absolute deadline on the monotonic clock (ms); meaningful only while armed.
    public fileprivate(set) var deadline: Int64 = 0
    public fileprivate(set) var isArmed = false
    /// Bumped when a newer entry supersedes the one in the wheel, which then must not count.
    fileprivate var generation: UInt32 = 0
    /// Whether the wheel holds this timer's current entry, and the deadline it was filed under.
    fileprivate var hasEntry = false
    fileprivate var filedDeadline: Int64 = 0

    public init(target: TimerTarget? = nil) {
        self.target = target
    }
}

/// A hashed timing wheel for per-connection deadlines.
///
/// arm, reset and cancel are O(1) and, in the common case, touch no slot at all. A timer keeps
/// at most one live entry: cancel only marks the timer, and re-arming it to a deadline no
/// earlier than its entry's just updates the deadline; when the entry's slot comes round it is
/// dropped (cancelled), fired (due) or re-filed (moved later). Only an *earlier* deadline files
/// a new entry, and the generation number makes the superseded one inert. So a keep-alive
/// connection that re-arms its timer on every request adds no entries per request. Deadlines
/// past the wheel's span simply come round again. Resolution is one tick (default 100 ms).
public struct TimerWheel {
    private struct Entry {
        let timer: Timer
        let generation: UInt32
    }

    private var slots: [[Entry]]
    private var visiting: [Entry] = []
    private let tickMilliseconds: Int64
    private var currentTick: Int64
    public private(set) var armedCount = 0

    public init(slotCount: Int = 1024, tickMilliseconds: Int64 = 100, now: Int64) {
        precondition(slotCount > 0 && tickMilliseconds > 0)
        slots = Array(repeating: [], count: slotCount)
        self.tickMilliseconds = tickMilliseconds
        currentTick = now / tickMilliseconds
    }

    /// Arms, or re-arms, `timer` to fire at `deadline`.
    public mutating func arm(_ timer: Timer, deadline: Int64) {
        if !timer.isArmed {
            armedCount += 1
            timer.isArmed = true
        }
        timer.deadline = deadline
        if !timer.hasEntry || deadline < timer.filedDeadline {
            file(timer, deadline: deadline, minimumTick: currentTick)
        }
    }

    public mutating func cancel(_ timer: Timer) {
        guard timer.isArmed else { return }
        timer.isArmed = false
        armedCount -= 1
        // The entry stays; it is dropped when its slot comes round, or reused by a re-arm.
    }

    /// How long the loop may sleep before the next tick matters; -1 when nothing is armed.
    public func pollTimeout(now: Int64) -> Int32 {
        guard armedCount > 0 else { return -1 }
        let nextTickStart = (currentTick + 1) * tickMilliseconds
        return Int32(clamping: max(0, nextTickStart - now))
    }

    /// Disarms every timer whose deadline is at or before `now` and appends it to `due`; the
    /// caller fires them once the wheel is no longer being mutated (targets re-arm timers).
    public mutating func collectExpired(now: Int64, into due: inout [Timer]) {
        let targetTick = now / tickMilliseconds
        guard targetTick >= currentTick else { return }
        // After a long sleep, one pass over every slot is enough: each entry is re-filed by its
        // own deadline, so nothing depends on visiting a slot once per skipped round.
        let steps = min(targetTick - currentTick + 1, Int64(slots.count))
        var tick = targetTick - steps + 1
        while tick <= targetTick {
            currentTick = tick
            let index = Int(tick % Int64(slots.count))
            if !slots[index].isEmpty {
                // Swap rather than copy: re-filing may append to this very slot.
                swap(&visiting, &slots[index])
                for entry in visiting where entry.generation == entry.timer.generation {
                    let timer = entry.timer
                    timer.hasEntry = false
                    guard timer.isArmed else { continue }
                    if timer.deadline <= now {
                        timer.isArmed = false
                        armedCount -= 1
                        due.append(timer)
                    } else {
                        file(timer, deadline: timer.deadline, minimumTick: tick + 1)
                    }
                }
                visiting.removeAll(keepingCapacity: true)
            }
            tick += 1
        }
        currentTick = targetTick
    }

    private mutating func file(_ timer: Timer, deadline: Int64, minimumTick: Int64) {
        timer.generation &+= 1
        timer.hasEntry = true
        timer.filedDeadline = deadline
        // Never file into a slot the wheel has already passed in this turn.
        let tick = max(deadline / tickMilliseconds, minimumTick)
        slots[Int(tick % Int64(slots.count))].append(Entry(timer: timer, generation: timer.generation))
    }
}
