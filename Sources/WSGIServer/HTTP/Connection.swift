#if canImport(Glibc)
import Glibc
#endif
import Reactor

/// One accepted socket on the server thread: reads until EAGAIN, parses, feeds the request
/// body to the exchange, writes what the handler produced, and follows its state machine.
final class Connection: EventHandler, TimerTarget, LoopTask, ExchangeOwner, @unchecked Sendable {
    // @unchecked Sendable: every member is touched on the loop thread only; other threads reach
    // a connection solely through `exchangeNeedsService`, which posts it to the loop.

    private(set) var fd: Int32
    // unowned(unsafe): no reference counting on every use; the server owns its connections'
    // table and lives until the process exits, so it outlives each of them.
    private unowned(unsafe) let server: HTTPServer
    private let loop: EventLoop
    private var machine = ConnectionStateMachine()
    private var parser: RequestParser
    private var chunkedDecoder = ChunkedDecoder()
    private var input: ReadBuffer
    private var output: [UInt8] = []
    private var outputOffset = 0
    /// Bytes at the front of `output` that are not the exchange's (100 Continue, error pages).
    private var ownBytesInOutput = 0
    private var scratch: [UInt8] = []
    private var pendingFile: FileJob?
    private var pendingBody: BorrowedBody?
    /// The response just completed answered a request that asked for the close, with all of
    /// its input read.
    private var closesWithoutLinger = false
    private var exchange: HTTPExchange
    private let timer = Timer()
    private var timerKind: ArmedTimer = .none

    /// The deadline the connection's one timer is armed for: the state machine's, or a write
    /// stall, which only the connection sees.
    private enum ArmedTimer: Equatable {
        case none, idle, header, bodyStall, writeStall, linger, stopQuiet
    }
    private var writeStalled = false

    private var bodyRemaining = 0
    private var bodyIsChunked = false
    private var bodyReceived = 0
    /// Body bytes read and dropped after the response, which the handler did not want.
    private var drained = 0
    private var bodyPaused = false
    private var exchangeActive = false
    private var responseFinished = false
    private var responseKeepAlive = true
    private var responseAborted = false
    private var lingerAfterFlush = false
    private var closeAfterFlush = false
    private var readable = true
    private var inputBlockedByPipeline = false
    /// The peer shut its write side: its EOF follows the data and raises no edge of its own.
    private var peerHungUp = false
    private var awaitingContinue = false
    /// For the access log and the metrics (only when one is on): when the request's first byte
    /// was taken up, and the response facts.
    private var requestStartNanos: UInt64 = 0
    /// The server's access log and metrics slot, fixed before any connection exists; read once
    /// here rather than through `server` on every request.
    private let accessLog: AccessLog?
    private let metrics: ScoreboardSlot?
    /// Requests are timed (a clock read when one starts and when it ends) only for these two.
    private let timesRequests: Bool
    private var responseStatus = 0
    private var responseBodyBytes = 0

    /// Pipelined bytes buffered beyond this while a request is handled stop further reads.
    private static let pipelineBufferLimit = 64 * 1024
    private static let lingerMilliseconds: Int64 = 2000
    /// How long an idle connection stays open once the server is stopping (at most the idle
    /// time-out). A client that sends its next request right after a response gets it answered;
    /// one that stays quiet this long is closed.
    static let stopQuietMilliseconds: Int64 = 1000
    private static let drainLimit = 1024 * 1024
    /// Output capacity an idle connection may keep for its next response.
    private static let idleOutputCapacity = 16 * 1024
    private static let continueLine: [UInt8] = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    init(fd: Int32, server: HTTPServer, info: ConnectionInfo) {
        self.fd = fd
        self.server = server
        loop = server.loop
        parser = RequestParser(limits: server.configuration.parserLimits)
        let limits = server.configuration.parserLimits
        input = ReadBuffer(maximumCapacity: max(64 * 1024, limits.requestLine + limits.headerCount * (limits.fieldLength + 2) + 4096),
                           blockCache: server.readBlocks)
        accessLog = server.accessLog
        metrics = server.metrics
        timesRequests = accessLog != nil || metrics != nil
        exchange = HTTPExchange(connection: info, owner: nil)
        exchange.attach(owner: self)
        timer.target = self
    }

