#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import WSGIServer

struct ScoreboardTests {
    @Test func slotRoundTripsTheOldestRequest() throws {
        let board = try #require(Scoreboard(slots: 4))
        let slot = board[2]
        slot.reset()
        #expect(slot.oldestRequest() == nil)
        #expect(slot.state == .starting)
        Array("GET /slow?x=1".utf8).withUnsafeBytes { slot.setOldestRequest(start: 12345, line: $0) }
        let request = try #require(slot.oldestRequest())
        #expect(request.start == 12345)
        #expect(request.line == "GET /slow?x=1")
        slot.clearRequest()
        #expect(slot.oldestRequest() == nil)
        slot.addServed(3)
        slot.state = .ready
        #expect(slot.served == 3)
        #expect(slot.state == .ready)
        #expect(board[1].served == 0, "slots are independent")
    }

    @Test func longRequestLineIsCut() throws {
        let board = try #require(Scoreboard(slots: 1))
        let line = "GET /" + String(repeating: "a", count: 500)
        Array(line.utf8).withUnsafeBytes { board[0].setOldestRequest(start: 1, line: $0) }
        let request = try #require(board[0].oldestRequest())
        #expect(request.line == String(line.prefix(200)))
    }

    /// The mapping is MAP_SHARED: a child's writes are what the parent reads.
    @Test func childWritesAreVisibleToTheParent() throws {
        let board = try #require(Scoreboard(slots: 1))
        board[0].reset()
        // Allocated before the fork: the test process has other threads, so the child does
        // nothing but plain stores and _exit.
        let line = Array("POST /upload".utf8)
        let slot = board[0]
        let child = line.withUnsafeBytes { bytes in
            let pid = fork()
            if pid == 0 {
                slot.setOldestRequest(start: 777, line: bytes)
                slot.state = .recycling
                _exit(0)
            }
            return pid
        }
        try #require(child > 0)
        var status: Int32 = 0
        waitpid(child, &status, 0)
        #expect(board[0].state == .recycling)
        #expect(board[0].oldestRequest()?.line == "POST /upload")
    }
}
