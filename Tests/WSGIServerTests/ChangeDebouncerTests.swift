import Testing
@testable import WSGIServer

@Suite struct ChangeDebouncerTests {
    /// Replays `events` (time, paths) and asks at every millisecond up to `until`; returns when
    /// bursts fired and what they said.
    private func replay(_ events: [(Int64, [String])], until: Int64) -> [(Int64, ChangeDebouncer.Burst)] {
        var debouncer = ChangeDebouncer(quiet: 250, longest: 2000)
        var fired: [(Int64, ChangeDebouncer.Burst)] = []
        for now in Int64(0)...until {
            for (at, paths) in events where at == now { debouncer.record(paths, at: now) }
            if let burst = debouncer.take(at: now) { fired.append((now, burst)) }
        }
        return fired
    }

    @Test(arguments: [
        // (events, fired at, first path, distinct paths)
        ([(0, ["a.py"])], [250], "a.py", 1),
        ([(0, ["a.py"]), (100, ["a.py"]), (200, ["b.py", "a.py"])], [450], "a.py", 2),  // an editor's save
        ([(10, ["a.py"]), (300, ["b.py"])], [260, 550], "a.py", 1),                      // two saves, two reloads
        ([(0, [])], [], "", 0),                                                            // nothing changed
    ] as [([(Int64, [String])], [Int64], String, Int)])
    func bursts(events: [(Int64, [String])], firedAt: [Int64], first: String, count: Int) {
        let fired = replay(events, until: 3000)
        #expect(fired.map(\.0) == firedAt)
        if let (_, burst) = fired.first {
            #expect(burst == ChangeDebouncer.Burst(first: first, count: count))
        }
    }

    @Test func aTreeThatNeverSettlesStillReloads() {
        let events = (0..<30).map { (Int64($0) * 100, ["gen\($0).py"]) }
        let fired = replay(events, until: 2999)
        #expect(fired.first?.0 == 2000)
        #expect(fired.first?.1.count == 21)
    }

    @Test func deadlineFollowsTheLastChange() {
        var debouncer = ChangeDebouncer(quiet: 250, longest: 2000)
        #expect(debouncer.deadline == nil)
        debouncer.record(["a.py"], at: 1000)
        #expect(debouncer.deadline == 1250)
        debouncer.record(["a.py"], at: 1200)
        #expect(debouncer.deadline == 1450)
        #expect(debouncer.take(at: 1449) == nil)
        #expect(debouncer.take(at: 1450) != nil)
        #expect(debouncer.deadline == nil)
    }
}
