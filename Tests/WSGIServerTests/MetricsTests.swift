#if canImport(Glibc)
import Glibc
#endif
import CProcessShim
import Testing
@testable import WSGIServer

/// `--metrics-bind`: the slot's counters, their sum across workers, and the text a scrape gets.
struct MetricsTests {
    @Test func swiftAndCAgreeOnTheSlotLayout() {
        #expect(MemoryLayout<CProcSlot>.size == CProc_slot_size())
        #expect(CProc_slot_size() % 64 == 0)
        #expect(MemoryLayout<CProcMetrics>.size % 64 == 0)
    }

    static let statuses: [(Int, Int)] = [(101, 0), (200, 1), (204, 1), (301, 2), (399, 2), (400, 3), (404, 3), (431, 3), (500, 4), (599, 4), (600, 5), (999, 5)]

    @Test(arguments: statuses)
    func statusGoesToItsClass(_ status: Int, _ index: Int) throws {
        let board = try #require(Scoreboard(slots: 1))
        board[0].reset()
        board[0].recordResponse(status: status, durationMicroseconds: 10)
        var expected = [UInt64](repeating: 0, count: MetricsSample.statusClasses.count)
        expected[index] = 1
        #expect(board[0].readMetrics().responses == expected)
    }

    /// A bucket holds durations up to and including its bound.
    static let durations: [(UInt64, Int)] = [(0, 0), (1000, 0), (1001, 1), (2500, 1), (2501, 2), (999_999, 9), (1_000_000, 9),
                                           (10_000_000, 12), (10_000_001, 13), (UInt64(Int64.max), 13)]

    @Test(arguments: durations)
    func durationGoesToItsBucket(_ micros: UInt64, _ bucket: Int) throws {
        let board = try #require(Scoreboard(slots: 1))
        board[0].reset()
        board[0].recordResponse(status: 200, durationMicroseconds: micros)
        let sample = board[0].readMetrics()
        #expect(sample.durationBuckets.firstIndex(of: 1) == bucket)
        #expect(sample.durationCount == 1)
        #expect(sample.durationSumMicroseconds == micros)
    }

    @Test func slotKeepsGaugesAndResetClearsEverything() throws {
        let board = try #require(Scoreboard(slots: 3))
        let slot = board[1]
        slot.reset()
        slot.setConnectionsOpen(7)
        slot.setRequestsInFlight(3)
        slot.setQueueDepth(2)
        slot.recordResponse(status: 200, durationMicroseconds: 1500)
        slot.recordResponse(status: 500, durationMicroseconds: 300_000)
        var sample = slot.readMetrics()
        #expect((sample.connectionsOpen, sample.requestsInFlight, sample.queueDepth) == (7, 3, 2))
        #expect(sample.responses[1] == 1 && sample.responses[4] == 1)
        #expect(sample.durationSumMicroseconds == 301_500)
        #expect(board[0].readMetrics() == MetricsSample(), "slots are independent")
        slot.reset()
        sample = slot.readMetrics()
        #expect(sample == MetricsSample())
    }

    /// A child's stores (a worker's server thread) are what the parent (the supervisor) reads.
    @Test func childMetricsAreVisibleToTheParent() throws {
        let board = try #require(Scoreboard(slots: 1))
        let slot = board[0]
        slot.reset()
        let child = fork()
        if child == 0 {
            for _ in 0..<5 { slot.recordResponse(status: 404, durationMicroseconds: 2000) }
            slot.setConnectionsOpen(1)
            _exit(0)
        }
        try #require(child > 0)
        var status: Int32 = 0
        waitpid(child, &status, 0)
        let sample = board[0].readMetrics()
        #expect(sample.responses[3] == 5)
        #expect(sample.durationBuckets[1] == 5)
        #expect(sample.connectionsOpen == 1)
    }

