import Reactor

/// The connection side of an exchange: told when the handler produced output, finished,
/// wants `100 Continue`, or freed room in the request body buffer. Called from any thread.
protocol ExchangeOwner: AnyObject, Sendable {
    func exchangeNeedsService()
}

/// A file segment that the server thread sends with sendfile(2): for a handler blocked until it
/// is sent, or, when `ownsDescriptor`, as the end of a response the handler has already left
/// (the server thread then closes `fd` once it is sent or the connection goes away).
struct FileJob {
    var fd: Int32
    var offset: Int
    var remaining: Int
    var ownsDescriptor = false

    /// Gives back a descriptor the job owns (sent, failed or abandoned).
    func closeIfOwned() {
        if ownsDescriptor { closeDescriptor(fd) }
    }
}

/// What the server thread collects from an exchange when serviced.
struct ExchangeOutput {
    var finished = false
    var aborted = false
    var keepAlive = true
    var file: FileJob?
    /// The lent rest of the body (after what was collected), handed over once.
    var borrowed: BorrowedBody?
    var sendContinue = false
    var resumeBody = false
    /// The response's status code (0 until the head is committed), for the access log.
    var status = 0
    /// Response body bytes queued so far, without chunk framing, for the access log.
    var bodyBytes = 0
}

/// One request and its response, shared by the server thread and the handler.
///
/// The server thread fills in the request and feeds body bytes; the handler (a worker thread,
/// or the server thread itself for the internal responder) reads the body and produces the
/// response. Everything the two sides share is guarded by `lock`. The exchange object is reused
/// for each request on a connection, so it must not be touched after `finish()` or `abort()`.
public final class HTTPExchange: @unchecked Sendable {
    // @unchecked Sendable: the request fields are written before `handle` and read-only while
    // the handler runs; head composition is handler-only; everything shared sits behind `lock`.

    public private(set) var request = ParsedRequest()
    /// What a trusted proxy said about the client; empty unless the peer is trusted.
    public private(set) var forwarded = ForwardedRequest()
    /// Set at creation and when the server hands a recycled exchange to a new connection,
    /// never while a handler holds the exchange.
    public private(set) var connection: ConnectionInfo
    private var head: [UInt8] = []

    /// Queued response bytes above this make `send` answer `.backpressure`.
    static let highWater = 256 * 1024
    /// `waitForDrain` returns once queued output is at or below this.
    static let lowWater = 64 * 1024
    /// Buffered request body above this pauses reading from the socket.
    static let bodyHighWater = 256 * 1024

    private let lock = ConditionLock(conditions: 2)
    private static let bodyCondition = 0
    private static let drainCondition = 1

    // Shared state, guarded by `lock`.
    private var owner: ExchangeOwner?
    private var outbox: [UInt8] = []
    private var inFlight = 0
    private var fileJob: FileJob?
    private var borrowed: BorrowedBody?
    private var serviceRequested = false
    private var outputFinished = false
    private var aborted = false
    private var closed = false
    private var keepAlive = true
    private var forceClose = false
    /// Request body bytes received and not yet read by the handler. A manual buffer: the
    /// server thread receives a Content-Length body straight into it (`receiveBody`).
    private var body = ReadBuffer(maximumCapacity: Int.max / 2)
    private var bodyComplete = false
    private var bodyFailed = false
    /// Why the body failed when the client sent a bad one (400 malformed chunked, 413 too large).
    private var bodyErrorStatus: Int?
    private var bodyPaused = false
    private var resumeBodyWanted = false
    private var continueWanted = false
    private var continueSent = false
    private var responseStatus = 0
    private var responseBodyBytes = 0

    // Handler-thread state.
    private var headBuilder = ResponseHeadBuilder()
    private var framing: ResponseFraming = .noBody
    private var lengthRemaining = 0
    private var dropBody = false
    public private(set) var isHeadCommitted = false
    private var finishedByHandler = false

    init(connection: ConnectionInfo, owner: ExchangeOwner?) {
        self.connection = connection
        self.owner = owner
    }

    deinit {
        body.deallocate()
    }