    deinit {
        // A worker may drop the last reference (it holds the connection while posting output),
        // so not through the server thread's block cache. closeNow() has given the block back
        // already; this only frees what a connection that never closed still holds.
        input.deallocateUncached()
    }

    var isIdle: Bool { machine.state == .idle }

    // MARK: Reuse

    /// The loop iteration in which the connection closed (see `isReusable`).
    private var closedInIteration: UInt64 = 0

    /// A closed connection can serve a new socket once nothing but the server's pool holds it
    /// (the pool checks the connection itself) and nothing holds its exchange: not a worker
    /// still finishing a request whose client left, not the hand-off queue. Only from the loop
    /// iteration after its close: by then no code of it is on the loop's stack. The reference
    /// count is read with acquire ordering, so a worker's last use happens before.
    func isReusable(inIteration iteration: UInt64) -> Bool {
        isClosed && closedInIteration < iteration && isKnownUniquelyReferenced(&exchange)
    }

    /// Readies a closed connection from the server's pool for a new socket: every per-connection
    /// var back to its initial value (keep in step with the declarations above), the exchange
    /// and the parser's storage kept.
    func reopen(fd: Int32, info: ConnectionInfo) {
        self.fd = fd
        machine = ConnectionStateMachine()
        parser.reset()
        chunkedDecoder = ChunkedDecoder()
        input.deallocate()
        output.removeAll()
        outputOffset = 0
        ownBytesInOutput = 0
        scratch.removeAll()
        pendingFile = nil
        pendingBody = nil
        closesWithoutLinger = false
        exchange.recycle(for: info, owner: self)
        timer.target = self
        timerKind = .none
        writeStalled = false
        bodyRemaining = 0
        bodyIsChunked = false
        bodyReceived = 0
        drained = 0
        bodyPaused = false
        exchangeActive = false
        responseFinished = false
        responseKeepAlive = true
        responseAborted = false
        lingerAfterFlush = false
        closeAfterFlush = false
        readable = true
        inputBlockedByPipeline = false
        peerHungUp = false
        awaitingContinue = false
        requestStartNanos = 0
        responseStatus = 0
        responseBodyBytes = 0
        requestStartedAt = 0
        olderInFlight = nil
        newerInFlight = nil
        isClosed = false
    }

    // In-flight bookkeeping kept by the server (see `HTTPServer.requestStarted`): requests in
    // start order, as an intrusive list, so the oldest one is known without a search.
    var requestStartedAt: Int64 = 0
    var olderInFlight: Connection?
    var newerInFlight: Connection?