    @Test func sumsCountersOfAllAndGaugesOfLiveWorkers() {
        var a = MetricsSample()
        a.responses[1] = 10
        a.durationBuckets[0] = 10
        a.durationSumMicroseconds = 5000
        a.requestsInFlight = 2
        var b = MetricsSample()
        b.responses[3] = 4
        b.durationBuckets[13] = 4
        b.durationSumMicroseconds = 60_000_000
        b.connectionsOpen = 9
        var total = a
        total.addCounters(of: b)
        #expect(total.responses[1] == 10 && total.responses[3] == 4)
        #expect(total.durationCount == 14)
        #expect(total.durationSumMicroseconds == 60_005_000)
        #expect(total.connectionsOpen == 0, "an exited worker's gauges are not added")
        total.addGauges(of: b)
        #expect(total.connectionsOpen == 9 && total.requestsInFlight == 2)
    }

    static let secondsTexts: [(UInt64, String)] = [(0, "0"), (1, "0.000001"), (1000, "0.001"), (2500, "0.0025"), (100_000, "0.1"),
                                              (1_000_000, "1"), (2_500_000, "2.5"), (10_000_000, "10"), (61_234_567, "61.234567")]

    @Test(arguments: secondsTexts)
    func microsecondsPrintAsSeconds(_ micros: UInt64, _ text: String) {
        #expect(MetricsText.seconds(micros) == text)
    }

    @Test func rendersEveryFamilyWithHelpTypeAndCumulativeBuckets() {
        var sample = MetricsSample()
        sample.responses = [0, 7, 1, 2, 3, 0]
        sample.durationBuckets[0] = 5
        sample.durationBuckets[2] = 6
        sample.durationBuckets[13] = 2
        sample.durationSumMicroseconds = 12_345_678
        sample.requestsInFlight = 1
        sample.connectionsOpen = 4
        sample.queueDepth = 2
        let text = MetricsText.render(sample, workers: 2, workerRestarts: 3)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(text.hasSuffix("\n"))
        for (name, type) in [("yimmo_requests_total", "counter"), ("yimmo_request_duration_seconds", "histogram"),
                             ("yimmo_requests_in_flight", "gauge"), ("yimmo_connections_open", "gauge"),
                             ("yimmo_queue_depth", "gauge"), ("yimmo_workers", "gauge"),
                             ("yimmo_worker_restarts_total", "counter")] {
            #expect(lines.contains("# TYPE \(name) \(type)"))
            #expect(lines.contains { $0.hasPrefix("# HELP \(name) ") })
        }
        for line in ["yimmo_requests_total{class=\"1xx\"} 0", "yimmo_requests_total{class=\"2xx\"} 7",
                     "yimmo_requests_total{class=\"3xx\"} 1", "yimmo_requests_total{class=\"4xx\"} 2",
                     "yimmo_requests_total{class=\"5xx\"} 3",
                     "yimmo_request_duration_seconds_bucket{le=\"0.001\"} 5",
                     "yimmo_request_duration_seconds_bucket{le=\"0.0025\"} 5",
                     "yimmo_request_duration_seconds_bucket{le=\"0.005\"} 11",
                     "yimmo_request_duration_seconds_bucket{le=\"10\"} 11",
                     "yimmo_request_duration_seconds_bucket{le=\"+Inf\"} 13",
                     "yimmo_request_duration_seconds_sum 12.345678",
                     "yimmo_request_duration_seconds_count 13",
                     "yimmo_requests_in_flight 1", "yimmo_connections_open 4", "yimmo_queue_depth 2",
                     "yimmo_workers 2", "yimmo_worker_restarts_total 3"] {
            #expect(lines.contains(line), "missing: \(line)")
        }
        #expect(!text.contains("class=\"other\""), "the 'other' class appears only once it counts something")
        sample.responses[5] = 1
        #expect(MetricsText.render(sample, workers: 2, workerRestarts: 3).contains("yimmo_requests_total{class=\"other\"} 1\n"))
    }
}