    /// Ties the exchange to its connection; `connectionClosed()` unties it (breaking the cycle).
    func attach(owner: ExchangeOwner) {
        lock.withLock { self.owner = owner }
    }

    /// Readies an exchange a closed connection left for a new one. Only for an exchange nothing
    /// else references (no handler, no queue, no connection): the server checks that first.
    /// Buffers a large request or response grew are dropped; small ones are what is reused.
    func recycle(for connection: ConnectionInfo, owner: ExchangeOwner) {
        self.connection = connection
        if head.capacity > Self.recycledCapacity { head = [] }
        lock.withLock {
            self.owner = owner
            if outbox.capacity > Self.recycledCapacity { outbox = [] }
            if body.capacity > Self.recycledCapacity { body.deallocate() }
        }
    }

    /// Buffer capacity a recycled exchange keeps.
    private static let recycledCapacity = 16 * 1024

    /// A free-standing exchange for tests: `collect` drains what the handler produced.
    public static func forTesting(request: ParsedRequest, head: [UInt8], connection: ConnectionInfo,
                                  trusted: ForwardedAllowList? = nil) -> HTTPExchange {
        let exchange = HTTPExchange(connection: connection, owner: nil)
        head.withUnsafeBytes { exchange.prepare(request: request, head: $0, trusted: trusted) }
        return exchange
    }

