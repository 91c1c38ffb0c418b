#if os(Linux)
import Reactor
import Testing

/// What only the epoll backend promises, beyond the shared contract.
struct EpollBackendTests {
    @Test func nameIsEpoll() throws {
        let backend = try EpollBackend()
        defer { backend.close() }
        #expect(backend.name == "epoll")
    }

    /// A poll that fills the event array makes it bigger, so later polls drain more at once;
    /// nothing is lost or reported twice on the way.
    @Test func eventArrayGrowsWhenAPollFillsIt() throws {
        let backend = try EpollBackend(initialCapacity: 2)
        defer { backend.close() }
        let pairs = (0..<50).map { _ in SocketPair() }
        for (i, pair) in pairs.enumerated() {
            try backend.register(fd: pair.a, id: UInt32(i + 1), interest: .readable)
            pair.writeToA()
        }

        var counts: [Int] = []
        var ids = Set<UInt32>()
        var total = 0
        while total < pairs.count && counts.count < 20 {
            var events: [ReadyEvent] = []
            try backend.poll(timeoutMilliseconds: 1000, into: &events)
            counts.append(events.count)
            total += events.count
            ids.formUnion(events.map(\.registrationID))
        }
        #expect(counts.first == 2)
        #expect(counts.dropFirst().contains { $0 > 2 }, "poll sizes \(counts)")
        #expect(total == pairs.count)
        #expect(ids == Set(1...UInt32(pairs.count)))
    }
}
#endif
