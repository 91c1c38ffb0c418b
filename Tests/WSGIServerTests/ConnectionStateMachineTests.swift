import Testing
@testable import WSGIServer

typealias Machine = ConnectionStateMachine

/// One input to the machine.
enum MachineEvent: CustomStringConvertible {
    case headBytes
    case headParsed(bodyComplete: Bool)
    case headRejected(Int)
    case bodyProgressed
    case bodyCompleted
    case bodyFailed
    case responseCompleted(keepAlive: Bool)
    case responseAborted
    case peerClosed
    case writeFailed
    case deadlinePassed
    case shutdown

    func apply(to machine: inout Machine) -> Machine.Action {
        switch self {
        case .headBytes: machine.headBytesArrived()
        case .headParsed(let complete): machine.headParsed(bodyComplete: complete)
        case .headRejected(let status): machine.headRejected(status: status)
        case .bodyProgressed: machine.bodyProgressed()
        case .bodyCompleted: machine.bodyCompleted()
        case .bodyFailed: machine.bodyFailed()
        case .responseCompleted(let keepAlive): machine.responseCompleted(keepAlive: keepAlive)
        case .responseAborted: machine.responseAborted()
        case .peerClosed: machine.peerClosed()
        case .writeFailed: machine.writeFailed()
        case .deadlinePassed: machine.deadlinePassed()
        case .shutdown: machine.shutdownRequested()
        }
    }

    var description: String {
        switch self {
        case .headBytes: "headBytes"
        case .headParsed(let complete): "headParsed(bodyComplete: \(complete))"
        case .headRejected(let status): "headRejected(\(status))"
        case .bodyProgressed: "bodyProgressed"
        case .bodyCompleted: "bodyCompleted"
        case .bodyFailed: "bodyFailed"
        case .responseCompleted(let keepAlive): "responseCompleted(keepAlive: \(keepAlive))"
        case .responseAborted: "responseAborted"
        case .peerClosed: "peerClosed"
        case .writeFailed: "writeFailed"
        case .deadlinePassed: "deadlinePassed"
        case .shutdown: "shutdown"
        }
    }
}

/// An event and what must follow: the action, the state, and the deadline in force.
struct MachineStep: Sendable {
    let event: MachineEvent
    let action: Machine.Action
    let state: Machine.State
    let deadline: Machine.Deadline

    init(_ event: MachineEvent, _ action: Machine.Action, _ state: Machine.State, _ deadline: Machine.Deadline) {
        self.event = event
        self.action = action
        self.state = state
        self.deadline = deadline
    }
}

struct MachineScenario: Sendable, CustomTestStringConvertible {
    let name: String
    let steps: [MachineStep]

    init(name: String, steps: () -> [MachineStep]) {
        self.name = name
        self.steps = steps()
    }

    var testDescription: String { name }
}

// Shorthands for the prefixes most scenarios share.
private let bodylessRequest: [MachineStep] = [
    MachineStep(.headBytes, .none, .readingHead, .header),
    MachineStep(.headParsed(bodyComplete: true), .dispatch, .handling, .none),
]
private let requestWithBody: [MachineStep] = [
    MachineStep(.headBytes, .none, .readingHead, .header),
    MachineStep(.headParsed(bodyComplete: false), .dispatch, .handling, .body),
]

