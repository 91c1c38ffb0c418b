#if canImport(Glibc)
import Glibc
#endif
import Reactor
import Testing
import TestSupport

/// A way to make a fresh backend; one entry per backend the platform has.
struct BackendFactory: Sendable, CustomTestStringConvertible {
    let name: String
    let make: @Sendable () throws -> any ReadinessBackend

    var testDescription: String { name }
}

/// Every backend must pass the whole conformance suite: a new backend is one more entry here.
let backends: [BackendFactory] = {
    var all: [BackendFactory] = []
    #if os(Linux)
    all.append(BackendFactory(name: "epoll") { try EpollBackend() })
    #endif
    all.append(BackendFactory(name: "select") { SelectBackend() })
    return all
}()

/// One poll; returns what it reported.
private func poll(_ backend: any ReadinessBackend, _ timeoutMilliseconds: Int32) throws -> [ReadyEvent] {
    var events: [ReadyEvent] = []
    try backend.poll(timeoutMilliseconds: timeoutMilliseconds, into: &events)
    return events
}

@Suite("ReadinessBackend conformance")
struct BackendConformanceTests {
    @Test(arguments: backends)
    func readableIsReportedOnlyOnceDataArrives(_ factory: BackendFactory) throws {
        let backend = try factory.make()
        defer { backend.close() }
        let pair = SocketPair()
        try backend.register(fd: pair.a, id: 7, interest: .readable)

        #expect(try poll(backend, 0).isEmpty)

        pair.writeToA(3)
        let events = try poll(backend, 1000)
        #expect(events.count == 1)
        #expect(events.first?.fd == pair.a)
        #expect(events.first?.registrationID == 7)
        #expect(events.first?.events.contains(.readable) == true)
    }

    @Test(arguments: backends)
    func deliveryIsEdgeTriggered(_ factory: BackendFactory) throws {
        let backend = try factory.make()
        defer { backend.close() }
        let pair = SocketPair()
        try backend.register(fd: pair.a, id: 1, interest: .readable)

        pair.writeToA()
        #expect(try poll(backend, 1000).count == 1)
        // Still readable, but nothing changed: no new report.
        #expect(try poll(backend, 0).isEmpty)

        #expect(pair.drainA() == 1)
        // The consumer reached EAGAIN: it re-arms (a no-op where the kernel tracks edges).
        backend.rearm(fd: pair.a, events: .readable)
        #expect(try poll(backend, 0).isEmpty)

        pair.writeToA()
        let again = try poll(backend, 1000)
        #expect(again.count == 1)
        #expect(again.first?.events.contains(.readable) == true)
    }

    @Test(arguments: backends)
    func writableIsReportedOnceOnRegister(_ factory: BackendFactory) throws {
        let backend = try factory.make()
        defer { backend.close() }
        let pair = SocketPair()
        try backend.register(fd: pair.a, id: 3, interest: [.readable, .writable])

        let events = try poll(backend, 1000)
        #expect(events.count == 1)
        #expect(events.first?.registrationID == 3)
        #expect(events.first?.events.contains(.writable) == true)
        #expect(events.first?.events.contains(.readable) == false)
        #expect(try poll(backend, 0).isEmpty)
    }

    @Test(arguments: backends)
    func peerCloseIsReportedAsHangupOrEOF(_ factory: BackendFactory) throws {
        let backend = try factory.make()
        defer { backend.close() }
        let pair = SocketPair()
        try backend.register(fd: pair.a, id: 4, interest: .readable)

        pair.closeB()
        let events = try poll(backend, 1000)
        try #require(events.count == 1)
        let bits = events[0].events
        var byte: UInt8 = 0
        let endOfFile = bits.contains(.readable) && read(pair.a, &byte, 1) == 0
        #expect(bits.contains(.hangup) || endOfFile, "reported \(bits)")
    }

