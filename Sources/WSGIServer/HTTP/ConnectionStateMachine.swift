/// The life of one HTTP/1.1 connection as a value type: events in, actions out. The connection
/// object does the I/O the actions ask for, so every transition is testable without sockets.
///
/// One request is handled at a time: a pipelined request stays in the read buffer until the
/// response before it has been written, which keeps responses in order by construction.
struct ConnectionStateMachine: Equatable {
    enum State: Equatable {
        /// Between requests, nothing of the next one received (keep-alive idle time-out).
        case idle
        /// Part of a request head received (header time-out).
        case readingHead
        /// A request is with the handler; its body may still be arriving.
        case handling
        /// The response is done; the rest of the request body is read and discarded.
        case draining
        /// The last response is out; the write side is shut and the rest read until EOF.
        case lingering
        case closed
    }

    /// Which deadline applies now.
    enum Deadline: Equatable {
        /// `stopQuiet`: the server is stopping and the connection sits idle; see `serverStopping`.
        case none, idle, header, body, linger, stopQuiet
    }

    enum Action: Equatable {
        case none
        /// Hand the parsed request to the handler.
        case dispatch
        /// Parse the next (possibly pipelined) request from the buffer.
        case parseNext
        /// Send an error response with this status, then linger and close.
        case rejectAndClose(status: Int)
        /// Shut the write side down, discard input until EOF or the linger deadline.
        case linger
        /// Close at once.
        case close
        /// The client is gone while the handler works: tell the exchange, then close.
        case abortExchangeAndClose
    }

    private(set) var state: State = .idle
    private(set) var deadline: Deadline = .idle
    private(set) var bodyComplete = true
    private(set) var responseComplete = false
    private(set) var shuttingDown = false
    /// The server is stopping (SIGTERM, reload, recycling). Unlike `shuttingDown`, the connection
    /// itself is healthy: a request under way is answered (with `Connection: close` if its head
    /// is not out yet), and an idle connection is closed after a short quiet period instead of at
    /// once, so a request the client sent as we decided to close is answered, not reset.
    private(set) var serverStopping = false

    /// Bytes of a new request arrived while idle.
    mutating func headBytesArrived() -> Action {
        if state == .idle {
            state = .readingHead
            deadline = .header
        }
        return .none
    }

    mutating func headParsed(bodyComplete: Bool) -> Action {
        guard state == .idle || state == .readingHead else { return .none }
        state = .handling
        self.bodyComplete = bodyComplete
        responseComplete = false
        deadline = bodyComplete ? .none : .body
        return .dispatch
    }

    /// A malformed head, a limit, or a refused body: `status` goes out, then the connection ends.
    mutating func headRejected(status: Int) -> Action {
        guard state == .idle || state == .readingHead else { return .close }
        state = .lingering
        deadline = .linger
        return .rejectAndClose(status: status)
    }

    /// The body broke a limit before the handler answered: the server answers `status` itself.
    mutating func bodyRefused(status: Int) -> Action {
        guard state == .handling && !responseComplete else { return bodyFailed() }
        state = .lingering
        deadline = .linger
        return .rejectAndClose(status: status)
    }

    /// Body bytes arrived: the stall deadline starts again.
    mutating func bodyProgressed() -> Action {
        if state == .handling && !bodyComplete { deadline = .body }
        return .none
    }

    mutating func bodyCompleted() -> Action {
        bodyComplete = true
        switch state {
        case .handling:
            deadline = .none
            return responseComplete ? nextRequest(keepAlive: true) : .none
        case .draining:
            return nextRequest(keepAlive: true)
        default:
            return .none
        }
    }

    /// The chunked body was malformed. Before the response, the handler sees a body error;
    /// either way the framing is lost and the connection cannot be reused.
    mutating func bodyFailed() -> Action {
        switch state {
        case .handling where responseComplete, .draining:
            state = .closed
            return .close
        case .handling:
            bodyComplete = true
            shuttingDown = true
            deadline = .none
            return .none
        default:
            return .none
        }
    }

    /// The response has been written completely.
    mutating func responseCompleted(keepAlive: Bool) -> Action {
        guard state == .handling else { return .none }
        responseComplete = true
        if !keepAlive || shuttingDown {
            state = .lingering
            deadline = .linger
            return .linger
        }
        if !bodyComplete {
            state = .draining
            deadline = .body
            return .none
        }
        return nextRequest(keepAlive: true)
    }

    /// The response cannot complete (the handler aborted): close once queued bytes are out.
    mutating func responseAborted() -> Action {
        state = .closed
        return .close
    }

    mutating func peerClosed() -> Action {
        switch state {
        case .handling where !responseComplete:
            state = .closed
            return .abortExchangeAndClose
        case .closed:
            return .none
        default:
            state = .closed
            return .close
        }
    }

    mutating func writeFailed() -> Action { peerClosed() }

    mutating func deadlinePassed() -> Action {
        switch (state, deadline) {
        case (.readingHead, .header):
            state = .lingering
            deadline = .linger
            return .rejectAndClose(status: 408)
        case (.handling, .body):
            state = .closed
            return .abortExchangeAndClose
        case (_, .none):
            return .none
        default:
            state = .closed
            return .close
        }
    }

    /// The server is stopping: an idle connection gets the quiet-period deadline; a busy one
    /// finishes its request (see `serverStopping`).
    mutating func serverStopRequested() -> Action {
        serverStopping = true
        if state == .idle { deadline = .stopQuiet }
        return .none
    }

    /// This connection must end: idle connections close now; busy ones close after their response.
    mutating func shutdownRequested() -> Action {
        shuttingDown = true
        switch state {
        case .idle:
            state = .closed
            return .close
        case .readingHead:
            return .none  // let the head finish; its response will carry Connection: close
        default:
            return .none
        }
    }

    private mutating func nextRequest(keepAlive: Bool) -> Action {
        if shuttingDown {
            state = .lingering
            deadline = .linger
            return .linger
        }
        state = .idle
        // A response that promised keep-alive is not followed by a close: the client may already
        // be sending its next request, which gets answered (with `Connection: close`) instead.
        deadline = serverStopping ? .stopQuiet : .idle
        bodyComplete = true
        responseComplete = false
        return .parseNext
    }
}