let machineScenarios: [MachineScenario] = [
    MachineScenario(name: "keep-alive request without a body, then the next one") {
        bodylessRequest + [
            MachineStep(.responseCompleted(keepAlive: true), .parseNext, .idle, .idle),
            MachineStep(.headBytes, .none, .readingHead, .header),
            MachineStep(.headParsed(bodyComplete: true), .dispatch, .handling, .none),
            MachineStep(.responseCompleted(keepAlive: true), .parseNext, .idle, .idle),
        ]
    },
    MachineScenario(name: "a whole head in one read is parsed straight from idle") {
        [
            MachineStep(.headParsed(bodyComplete: true), .dispatch, .handling, .none),
            MachineStep(.responseCompleted(keepAlive: true), .parseNext, .idle, .idle),
        ]
    },
    MachineScenario(name: "more head bytes do not restart the header deadline's state") {
        [
            MachineStep(.headBytes, .none, .readingHead, .header),
            MachineStep(.headBytes, .none, .readingHead, .header),
        ]
    },
    MachineScenario(name: "body arrives while handling, response after it") {
        requestWithBody + [
            MachineStep(.bodyProgressed, .none, .handling, .body),
            MachineStep(.bodyCompleted, .none, .handling, .none),
            MachineStep(.responseCompleted(keepAlive: true), .parseNext, .idle, .idle),
        ]
    },
    MachineScenario(name: "response done before the body: drain it, then the next request") {
        requestWithBody + [
            MachineStep(.responseCompleted(keepAlive: true), .none, .draining, .body),
            MachineStep(.bodyProgressed, .none, .draining, .body),
            MachineStep(.bodyCompleted, .parseNext, .idle, .idle),
        ]
    },
    MachineScenario(name: "keepAlive false: linger, then close at the linger deadline") {
        bodylessRequest + [
            MachineStep(.responseCompleted(keepAlive: false), .linger, .lingering, .linger),
            MachineStep(.deadlinePassed, .close, .closed, .linger),
        ]
    },
    MachineScenario(name: "keepAlive false: linger, then close at the client's EOF") {
        bodylessRequest + [
            MachineStep(.responseCompleted(keepAlive: false), .linger, .lingering, .linger),
            MachineStep(.peerClosed, .close, .closed, .linger),
        ]
    },
    MachineScenario(name: "keepAlive false with body bytes still due: linger, never drain") {
        requestWithBody + [
            MachineStep(.responseCompleted(keepAlive: false), .linger, .lingering, .linger),
        ]
    },
    MachineScenario(name: "peer closes while the handler works") {
        bodylessRequest + [
            MachineStep(.peerClosed, .abortExchangeAndClose, .closed, .none),
            MachineStep(.peerClosed, .none, .closed, .none),
        ]
    },
    MachineScenario(name: "write fails while the handler works") {
        requestWithBody + [
            MachineStep(.writeFailed, .abortExchangeAndClose, .closed, .body),
        ]
    },
    MachineScenario(name: "peer closes while idle") {
        [MachineStep(.peerClosed, .close, .closed, .idle)]
    },
    MachineScenario(name: "peer closes mid-head") {
        [
            MachineStep(.headBytes, .none, .readingHead, .header),
            MachineStep(.peerClosed, .close, .closed, .header),
        ]
    },
    MachineScenario(name: "peer closes while draining") {
        requestWithBody + [
            MachineStep(.responseCompleted(keepAlive: true), .none, .draining, .body),
            MachineStep(.peerClosed, .close, .closed, .body),
        ]
    },
    MachineScenario(name: "header deadline: 408, linger, close") {
        [
            MachineStep(.headBytes, .none, .readingHead, .header),
            MachineStep(.deadlinePassed, .rejectAndClose(status: 408), .lingering, .linger),
            MachineStep(.deadlinePassed, .close, .closed, .linger),
        ]
    },
    MachineScenario(name: "idle deadline closes quietly") {
        [MachineStep(.deadlinePassed, .close, .closed, .idle)]
    },
    MachineScenario(name: "idle deadline after a keep-alive response closes quietly") {
        bodylessRequest + [
            MachineStep(.responseCompleted(keepAlive: true), .parseNext, .idle, .idle),
            MachineStep(.deadlinePassed, .close, .closed, .idle),
        ]
    },
    MachineScenario(name: "body stalls while handling: the exchange is aborted") {
        requestWithBody + [
            MachineStep(.deadlinePassed, .abortExchangeAndClose, .closed, .body),
        ]
    },
    MachineScenario(name: "body stalls while draining: close") {
        requestWithBody + [
            MachineStep(.responseCompleted(keepAlive: true), .none, .draining, .body),
            MachineStep(.deadlinePassed, .close, .closed, .body),
        ]
    },
    MachineScenario(name: "no deadline applies while a complete request is handled") {
        bodylessRequest + [
            MachineStep(.deadlinePassed, .none, .handling, .none),
            MachineStep(.responseCompleted(keepAlive: true), .parseNext, .idle, .idle),
        ]
    },
    MachineScenario(name: "malformed head: reject, linger") {
        [
            MachineStep(.headBytes, .none, .readingHead, .header),
            MachineStep(.headRejected(400), .rejectAndClose(status: 400), .lingering, .linger),
        ]
    },
    MachineScenario(name: "refused head straight from idle") {
        [MachineStep(.headRejected(413), .rejectAndClose(status: 413), .lingering, .linger)]
    },
    MachineScenario(name: "shutdown while idle closes at once") {
        [MachineStep(.shutdown, .close, .closed, .idle)]
    },
    MachineScenario(name: "shutdown while handling: linger after the response") {
        bodylessRequest + [
            MachineStep(.shutdown, .none, .handling, .none),
            MachineStep(.responseCompleted(keepAlive: true), .linger, .lingering, .linger),
        ]
    },
    MachineScenario(name: "shutdown while handling with a body: linger after the response, no drain") {
        requestWithBody + [
            MachineStep(.shutdown, .none, .handling, .body),
            MachineStep(.responseCompleted(keepAlive: true), .linger, .lingering, .linger),
        ]
    },
    MachineScenario(name: "shutdown mid-head: the head is finished and answered, then linger") {
        [
            MachineStep(.headBytes, .none, .readingHead, .header),
            MachineStep(.shutdown, .none, .readingHead, .header),
            MachineStep(.headParsed(bodyComplete: true), .dispatch, .handling, .none),
            MachineStep(.responseCompleted(keepAlive: true), .linger, .lingering, .linger),
        ]
    },
    MachineScenario(name: "shutdown while draining: linger once the body is in") {
        requestWithBody + [
            MachineStep(.responseCompleted(keepAlive: true), .none, .draining, .body),
            MachineStep(.shutdown, .none, .draining, .body),
            MachineStep(.bodyCompleted, .linger, .lingering, .linger),
        ]
    },
    MachineScenario(name: "shutdown while lingering changes nothing") {
        bodylessRequest + [
            MachineStep(.responseCompleted(keepAlive: false), .linger, .lingering, .linger),
            MachineStep(.shutdown, .none, .lingering, .linger),
        ]
    },
    MachineScenario(name: "bad body before the response: the response goes out, then linger") {
        requestWithBody + [
            MachineStep(.bodyFailed, .none, .handling, .none),
            MachineStep(.responseCompleted(keepAlive: true), .linger, .lingering, .linger),
        ]
    },
    MachineScenario(name: "bad body while draining: close") {
        requestWithBody + [
            MachineStep(.responseCompleted(keepAlive: true), .none, .draining, .body),
            MachineStep(.bodyFailed, .close, .closed, .body),
        ]
    },
    MachineScenario(name: "body failure reported with no request is ignored") {
        [MachineStep(.bodyFailed, .none, .idle, .idle)]
    },
    MachineScenario(name: "handler aborts: close") {
        bodylessRequest + [
            MachineStep(.responseAborted, .close, .closed, .none),
        ]
    },
    MachineScenario(name: "a second head is not dispatched while one is handled") {
        bodylessRequest + [
            MachineStep(.headBytes, .none, .handling, .none),
            MachineStep(.headParsed(bodyComplete: true), .none, .handling, .none),
        ]
    },
    MachineScenario(name: "a late response report after close changes nothing") {
        bodylessRequest + [
            MachineStep(.peerClosed, .abortExchangeAndClose, .closed, .none),
            MachineStep(.responseCompleted(keepAlive: true), .none, .closed, .none),
        ]
    },
]

