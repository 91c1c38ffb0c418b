/// Something a timer can fire into. Called on the loop thread.
public protocol TimerTarget: AnyObject {
    func timerFired(_ timer: Timer)
}

/// One re-armable deadline, owned by its user (a connection keeps one for its whole life).
public final class Timer {
    public weak var target: TimerTarget?
    /// Absolute deadline on the monotonic clock (ms); meaningful only while armed.
    public fileprivate(set) var deadline: Int64 = 0
    public fileprivate(set) var isArmed = false
    /// Bumped whenever the wheel holds an entry that must no longer fire.
    fileprivate var generation: UInt32 = 0
    /// The deadline the live wheel entry was filed under.
    fileprivate var filedDeadline: Int64 = 0

    public init(target: TimerTarget? = nil) {
        self.target = target
    }
}

/// A hashed timing wheel for per-connection deadlines.
///
/// arm, reset and cancel are O(1): cancel only marks the timer; moving a deadline later only
/// updates it, and the entry is re-filed when its slot comes round. Only an *earlier* deadline
/// files a second entry, and the generation number makes the older one inert. Deadlines past the
/// wheel's span simply come round again. Resolution is one tick (default 100 ms).
public struct TimerWheel {
    private struct Entry {
        let timer: Timer
        let generation: UInt32
    }

    private var slots: [[Entry]]
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
            file(timer, deadline: deadline)
        } else if deadline < timer.filedDeadline {
            file(timer, deadline: deadline)
        }
        timer.deadline = deadline
    }

    public mutating func cancel(_ timer: Timer) {
        guard timer.isArmed else { return }
        timer.isArmed = false
        timer.generation &+= 1
        armedCount -= 1
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
        if armedCount == 0 {
            // Nothing can fire: skip the idle stretch instead of walking it tick by tick.
            currentTick = max(currentTick, targetTick)
            return
        }
        while currentTick <= targetTick {
            let index = Int(currentTick % Int64(slots.count))
            if !slots[index].isEmpty {
                let entries = slots[index]
                slots[index].removeAll(keepingCapacity: true)
                for entry in entries where entry.generation == entry.timer.generation && entry.timer.isArmed {
                    if entry.timer.deadline <= now {
                        entry.timer.isArmed = false
                        entry.timer.generation &+= 1
                        armedCount -= 1
                        due.append(entry.timer)
                    } else {
                        file(entry.timer, deadline: entry.timer.deadline, minimumTick: currentTick + 1)
                    }
                }
            }
            if currentTick == targetTick { break }
            currentTick += 1
        }
    }

    private mutating func file(_ timer: Timer, deadline: Int64, minimumTick: Int64? = nil) {
        timer.generation &+= 1
        timer.filedDeadline = deadline
        // Never file into a slot the wheel has already passed in this turn.
        let tick = max(deadline / tickMilliseconds, minimumTick ?? currentTick)
        slots[Int(tick % Int64(slots.count))].append(Entry(timer: timer, generation: timer.generation))
    }
}