    /// A connection's fd leaves the set as it is closed; the backend keeps working for the
    /// next one (whose fd may well get the same number: tests run in parallel, so that is not
    /// asserted here).
    @Test(arguments: backends)
    func fdDeregisteredBeforeCloseLeavesTheSet(_ factory: BackendFactory) throws {
        let backend = try factory.make()
        defer { backend.close() }
        let first = SocketPair()
        try backend.register(fd: first.a, id: 1, interest: .readable)
        first.writeToA()
        try backend.deregisterBeforeClose(fd: first.a)
        first.close()
        #expect(try poll(backend, 0).isEmpty)

        let second = SocketPair()
        try backend.register(fd: second.a, id: 2, interest: .readable)
        second.writeToA()
        let events = try poll(backend, 1000)
        #expect(events.count == 1)
        #expect(events.first?.fd == second.a)
        #expect(events.first?.registrationID == 2)
    }

    @Test(arguments: backends)
    func reregisterChangesInterestAndID(_ factory: BackendFactory) throws {
        let backend = try factory.make()
        defer { backend.close() }
        let pair = SocketPair()
        try backend.register(fd: pair.a, id: 1, interest: .readable)
        // The socket is writable, but nobody asked.
        #expect(try poll(backend, 0).isEmpty)

        try backend.reregister(fd: pair.a, id: 2, interest: [.readable, .writable])
        let writable = try poll(backend, 1000)
        #expect(writable.count == 1)
        #expect(writable.first?.registrationID == 2)
        #expect(writable.first?.events.contains(.writable) == true)

        try backend.reregister(fd: pair.a, id: 3, interest: .readable)
        pair.writeToA()
        let readable = try poll(backend, 1000)
        #expect(readable.count == 1)
        #expect(readable.first?.registrationID == 3)
        #expect(readable.first?.events.contains(.readable) == true)
        #expect(readable.first?.events.contains(.writable) == false)
    }

    @Test(arguments: backends)
    func deregisteredDescriptorIsNotReported(_ factory: BackendFactory) throws {
        let backend = try factory.make()
        defer { backend.close() }
        let pair = SocketPair()
        try backend.register(fd: pair.a, id: 1, interest: .readable)
        try backend.deregister(fd: pair.a)

        pair.writeToA()
        #expect(try poll(backend, 50).isEmpty)

        // Registering again works, and reports under the new id.
        try backend.register(fd: pair.a, id: 9, interest: .readable)
        let events = try poll(backend, 1000)
        #expect(events.map(\.registrationID) == [9])
    }

    @Test(arguments: backends, [UInt32(1), 0x7fff_ffff, 0x8000_0000, .max])
    func registrationIDIsReportedBackIntact(_ factory: BackendFactory, id: UInt32) throws {
        let backend = try factory.make()
        defer { backend.close() }
        let pair = SocketPair()
        try backend.register(fd: pair.a, id: id, interest: .readable)
        pair.writeToA()
        let events = try poll(backend, 1000)
        #expect(events == [ReadyEvent(fd: pair.a, registrationID: id, events: events.first?.events ?? [])])
    }

    @Test(arguments: backends)
    func pollHonoursItsTimeout(_ factory: BackendFactory) throws {
        let backend = try factory.make()
        defer { backend.close() }
        let pair = SocketPair()
        try backend.register(fd: pair.a, id: 1, interest: .readable)

        var start = monotonicNow()
        #expect(try poll(backend, 0).isEmpty)
        #expect(monotonicNow() - start < 50)

        start = monotonicNow()
        #expect(try poll(backend, 60).isEmpty)
        let elapsed = monotonicNow() - start
        #expect(elapsed >= 50, "returned after \(elapsed) ms")
        #expect(elapsed < 2000, "returned after \(elapsed) ms")
    }

    @Test(arguments: backends)
    func manyDescriptorsAreAllReported(_ factory: BackendFactory) throws {
        let backend = try factory.make()
        defer { backend.close() }
        let pairs = (0..<200).map { _ in SocketPair() }
        var expected: [Int32: UInt32] = [:]
        for (i, pair) in pairs.enumerated() {
            let id = UInt32(1000 + i)
            try backend.register(fd: pair.a, id: id, interest: .readable)
            expected[pair.a] = id
        }
        for pair in pairs { pair.writeToA() }

        var seen: [Int32: UInt32] = [:]
        var duplicates = 0
        for _ in 0..<20 where seen.count < pairs.count {
            for event in try poll(backend, 1000) {
                if seen.updateValue(event.registrationID, forKey: event.fd) != nil { duplicates += 1 }
                #expect(event.events.contains(.readable))
            }
        }
        #expect(seen == expected)
        #expect(duplicates == 0)
    }
}
