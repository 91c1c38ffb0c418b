import Testing
@testable import WSGIServer

struct BackoffPolicyTests {
    let policy = BackoffPolicy(initialDelay: 0.25, maximumDelay: 30, stableAfter: 1)

    @Test(arguments: [
        (0, 0.0), (1, 0.0),  // a worker that served for a while, or the first failed start: at once
        (2, 0.25), (3, 0.5), (4, 1), (5, 2), (6, 4), (7, 8), (8, 16),
        (9, 30), (10, 30), (64, 30), (1_000_000, 30),  // capped, never overflowing, never giving up
    ])
    func delayDoublesUpToTheCap(_ failures: Int, _ seconds: Double) {
        #expect(policy.delay(afterFailedStarts: failures) == seconds)
    }

    @Test func delaysNeverDecrease() {
        var previous = 0.0
        for n in 0...200 {
            let d = policy.delay(afterFailedStarts: n)
            #expect(d >= previous)
            #expect(d <= policy.maximumDelay)
            previous = d
        }
    }

    @Test(arguments: [
        (0.1, false, true),   // died while loading the application
        (5.0, false, true),   // never became ready, however long it took
        (0.5, true, true),    // ready, but died at once
        (1.0, true, false),   // served for a while
        (3600.0, true, false),
    ])
    func failedStart(_ lifetime: Double, _ ready: Bool, _ failed: Bool) {
        #expect(policy.isFailedStart(lifetime: lifetime, becameReady: ready) == failed)
    }
}
