import Testing
@testable import WSGIServer

/// The connection state machine while the server stops (SIGTERM, reload, recycling): nothing
/// that may already be answered by a client's next request is closed without an answer.
struct GracefulStopTests {
    @Test func idleConnectionGetsTheQuietPeriodNotAnImmediateClose() {
        var machine = ConnectionStateMachine()
        #expect(machine.serverStopRequested() == .none)
        #expect(machine.state == .idle)
        #expect(machine.deadline == .stopQuiet)
        // Quiet for the whole period: closed.
        #expect(machine.deadlinePassed() == .close)
        #expect(machine.state == .closed)
    }

    @Test func requestArrivingInTheQuietPeriodIsServedThenTheConnectionEnds() {
        var machine = ConnectionStateMachine()
        _ = machine.serverStopRequested()
        _ = machine.headBytesArrived()
        #expect(machine.deadline == .header)
        #expect(machine.headParsed(bodyComplete: true) == .dispatch)
        // The response said Connection: close (the connection asks the exchange for it).
        #expect(machine.responseCompleted(keepAlive: false) == .linger)
    }

    @Test func keepAliveResponseAlreadyOutIsNotFollowedByAClose() {
        var machine = ConnectionStateMachine()
        _ = machine.headBytesArrived()
        _ = machine.headParsed(bodyComplete: true)
        // The stop begins after the head promised keep-alive.
        _ = machine.serverStopRequested()
        #expect(machine.responseCompleted(keepAlive: true) == .parseNext)
        #expect(machine.state == .idle)
        #expect(machine.deadline == .stopQuiet)
    }

    @Test func partialHeadIsLetFinish() {
        var machine = ConnectionStateMachine()
        _ = machine.headBytesArrived()
        #expect(machine.serverStopRequested() == .none)
        #expect(machine.state == .readingHead)
        #expect(machine.deadline == .header)
    }

    @Test func connectionThatMustEndStillLingersAfterItsResponse() {
        var machine = ConnectionStateMachine()
        _ = machine.headBytesArrived()
        _ = machine.headParsed(bodyComplete: true)
        _ = machine.serverStopRequested()
        _ = machine.shutdownRequested()  // e.g. the client half-closed
        #expect(machine.responseCompleted(keepAlive: true) == .linger)
    }
}