    /// "METHOD TARGET" of the current request, as sent (for the stuck-request watchdog's log).
    func withRequestLine<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        exchange.withHeadBytes { head in
            let request = exchange.request
            let end = min(request.target.upperBound, head.count)
            let start = min(request.method.lowerBound, end)
            return body(UnsafeRawBufferPointer(rebasing: head[start..<end]))
        }
    }

    // MARK: Events

    func handleEvents(_ events: IOEvents) {
        if events.contains(.error) {
            perform(machine.peerClosed())
            return
        }
        if events.contains(.writable) {
            flushOutput()
        }
        if events.contains(.hangup) { peerHungUp = true }
        if events.contains(.readable) || events.contains(.hangup) {
            readable = true
            readInput()
        }
        updateTimer()
    }

    func timerFired(_ timer: Timer) {
        timerKind = .none
        if writeStalled {
            Log.info("closing connection from \(exchange.connection.remoteAddress): client stopped reading")
            perform(machine.writeFailed())
            return
        }
        perform(machine.deadlinePassed())
        updateTimer()
    }

    /// Called from any thread by the exchange; the work happens on the loop.
    func exchangeNeedsService() {
        if loop.isInLoopThread {
            loop.deferTask(self)
        } else {
            loop.post(self)
        }
    }

    func runOnLoop() {
        guard machine.state != .closed, exchangeActive else { return }
        let out = exchange.collect(into: &scratch)
        if out.sendContinue {
            awaitingContinue = false
            output.append(contentsOf: Self.continueLine)
            ownBytesInOutput += Self.continueLine.count
        }
        if !scratch.isEmpty {
            if output.isEmpty {
                swap(&output, &scratch)
            } else {
                output.append(contentsOf: scratch)
                scratch.removeAll(keepingCapacity: true)
            }
        }
        if let file = out.file, pendingFile == nil { pendingFile = file }
        if let body = out.borrowed { pendingBody = body }
        responseFinished = out.finished
        responseKeepAlive = out.keepAlive
        responseAborted = out.aborted
        responseStatus = out.status
        responseBodyBytes = out.bodyBytes
        flushOutput()
        if out.resumeBody && machine.state != .closed {
            bodyPaused = false
            processInput()
            readInput()
        }
        updateTimer()
    }

    /// Graceful stop of the server: a response whose head is not out yet says `Connection: close`;
    /// idle connections close after a quiet period (see `ConnectionStateMachine.serverStopping`).
    func shutdown() {
        exchange.requestClose()
        perform(machine.serverStopRequested())
        updateTimer()
    }

    /// Immediate stop at the end of the graceful period.
    func forceClose() {
        perform(.abortExchangeAndClose)
    }

    // MARK: Reading

    /// Room to read into: a request head fits a page; a body coming in is read up to 64 KiB at
    /// a time (a 64 KiB upload was sixteen recv calls at 4 KiB). The buffer is freed again once
    /// the connection is idle.
    private var readSize: Int {
        guard machine.state == .handling, !machine.bodyComplete else { return 4096 }
        if bodyIsChunked { return Self.bodyReadSize }
        return min(Self.bodyReadSize, max(4096, bodyRemaining))
    }

    private static let bodyReadSize = 64 * 1024

    /// The rest of a Content-Length body, with nothing of it buffered here: received straight
    /// into the exchange's body buffer, one copy less (read buffer to exchange) per byte.
    private var readsBodyDirectly: Bool {
        machine.state == .handling && !machine.bodyComplete && !bodyIsChunked && bodyRemaining > 0
            && input.isEmpty && !bodyPaused
    }

    /// `n` bytes of the body went straight to the exchange (see `readsBodyDirectly`); the same
    /// bookkeeping as `feedBody`'s for a Content-Length body.
    private func bodyReceivedDirectly(_ n: Int, overHighWater: Bool) {
        bodyRemaining -= n
        if bodyRemaining == 0 {
            finishBody(discard: false)
            return
        }
        _ = machine.bodyProgressed()
        if overHighWater { bodyPaused = true }
    }

    private func readInput() {
        while readable && !bodyPaused && !inputBlockedByPipeline && machine.state != .closed {
            if machine.state == .handling && machine.bodyComplete && input.count >= Self.pipelineBufferLimit {
                inputBlockedByPipeline = true
                return
            }
            let n: Int
            let wanted: Int
            var overHighWater = false
            let direct = readsBodyDirectly
            if direct {
                wanted = min(bodyRemaining, Self.bodyReadSize)
                (n, overHighWater) = exchange.receiveBody(limit: wanted) { recv(fd, $0, $1, 0) }
            } else {
                guard input.reserveFree(readSize) else {
                    // Only reachable past every parser limit; the parser reports it first.
                    perform(machine.headRejected(status: 431))
                    return
                }
                let free = input.free
                wanted = free.count
                n = recv(fd, free.baseAddress, free.count, 0)
            }
            if n > 0 {
                if direct {
                    bodyReceivedDirectly(n, overHighWater: overHighWater)
                } else {
                    input.commit(n)
                    processInput()
                }
                // A short read drained the socket and the next edge reports anything newer,
                // unless the peer's FIN came with this edge: then read on to see the EOF.
                if n < wanted && !peerHungUp {
                    readable = false
                    loop.rearm(fd: fd, events: .readable)
                    releaseIdleBuffers()
                }
            } else if n == 0 {
                readable = false
                inputEnded()
            } else {
                switch errno {
                case EINTR:
                    continue
                case EAGAIN, EWOULDBLOCK:
                    readable = false
                    loop.rearm(fd: fd, events: .readable)
                    releaseIdleBuffers()
                default:
                    readable = false
                    perform(machine.peerClosed())
                }
            }
        }
    }

    /// An idle keep-alive connection waiting for its next request holds no buffers: the read
    /// buffer comes back on the next read, and output capacity grown by a large response goes.
    private func releaseIdleBuffers() {
        guard machine.state == .idle, input.isEmpty else { return }
        input.deallocate()
        if output.capacity > Self.idleOutputCapacity && outputOffset == output.count {
            output = []
            outputOffset = 0
        }
        if scratch.capacity > Self.idleOutputCapacity { scratch = [] }
    }

    private func inputEnded() {
        switch machine.state {
        case .handling where machine.bodyComplete && !machine.responseComplete:
            // Half-closed: the client may still read; finish this response, then close.
            exchange.requestClose()
            perform(machine.shutdownRequested())
        case .lingering:
            perform(.close)
        default:
            perform(machine.peerClosed())
        }
    }

    /// Consumes as much buffered input as the current state allows.
    private func processInput() {
        while true {
            switch machine.state {
            case .idle, .readingHead:
                guard !input.isEmpty else { return }
                if !parseHead() { return }
            case .handling:
                if !machine.bodyComplete && !bodyPaused { feedBody(discard: false) }
                return
            case .draining:
                feedBody(discard: true)
                if machine.state == .draining { return }
            case .lingering:
                input.removeAll()
                return
            case .closed:
                return
            }
        }
    }

    /// Returns true when a request was dispatched and parsing may continue.
    private func parseHead() -> Bool {
        if machine.state == .idle {
            _ = machine.headBytesArrived()
            if timesRequests { requestStartNanos = Self.monotonicNanos() }
        }
        switch parser.parse(input.readable) {
        case .partial:
            return false
        case .invalid(let error):
            reject(status: error.status, detail: error.reason)
            return false
        case .complete(let headLength):
            // Read off what is needed now, not a copy of the request: a copy alive across
            // `parser.reset()` would make the reset reallocate the header storage.
            let framing = parser.request.framing
            let expectContinue = parser.request.expectContinue
            if case .length(let n) = framing, let limit = server.configuration.maxBody, n > limit {
                reject(status: 413, detail: "body exceeds \(limit) bytes")
                return false
            }
            exchange.prepare(request: parser.request, head: UnsafeRawBufferPointer(rebasing: input.readable[0..<headLength]),
                             trusted: exchange.connection.trustsForwarded ? server.configuration.forwardedAllowIPs : nil)
            input.consume(headLength)
            parser.reset()
            bodyReceived = 0
            drained = 0
            bodyPaused = false
            switch framing {
            case .none:
                bodyRemaining = 0
                bodyIsChunked = false
            case .length(let n):
                bodyRemaining = n
                bodyIsChunked = false
            case .chunked:
                bodyRemaining = 0
                bodyIsChunked = true
                chunkedDecoder.reset()
            }
            let bodyComplete = !bodyIsChunked && bodyRemaining == 0
            let lastRequest = server.requestStarted(self)
            if machine.shuttingDown || machine.serverStopping || lastRequest { exchange.requestClose() }
            awaitingContinue = expectContinue && !bodyComplete
            exchangeActive = true
            responseFinished = false
            responseAborted = false
            _ = machine.headParsed(bodyComplete: bodyComplete)
            server.handOff(exchange)
            return true
        }
    }

    private func feedBody(discard: Bool) {
        guard !input.isEmpty else { return }
        var delivered = 0
        var overHighWater = false
        let limit = server.configuration.maxBody
        if bodyIsChunked {
            // Hand the decoder a bounded slice so body back-pressure takes effect between calls.
            let slice = UnsafeRawBufferPointer(rebasing: input.readable.prefix(256 * 1024))
            do {
                let (consumed, done) = try chunkedDecoder.decode(slice) { data in
                    delivered += data.count
                    if !discard && exchange.deliverBody(data) { overHighWater = true }
                }
                input.consume(consumed)
                bodyReceived += delivered
                if let limit, bodyReceived > limit {
                    refuseBody(status: 413, detail: "body exceeds \(limit) bytes")
                    return
                }
                if done {
                    finishBody(discard: discard)
                    return
                }
            } catch {
                refuseBody(status: error.status, detail: "bad chunked body: \(error.reason)")
                return
            }
        } else {
            let n = min(bodyRemaining, input.count)
            if n > 0 {
                let data = UnsafeRawBufferPointer(rebasing: input.readable[0..<n])
                if !discard && exchange.deliverBody(data) { overHighWater = true }
                input.consume(n)
                bodyRemaining -= n
                delivered = n
            }
            if bodyRemaining == 0 {
                finishBody(discard: discard)
                return
            }
        }
        if discard {
            drained += delivered
            if drained > Self.drainLimit {
                // Reading a large unwanted body costs more than a new connection would.
                perform(machine.bodyFailed())
                return
            }
        }
        if delivered > 0 { _ = machine.bodyProgressed() }
        if overHighWater { bodyPaused = true }
    }

    private func finishBody(discard: Bool) {
        if !discard { exchange.endBody() }
        perform(machine.bodyCompleted())
    }

    /// Answers with `status` in place of the handler if it has sent nothing yet; otherwise the
    /// body just fails and the connection closes after the handler's response.
    private func refuseBody(status: Int, detail: String) {
        guard machine.state == .handling, exchange.abandon() else {
            Log.info("request body from \(exchange.connection.remoteAddress): \(detail)")
            failBody(status: status)
            return
        }
        exchangeActive = false
        server.requestFinished(self)
        if case .rejectAndClose(let status) = machine.bodyRefused(status: status) {
            reject(status: status, detail: detail)
        } else {
            perform(.close)
        }
    }

    private func failBody(status: Int) {
        exchange.failBody(status: status)  // also makes the response close the connection
        perform(machine.bodyFailed())
    }

    // MARK: Writing

    /// Writes the lent body; true once it is all out (and given back). False when the socket is
    /// full (the rest waits for writability) or the write failed (the connection is closing).
    private func flushBorrowedBody() -> Bool {
        guard var body = pendingBody else { return true }
        while body.offset < body.count {
            let n = send(fd, body.base + body.offset, body.count - body.offset, Int32(MSG_NOSIGNAL))
            if n >= 0 {
                body.offset += n
                writeStalled = false
                continue
            }
            // Kept on failure too: closing the connection gives the body back.
            pendingBody = body
            if retryAfterWriteError() { continue }
            return false
        }
        pendingBody = nil
        body.release()
        return true
    }

    /// After a write returned -1: true to retry (EINTR); otherwise writing stops, waiting for
    /// writability (EAGAIN) or with the connection failed.
    private func retryAfterWriteError() -> Bool {
        switch errno {
        case EINTR:
            return true
        case EAGAIN, EWOULDBLOCK:
            awaitWritable()
            return false
        default:
            perform(machine.writeFailed())
            return false
        }
    }

    /// `n` bytes from the front of `output` went out: the exchange learns how many of them
    /// were its own (not a 100 Continue or an error page of the connection's).
    private func outputWritten(_ n: Int) {
        outputOffset += n
        let own = min(n, ownBytesInOutput)
        ownBytesInOutput -= own
        if n - own > 0 { exchange.confirmWritten(n - own) }
        writeStalled = false
    }

    /// The socket is full: wait for it to drain. The write-stall deadline counts from the first
    /// EAGAIN of a stall, so only that one re-arms the timer.
    private func awaitWritable() {
        loop.rearm(fd: fd, events: .writable)
        if !writeStalled {
            writeStalled = true
            timerKind = .none  // forces the write deadline to be armed
        }
    }

    /// A head and the lent body behind it go out in one sendmsg: one system call, and the body
    /// continues the head's segment instead of following a segment of its own. Returns false
    /// when writing must stop (the socket is full, or the write failed).
    private func sendHeadWithBorrowedBody() -> Bool {
        guard var body = pendingBody, outputOffset < output.count, body.offset < body.count else { return true }
        while true {
            let headCount = output.count - outputOffset
            let n = output.withUnsafeBytes { head -> Int in
                var vectors = (
                    iovec(iov_base: UnsafeMutableRawPointer(mutating: head.baseAddress! + outputOffset), iov_len: headCount),
                    iovec(iov_base: UnsafeMutableRawPointer(mutating: body.base + body.offset), iov_len: body.count - body.offset))
                return withUnsafeMutableBytes(of: &vectors) { raw in
                    var message = msghdr()
                    message.msg_iov = raw.baseAddress!.assumingMemoryBound(to: iovec.self)
                    message.msg_iovlen = 2
                    return sendmsg(fd, &message, Int32(MSG_NOSIGNAL))
                }
            }
            if n >= 0 {
                let fromHead = min(n, headCount)
                outputWritten(fromHead)
                body.offset += n - fromHead
                pendingBody = body
                return true
            }
            if retryAfterWriteError() { continue }
            return false
        }
    }

    private func flushOutput() {
        if pendingBody != nil && !sendHeadWithBorrowedBody() { return }
        while outputOffset < output.count {
            let n = output.withUnsafeBytes { bytes in
                send(fd, bytes.baseAddress! + outputOffset, bytes.count - outputOffset, Int32(MSG_NOSIGNAL))
            }
            if n >= 0 {
                outputWritten(n)
                continue
            }
            if retryAfterWriteError() { continue }
            return
        }
        output.removeAll(keepingCapacity: true)
        outputOffset = 0
        if pendingBody != nil && !flushBorrowedBody() { return }
        if var file = pendingFile {
            while file.remaining > 0 {
                var offset = off_t(file.offset)
                let n = sendfile(fd, file.fd, &offset, file.remaining)
                if n > 0 {
                    file.offset += n
                    file.remaining -= n
                    writeStalled = false
                    continue
                }
                if n == 0 { break }  // the file is shorter than promised
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK {
                    pendingFile = file
                    awaitWritable()
                    return
                }
                pendingFile = nil
                file.closeIfOwned()
                exchange.fileJobDone()
                perform(machine.writeFailed())
                return
            }
            pendingFile = nil
            file.closeIfOwned()
            if file.remaining > 0 { exchange.abort() }
            exchange.fileJobDone()
        }
        writeStalled = false
        if exchangeActive && responseFinished {
            exchangeActive = false
            responseFinished = false
            server.requestFinished(self)
            if timesRequests {
                let micros = (Self.monotonicNanos() &- requestStartNanos) / 1000
                // Status 0: aborted before a head went out; no response to count.
                if responseStatus > 0 { metrics?.recordResponse(status: responseStatus, durationMicroseconds: micros) }
                accessLog?.record(exchange, AccessLogEntry(status: responseStatus, bodyBytes: responseBodyBytes, durationMicroseconds: Int(micros)))
            }
            if responseAborted {
                perform(machine.responseAborted())
            } else {
                // A client that asked for the close and sent everything it meant to needs no
                // lingering: see `startLinger`.
                closesWithoutLinger = !exchange.request.keepAlive && machine.bodyComplete && input.isEmpty
                perform(machine.responseCompleted(keepAlive: responseKeepAlive))
            }
        } else if lingerAfterFlush {
            lingerAfterFlush = false
            startLinger()
        } else if closeAfterFlush {
            perform(.close)
        }
    }

    // MARK: Actions

    private func perform(_ action: ConnectionStateMachine.Action) {
        switch action {
        case .none, .dispatch:
            break
        case .parseNext:
            processInput()
            if inputBlockedByPipeline {
                inputBlockedByPipeline = false
                readable = true
                readInput()
            }
            if !readable { releaseIdleBuffers() }
        case .rejectAndClose(let status):
            reject(status: status, detail: status == 408 ? "request head not received in time" : "")
        case .linger:
            if output.count > outputOffset || pendingFile != nil || pendingBody != nil {
                lingerAfterFlush = true
            } else {
                startLinger()
            }
        case .close:
            if output.count > outputOffset && machine.state != .closed {
                closeAfterFlush = true
            } else {
                closeNow()
            }
        case .abortExchangeAndClose:
            closeNow()
        }
    }

    private func reject(status: Int, detail: String) {
        Log.info("\(status) \(ErrorResponse.reasonPhrase(status)) from \(exchange.connection.remoteAddress):\(exchange.connection.remotePort)\(detail.isEmpty ? "" : ": \(detail)")")
        if machine.state == .idle || machine.state == .readingHead {
            _ = machine.headRejected(status: status)
        }
        input.removeAll()
        let bodyBytes = ErrorResponse.append(status: status, detail: detail, to: &output)
        accessLog?.recordRejected(remoteAddress: exchange.connection.remoteAddress, status: status, bodyBytes: bodyBytes)
        if let metrics {
            metrics.recordResponse(status: status, durationMicroseconds: (Self.monotonicNanos() &- requestStartNanos) / 1000)
        }
        ownBytesInOutput = output.count - outputOffset
        lingerAfterFlush = true
        flushOutput()
    }

    /// Half-close, then read and drop whatever the client still sends: closing with unread
    /// input would reset the connection and could destroy the response before it is read.
    private func startLinger() {
        guard machine.state != .closed else { return }
        if closesWithoutLinger {
            closesWithoutLinger = false
            // Lingering protects a response from the reset a close with unread input causes.
            // The client asked for the close and nothing is unread: close at once (a FIN, no
            // reset), as nginx does, saving a shutdown, two reads and a wake-up per request.
            var byte: UInt8 = 0
            let n = recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
            if n == 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                closeNow()
                return
            }
        }
        Glibc.shutdown(fd, Int32(SHUT_WR))
        input.removeAll()
        timerKind = .none
        readable = true
        while readable {
            guard input.reserveFree(readSize) else { break }
            let free = input.free
            let n = recv(fd, free.baseAddress, free.count, 0)
            if n > 0 {
                input.removeAll()
                continue
            }
            if n < 0 && errno == EINTR { continue }
            readable = false
            if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) {
                closeNow()
                return
            }
            loop.rearm(fd: fd, events: .readable)
        }
        updateTimer()
    }

    private func closeNow() {
        guard fd >= 0, !isClosed else { return }
        isClosed = true
        _ = machine.peerClosed()
        loop.timers.cancel(timer)
        // The timer may already be collected as due in this iteration (the server's shutdown
        // timer closes connections from the same batch): without a target it fires into nothing.
        timer.target = nil
        loop.deregister(fd: fd, closing: true)
        closeDescriptor(fd)
        if exchangeActive {
            exchangeActive = false
            server.requestFinished(self)
        }
        exchange.connectionClosed()
        pendingFile?.closeIfOwned()
        pendingFile = nil
        pendingBody?.release()
        pendingBody = nil
        output = []
        scratch = []
        input.deallocate()
        closedInIteration = loop.iteration
        server.connectionClosed(self)
    }

    private var isClosed = false

    private static func monotonicNanos() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    private func wantedTimer() -> ArmedTimer {
        if writeStalled { return .writeStall }
        switch machine.deadline {
        case .none: return .none
        case .idle: return .idle
        case .header: return .header
        // A body that is not arriving because we paused it, or because the client is waiting
        // for a 100 Continue the application has not asked for yet, is not the client stalling.
        case .body: return bodyPaused || awaitingContinue ? .none : .bodyStall
        case .linger: return .linger
        case .stopQuiet: return .stopQuiet
        }
    }

    private func updateTimer() {
        guard !isClosed else { return }
        let wanted = wantedTimer()
        if wanted == .none {
            loop.timers.cancel(timer)
            timerKind = .none
            return
        }
        // The body-stall deadline restarts on every event; the others count from when their
        // kind began (a write stall from its first EAGAIN, the header deadline from the first
        // byte of the head).
        if wanted == timerKind && timer.isArmed && wanted != .bodyStall { return }
        let config = server.configuration
        let seconds: Double
        switch wanted {
        case .idle: seconds = config.idleTimeout
        case .header: seconds = config.headerTimeout
        case .bodyStall: seconds = config.bodyTimeout
        case .writeStall: seconds = config.writeTimeout
        case .linger: seconds = Double(Self.lingerMilliseconds) / 1000
        case .stopQuiet: seconds = min(config.idleTimeout, Double(Self.stopQuietMilliseconds) / 1000)
        case .none: seconds = 0
        }
        loop.timers.arm(timer, deadline: loop.now + Int64(seconds * 1000))
        timerKind = wanted
    }
}