    /// The raw request head; `request`'s offsets index into it.
    public func withHeadBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try head.withUnsafeBytes(body)
    }

    // MARK: Server thread

    /// Resets for the next request on the connection and copies its head. Field by field:
    /// assigning `request` whole would share the parser's header storage, and the parser's next
    /// `reset()` would then allocate a copy on every request.
    /// `trusted`: the allow list when the peer is a trusted proxy, else nil (headers ignored).
    func prepare(request: ParsedRequest, head source: UnsafeRawBufferPointer, trusted: ForwardedAllowList? = nil) {
        self.request.method = request.method
        self.request.target = request.target
        self.request.path = request.path
        self.request.query = request.query
        self.request.versionMinor = request.versionMinor
        self.request.headers.removeAll(keepingCapacity: true)
        self.request.headers.append(contentsOf: request.headers)
        self.request.framing = request.framing
        self.request.keepAlive = request.keepAlive
        self.request.expectContinue = request.expectContinue
        self.request.methodIsHead = request.methodIsHead
        self.request.headLength = request.headLength
        head.removeAll(keepingCapacity: true)
        head.append(contentsOf: source)
        if let trusted {
            forwarded = ForwardedRequest.resolve(request, head: source, trusted: trusted)
        } else if !forwarded.isEmpty {
            forwarded = ForwardedRequest()
        }
        let lent = lock.withLock { () -> BorrowedBody? in
            defer { borrowed = nil }
            return borrowed
        }
        lent?.release()  // never expected: a finished response's body was collected
        lock.withLock {
            outbox.removeAll(keepingCapacity: true)
            inFlight = 0
            closeOwnedFileLocked()
            fileJob = nil
            serviceRequested = false
            outputFinished = false
            aborted = false
            closed = false
            keepAlive = request.keepAlive
            forceClose = false
            body.removeAll()
            switch request.framing {
            case .none, .length(0): bodyComplete = true
            default: bodyComplete = false
            }
            bodyFailed = false
            bodyErrorStatus = nil
            bodyPaused = false
            resumeBodyWanted = false
            continueWanted = false
            continueSent = false
            responseStatus = 0
            responseBodyBytes = 0
        }
        headBuilder.reset()
        isHeadCommitted = false
        finishedByHandler = false
    }

    /// Takes queued output: swaps the outbox into `buffer` (which must be empty).
    func collect(into buffer: inout [UInt8]) -> ExchangeOutput {
        lock.withLock {
            serviceRequested = false
            swap(&outbox, &buffer)
            var out = ExchangeOutput()
            out.finished = outputFinished
            out.aborted = aborted
            // What the head told the client (a `forceClose` before the head was folded into it).
            // A close the server wants after the head is out is the connection's decision.
            out.keepAlive = keepAlive
            out.file = fileJob
            if fileJob?.ownsDescriptor == true { fileJob = nil }  // the connection owns it now
            out.borrowed = borrowed
            borrowed = nil
            out.status = responseStatus
            out.bodyBytes = responseBodyBytes
            if continueWanted && !continueSent {
                continueSent = true
                out.sendContinue = true
            }
            if resumeBodyWanted {
                resumeBodyWanted = false
                bodyPaused = false
                out.resumeBody = true
            }
            return out
        }
    }

    /// The server wrote `count` bytes of this exchange's output.
    func confirmWritten(_ count: Int) {
        lock.withLock {
            inFlight -= count
            if inFlight <= Self.lowWater { lock.broadcast(Self.drainCondition) }
        }
    }

    /// The server finished (or gave up on) the pending file job.
    func fileJobDone() {
        lock.withLock {
            fileJob = nil
            lock.broadcast(Self.drainCondition)
        }
    }

    /// Decoded request body bytes arrived. Returns true when the buffer is over its high-water
    /// mark: the server stops reading until the handler consumes enough (`resumeBody`).
    func deliverBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        lock.withLock {
            if bytes.count > 0 && body.reserveFree(bytes.count) {
                body.free.baseAddress!.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
                body.commit(bytes.count)
            }
            return bodyArrivedLocked()
        }
    }

    /// Receives up to `limit` body bytes straight into the body buffer, with `receive` (a recv
    /// on the socket: non-blocking, so the lock is held only for its copy), saving the copy
    /// through the connection's read buffer. Returns what `receive` returned, and whether the
    /// buffer is now over its high-water mark (see `deliverBody`).
    func receiveBody(limit: Int, _ receive: (UnsafeMutableRawPointer, Int) -> Int) -> (count: Int, overHighWater: Bool) {
        lock.withLock {
            guard body.reserveFree(limit) else { return (0, false) }
            let n = receive(body.free.baseAddress!, min(limit, body.free.count))
            guard n > 0 else { return (n, false) }
            body.commit(n)
            return (n, bodyArrivedLocked())
        }
    }

    /// Memory the request body buffer holds (for tests: it must stay bounded).
    var bodyBufferCapacity: Int { lock.withLock { body.capacity } }

    private func bodyArrivedLocked() -> Bool {
        lock.signal(Self.bodyCondition)
        if body.count > Self.bodyHighWater {
            bodyPaused = true
            return true
        }
        return false
    }

    func endBody() {
        lock.withLock {
            bodyComplete = true
            lock.broadcast(Self.bodyCondition)
        }
    }

    /// The body cannot complete: bad chunked framing, a body time-out, or the client left.
    /// `status` is set when the client sent a bad body (malformed, too large): a handler that has
    /// not answered yet should answer with it rather than with its own error. The framing is lost,
    /// so the response ends the connection; that is set under the same lock that wakes the
    /// reader, or a handler woken by the failure could commit a keep-alive head first.
    func failBody(status: Int? = nil) {
        lock.withLock {
            bodyFailed = true
            forceClose = true
            if bodyErrorStatus == nil { bodyErrorStatus = status }
            lock.broadcast(Self.bodyCondition)
        }
    }

    /// The status for a request body the client got wrong (see `failBody(status:)`), or nil.
    public var clientBodyErrorStatus: Int? { lock.withLock { bodyErrorStatus } }

    /// The connection is gone: every wait returns, every later send answers `.closed`.
    func connectionClosed() {
        let lent = lock.withLock { () -> BorrowedBody? in
            closeOwnedFileLocked()
            defer { borrowed = nil }
            return borrowed
        }
        lent?.release()
        lock.withLock {
            closed = true
            bodyFailed = bodyFailed || !bodyComplete
            owner = nil
            lock.broadcast(Self.bodyCondition)
            lock.broadcast(Self.drainCondition)
        }
    }

    /// Takes the request away from the handler so the server can answer it itself (a body
    /// over the limit): every later read fails and every send answers `.closed`. Returns false,
    /// changing nothing, once the handler has committed a response head.
    func abandon() -> Bool {
        lock.withLock {
            guard !isHeadCommitted else { return false }
            closed = true
            bodyFailed = true
            owner = nil
            lock.broadcast(Self.bodyCondition)
            lock.broadcast(Self.drainCondition)
            return true
        }
    }

    /// The server wants this response to end the connection (shutdown, unread body).
    func requestClose() {
        lock.withLock { forceClose = true }
    }

    var isBodyComplete: Bool { lock.withLock { bodyComplete } }
    var wasContinueSent: Bool { lock.withLock { continueSent } }

    // MARK: Handler side: request body

    /// Reads request body bytes; blocks until some arrive. Returns the count, 0 at the end of
    /// the body, -1 when the body cannot complete (client gone, bad framing, time-out).
    /// Sends `100 Continue` first if the client asked for it. Never call on the server thread.
    public func readBody(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        guard buffer.count > 0 else { return 0 }
        var notify = false
        lock.lock()
        if request.expectContinue && !continueSent && !bodyComplete && !isHeadCommitted && !continueWanted {
            continueWanted = true
            notify = requestServiceLocked()
        }
        while body.isEmpty && !bodyComplete && !bodyFailed {
            if notify {
                let target = owner
                lock.unlock()
                target?.exchangeNeedsService()
                notify = false
                lock.lock()
                continue
            }
            lock.wait(Self.bodyCondition)
        }
        let available = body.count
        if available == 0 {
            let result = bodyFailed ? -1 : 0
            let target = owner
            lock.unlock()
            if notify { target?.exchangeNeedsService() }
            return result
        }
        let n = min(available, buffer.count)
        buffer.baseAddress!.copyMemory(from: body.readable.baseAddress!, byteCount: n)
        body.consume(n)
        if bodyPaused && !resumeBodyWanted && body.count <= Self.bodyHighWater / 4 {
            resumeBodyWanted = true
            notify = requestServiceLocked() || notify
        }
        let target = owner
        lock.unlock()
        if notify { target?.exchangeNeedsService() }
        return n
    }

    // MARK: Handler side: response

    public func beginResponse(status: UnsafeRawBufferPointer) throws(ResponseHeadError) {
        guard !isHeadCommitted else { throw ResponseHeadError("response head already sent") }
        try headBuilder.begin(status: status)
    }

    public func addHeader(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) throws(ResponseHeadError) {
        guard !isHeadCommitted else { throw ResponseHeadError("response head already sent") }
        try headBuilder.add(name: name, value: value)
    }

    /// Queues body bytes (copied); the first call sends the head with them.
    public func send(_ bytes: UnsafeRawBufferPointer, final: Bool) -> SendResult {
        guard !finishedByHandler else { return .closed }
        if final { finishedByHandler = true }
        lock.lock()
        if closed {
            lock.unlock()
            return .closed
        }
        if !isHeadCommitted { commitHeadLocked(firstBodyCount: bytes.count, final: final) }
        appendBodyLocked(bytes)
        if final { finishBodyLocked() }
        let notify = requestServiceLocked()
        let result: SendResult = inFlight > Self.highWater ? .backpressure : .ok
        let target = owner
        lock.unlock()
        if notify { target?.exchangeNeedsService() }
        return result
    }

    /// Blocks until queued output drains to the low-water mark. Never on the server thread.
    public func waitForDrain() -> SendResult {
        lock.withLock {
            while inFlight > Self.lowWater && !closed {
                lock.wait(Self.drainCondition)
            }
            return closed ? .closed : .ok
        }
    }

    /// Sends `count` bytes of `fd` from `offset` with sendfile(2); blocks until the server
    /// thread has sent them. The descriptor stays the caller's. Never on the server thread.
    public func sendFile(fd: Int32, offset: Int, count: Int) -> SendResult {
        guard !finishedByHandler else { return .closed }
        lock.lock()
        if closed {
            lock.unlock()
            return .closed
        }
        if !isHeadCommitted { commitHeadLocked(firstBodyCount: count, final: false) }
        let toSend = claimBodyBytesLocked(count)
        if toSend > 0 {
            if framing == .chunked {
                let before = outbox.count
                HTTPBytes.appendChunkHeader(toSend, to: &outbox)
                inFlight += outbox.count - before
            }
            fileJob = FileJob(fd: fd, offset: offset, remaining: toSend)
            responseBodyBytes += toSend
        }
        let notify = requestServiceLocked()
        let target = owner
        lock.unlock()
        if notify { target?.exchangeNeedsService() }
        lock.lock()
        while fileJob != nil && !closed {
            lock.wait(Self.drainCondition)
        }
        let wasClosed = closed
        if toSend > 0 && framing == .chunked && !wasClosed {
            outbox.append(13)
            outbox.append(10)
            inFlight += 2
        }
        lock.unlock()
        return wasClosed ? .closed : .ok
    }

    /// Ends the response with `count` bytes of `fd` from `offset`, sent by the server thread
    /// with sendfile(2) after whatever is queued, without waiting: the handler is free for its
    /// next request at once. Takes ownership of `fd` in every case (a dup the caller made; it
    /// is closed once sent, or when the connection goes away). The exchange must not be
    /// touched afterwards, like after a final `send`.
    public func sendFileFinal(fd: Int32, offset: Int, count: Int) -> SendResult {
        guard !finishedByHandler else {
            closeDescriptor(fd)
            return .closed
        }
        lock.lock()
        if closed {
            lock.unlock()
            closeDescriptor(fd)
            return .closed
        }
        if !isHeadCommitted { commitHeadLocked(firstBodyCount: count, final: false) }
        switch framing {
        case .contentLength, .noBody:
            break
        case .chunked, .closeDelimited:
            // Not reached from the WSGI driver (it commits a Content-Length); kept correct anyway.
            lock.unlock()
            let result = sendFile(fd: fd, offset: offset, count: count)
            closeDescriptor(fd)
            if result == .ok { finish() }
            return result
        }
        finishedByHandler = true
        let toSend = claimBodyBytesLocked(count)
        if toSend > 0 {
            fileJob = FileJob(fd: fd, offset: offset, remaining: toSend, ownsDescriptor: true)
            responseBodyBytes += toSend
        } else {
            closeDescriptor(fd)
        }
        finishBodyLocked()
        let notify = requestServiceLocked()
        let target = owner
        lock.unlock()
        if notify { target?.exchangeNeedsService() }
        return .ok
    }

    /// Ends the response with `bytes` as its whole remaining body, lent rather than copied: the
    /// server thread writes them from where they are and calls `releaser.release(token)` once
    /// done with them (sent, or the client gone), as does this call when it refuses them. The
    /// exchange must not be touched afterwards, like after a final `send`.
    public func sendBorrowedFinal(_ bytes: UnsafeRawBufferPointer, token: OpaquePointer, releaser: BodyReleaser) -> SendResult {
        guard !finishedByHandler, let base = bytes.baseAddress else {
            releaser.release(token)
            return .closed
        }
        lock.lock()
        if closed {
            lock.unlock()
            releaser.release(token)
            return .closed
        }
        if !isHeadCommitted { commitHeadLocked(firstBodyCount: bytes.count, final: true) }
        switch framing {
        case .contentLength, .noBody:
            break
        case .chunked, .closeDelimited:
            // A final body gets a Content-Length unless the app streamed before; then copy.
            lock.unlock()
            let result = send(bytes, final: true)
            releaser.release(token)
            return result
        }
        finishedByHandler = true
        let count = claimBodyBytesLocked(bytes.count)
        var unused = true
        if count > 0 {
            borrowed = BorrowedBody(base: base, count: count, token: token, releaser: releaser)
            responseBodyBytes += count
            unused = false
        }
        finishBodyLocked()
        let notify = requestServiceLocked()
        let target = owner
        lock.unlock()
        if unused { releaser.release(token) }
        if notify { target?.exchangeNeedsService() }
        return .ok
    }

    /// Ends the response. With nothing sent, that is an empty body (or a bare head).
    public func finish() {
        guard !finishedByHandler else { return }
        _ = send(UnsafeRawBufferPointer(start: nil, count: 0), final: true)
    }

    /// Gives up on a response whose head may already be out: the connection is closed once
    /// what is queued has been written.
    public func abort() {
        finishedByHandler = true
        lock.lock()
        aborted = true
        outputFinished = true
        keepAlive = false
        let notify = requestServiceLocked()
        let target = owner
        lock.unlock()
        if notify { target?.exchangeNeedsService() }
    }

    // MARK: Private, with `lock` held

    private func closeOwnedFileLocked() {
        if let job = fileJob, job.ownsDescriptor {
            job.closeIfOwned()
            fileJob = nil
        }
    }

    /// How many of `count` body bytes go on the wire: none for HEAD, 204 and 304, and no more
    /// than a Content-Length has left; takes them from what it has left.
    private func claimBodyBytesLocked(_ count: Int) -> Int {
        var allowed = dropBody ? 0 : count
        if case .contentLength = framing {
            allowed = min(allowed, lengthRemaining)
            lengthRemaining -= allowed
        }
        return allowed
    }

    private func requestServiceLocked() -> Bool {
        if serviceRequested || owner == nil { return false }
        serviceRequested = true
        return true
    }

    private func commitHeadLocked(firstBodyCount: Int, final: Bool) {
        if !headBuilder.began {
            // A handler that never set a status: answer like a WSGI server does for a broken app.
            "500 Internal Server Error".utf8CString.withUnsafeBytes { raw in
                try? headBuilder.begin(status: UnsafeRawBufferPointer(rebasing: raw.dropLast()))
            }
        }
        isHeadCommitted = true
        let code = headBuilder.statusCode
        responseStatus = code
        let http10 = request.versionMinor == 0
        if code == 204 || code == 304 {
            framing = .noBody
        } else if let length = headBuilder.contentLength {
            framing = .contentLength(length)
        } else if final {
            framing = .contentLength(firstBodyCount)
            // The head did not carry the length yet; the builder adds it from the framing.
        } else if !http10 {
            framing = .chunked
        } else {
            framing = .closeDelimited
        }
        if case .contentLength(let n) = framing { lengthRemaining = n }
        dropBody = request.methodIsHead || framing == .noBody
        var alive = keepAlive && !forceClose && !headBuilder.connectionClose && framing != .closeDelimited
        // A client still waiting for 100 Continue may or may not send its body now; the only
        // safe way to keep framing in sync is to close after this response.
        if request.expectContinue && !continueSent && !bodyComplete { alive = false }
        keepAlive = alive
        let writeLength = headBuilder.contentLength == nil
        headBuilder.complete(framing: writeLength ? framing : .noBody, keepAlive: alive, http10: http10)
        outbox.append(contentsOf: headBuilder.bytes)
        inFlight += headBuilder.bytes.count
    }

    private func appendBodyLocked(_ bytes: UnsafeRawBufferPointer) {
        guard !dropBody, bytes.count > 0 else { return }
        switch framing {
        case .contentLength:
            let n = min(bytes.count, lengthRemaining)
            lengthRemaining -= n
            outbox.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[0..<n]))
            inFlight += n
            responseBodyBytes += n
        case .chunked:
            let before = outbox.count
            outbox.reserveCapacity(before + bytes.count + 20)
            HTTPBytes.appendChunkHeader(bytes.count, to: &outbox)
            outbox.append(contentsOf: bytes)
            outbox.append(13)
            outbox.append(10)
            inFlight += outbox.count - before
            responseBodyBytes += bytes.count
        case .closeDelimited:
            outbox.append(contentsOf: bytes)
            inFlight += bytes.count
            responseBodyBytes += bytes.count
        case .noBody:
            break
        }
    }

    private func finishBodyLocked() {
        outputFinished = true
        if framing == .chunked && !dropBody {
            outbox.append(contentsOf: [48, 13, 10, 13, 10])
            inFlight += 5
        }
        if case .contentLength = framing, lengthRemaining > 0, !dropBody {
            // The application sent less than it announced: the framing is broken, so close.
            keepAlive = false
        }
    }
}
