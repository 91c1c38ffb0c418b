#if canImport(Glibc)
import Glibc
#endif
import Reactor
import Testing
import TestSupport

/// What a call does after any EINTRs, and what `retrying` must make of it.
enum SyscallCase: String, CaseIterable, Sendable {
    case readWithData, readOnEmptySocket, seekOnSocket, sendToClosedPeer

    enum Outcome: Equatable {
        case done(Int)
        case wouldBlock
        case error(call: String, errno: Int32)
    }

    var expected: Outcome {
        switch self {
        case .readWithData: .done(3)
        case .readOnEmptySocket: .wouldBlock
        case .seekOnSocket: .error(call: "lseek", errno: ESPIPE)
        case .sendToClosedPeer: .error(call: "send", errno: EPIPE)
        }
    }

    var callName: String {
        switch self {
        case .readWithData, .readOnEmptySocket: "read"
        case .seekOnSocket: "lseek"
        case .sendToClosedPeer: "send"
        }
    }

    /// Prepares a socket pair and returns the real call.
    func call(_ pair: SocketPair) -> () -> Int {
        switch self {
        case .readWithData:
            pair.writeToA(3)
            return { var buffer = [UInt8](repeating: 0, count: 16); return read(pair.a, &buffer, 16) }
        case .readOnEmptySocket:
            return { var byte: UInt8 = 0; return read(pair.a, &byte, 1) }
        case .seekOnSocket:
            return { Int(lseek(pair.a, 0, SEEK_SET)) }
        case .sendToClosedPeer:
            pair.closeB()
            return { var byte: UInt8 = 0; return send(pair.a, &byte, 1, Int32(MSG_NOSIGNAL)) }
        }
    }
}

/// Fails the first `count` calls with EINTR, then makes the real call.
private func interrupted(_ count: Int, then call: @escaping () -> Int) -> () -> Int {
    var remaining = count
    return {
        if remaining > 0 {
            remaining -= 1
            errno = EINTR
            return -1
        }
        return call()
    }
}

struct SyscallTests {
    @Test(arguments: SyscallCase.allCases, [0, 1, 5])
    func retryingMapsResults(_ testCase: SyscallCase, interruptions: Int) {
        let pair = SocketPair()
        let body = interrupted(interruptions, then: testCase.call(pair))
        var calls = 0
        let outcome: SyscallCase.Outcome
        do {
            switch try retrying(testCase.callName, { calls += 1; return body() }) {
            case .done(let n): outcome = .done(n)
            case .wouldBlock: outcome = .wouldBlock
            }
        } catch {
            outcome = .error(call: error.call, errno: error.errno)
        }
        #expect(outcome == testCase.expected)
        #expect(calls == interruptions + 1)
    }

    @Test(arguments: [0, 1, 5])
    func retryingBlockingRetriesEINTRAndThrowsEverythingElse(interruptions: Int) throws {
        var calls = 0
        let ok = interrupted(interruptions) { 42 }
        #expect(try retryingBlocking("setup") { calls += 1; return ok() } == 42)
        #expect(calls == interruptions + 1)

        // A blocking call has no business returning EAGAIN: it is an error like any other.
        let again = interrupted(interruptions) { errno = EAGAIN; return -1 }
        do {
            _ = try retryingBlocking("accept") { again() }
            Issue.record("expected a throw")
        } catch {
            #expect(error.call == "accept")
            #expect(error.errno == EAGAIN)
        }
    }

    @Test func errorDescriptionNamesTheCall() {
        let error = SyscallError("epoll_ctl(ADD)", errno: ENOENT)
        #expect(error.description.hasPrefix("epoll_ctl(ADD): "))
        #expect(error.description.hasSuffix("(errno \(ENOENT))"))
    }

    @Test func badDescriptorIsAProgrammerError() async {
        await #expect(processExitsWith: .failure) {
            var byte: UInt8 = 0
            _ = try? retrying("read") { read(-1, &byte, 1) }
        }
    }

    @Test func monotonicClockDoesNotGoBackwards() {
        let first = monotonicMilliseconds()
        sleepMilliseconds(5)
        let second = monotonicMilliseconds()
        #expect(second >= first + 4)
    }
}