struct ConnectionStateMachineTests {
    @Test func startsIdleWithTheIdleDeadline() {
        let machine = Machine()
        #expect(machine.state == .idle)
        #expect(machine.deadline == .idle)
        #expect(!machine.shuttingDown)
    }

    @Test(arguments: machineScenarios)
    func scenario(_ scenario: MachineScenario) {
        var machine = Machine()
        for (i, step) in scenario.steps.enumerated() {
            let action = step.event.apply(to: &machine)
            let at = "step \(i + 1): \(step.event)"
            #expect(action == step.action, "\(at)")
            #expect(machine.state == step.state, "\(at)")
            #expect(machine.deadline == step.deadline, "\(at)")
        }
    }

    @Test func bodyFailureBeforeTheResponseMarksTheConnectionNotReusable() {
        var machine = Machine()
        _ = machine.headParsed(bodyComplete: false)
        _ = machine.bodyFailed()
        #expect(machine.bodyComplete)
        #expect(machine.shuttingDown)
    }

    @Test func flagsAreResetForTheNextRequest() {
        var machine = Machine()
        _ = machine.headParsed(bodyComplete: false)
        _ = machine.responseCompleted(keepAlive: true)
        #expect(machine.responseComplete)
        #expect(!machine.bodyComplete)
        #expect(machine.bodyCompleted() == .parseNext)
        #expect(machine.bodyComplete)
        #expect(!machine.responseComplete)
        #expect(machine == Machine())
    }
}
