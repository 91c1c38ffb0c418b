#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import Testing
import TestSupport
@testable import WSGIServer

/// Counts `exchangeNeedsService` calls, as the connection would receive them.
final class RecordingOwner: ExchangeOwner {
    private let count = Atomic<Int>(0)
    var calls: Int { count.load(ordering: .acquiring) }
    func exchangeNeedsService() { count.add(1, ordering: .acquiringAndReleasing) }
}

/// Runs a whole response: status, headers, then `sends` (the last one final), and returns
/// what a client would read plus what the server thread was told.
private func respond(
    to request: TestRequest = TestRequest(),
    status: String = "200 OK",
    headers: [(String, String)] = [],
    sends: [String] = ["hello"]
) throws -> (response: TestResponse, output: ExchangeOutput) {
    let exchange = request.exchange()
    try exchange.begin(status)
    for (name, value) in headers { try exchange.header(name, value) }
    for (i, chunk) in sends.enumerated() {
        #expect(exchange.send(chunk, final: i == sends.count - 1) == .ok)
    }
    if sends.isEmpty { exchange.finish() }
    let (bytes, output) = exchange.take()
    let response = try #require(TestResponse(bytes), "no complete head in \(String(decoding: bytes, as: UTF8.self))")
    return (response, output)
}

// MARK: - Status and headers

struct HTTPExchangeHeadTests {
    @Test(arguments: [
        "200 OK", "404 Not Found", "999 Custom", "201 ", "500 Internal Server Error",
        "200 OK\twith tab", "200 caf\u{e9}",
    ])
    func validStatusGoesOutVerbatim(status: String) throws {
        let (response, _) = try respond(status: status)
        #expect(response.statusLine == "HTTP/1.1 \(status)")
    }

    @Test(arguments: [
        "", "20", "2000 OK", "200OK", "099 Low", "100 Continue", "199 Info", "abc OK", " 200 OK",
        "200 OK\r\nX-Injected: 1", "200 OK\n", "200 OK\r", "200 O\u{0}K", "200 O\u{7f}K", "-200 OK",
    ])
    func invalidStatusIsRefused(status: String) {
        let exchange = TestRequest().exchange()
        #expect(throws: ResponseHeadError.self) { try exchange.begin(status) }
    }

    @Test(arguments: [
        ("X-Bad\r\nInjected", "v"), ("X-Bad\nName", "v"), ("X\u{0}Y", "v"), ("X Y", "v"), ("X:Y", "v"),
        ("", "v"), ("X(Y)", "v"), ("X\"Y", "v"), ("Caf\u{e9}", "v"), ("X\tY", "v"),
        ("X-Ok", "a\r\nX-Injected: 1"), ("X-Ok", "a\nb"), ("X-Ok", "a\rb"), ("X-Ok", "a\u{0}b"),
        ("X-Ok", "a\u{7f}b"), ("X-Ok", "a\u{1}b"),
    ] as [(String, String)])
    func headerWithAForbiddenByteIsRefusedAndNotSent(name: String, value: String) throws {
        let exchange = TestRequest().exchange()
        try exchange.begin("200 OK")
        #expect(throws: ResponseHeadError.self) { try exchange.header(name, value) }
        exchange.send("x", final: true)
        let response = try #require(TestResponse(exchange.take().bytes))
        #expect(response.headers.map(\.name) == ["Server", "Date", "Content-Length"])
        #expect(response.body == Array("x".utf8))
    }

    @Test(arguments: [
        ("X-Token-Chars!#$%&'*+-.^_`|~", "ok"), ("x-lower", ""), ("X-Tab", "a\tb"),
        ("X-Obs-Text", "caf\u{e9}"), ("X-Spaces", "a b  c"),
    ] as [(String, String)])
    func validHeaderIsSentVerbatim(name: String, value: String) throws {
        let (response, _) = try respond(headers: [(name, value)])
        #expect(response.values(name) == [value])
    }

    @Test func headerBeforeStatusIsRefused() {
        let exchange = TestRequest().exchange()
        #expect(throws: ResponseHeadError.self) { try exchange.header("X-A", "1") }
    }

    /// WSGI's start_response may be called again (with exc_info) until the head is out.
    @Test func secondStatusBeforeTheHeadIsOutReplacesTheFirst() throws {
        let exchange = TestRequest().exchange()
        try exchange.begin("200 OK")
        try exchange.header("X-First", "1")
        try exchange.begin("500 Oops")
        try exchange.header("X-Second", "2")
        exchange.send("err", final: true)
        let response = try #require(TestResponse(exchange.take().bytes))
        #expect(response.statusLine == "HTTP/1.1 500 Oops")
        #expect(response.value("X-First") == nil)
        #expect(response.value("X-Second") == "2")
    }

    @Test func headCannotChangeOnceSent() throws {
        let exchange = TestRequest().exchange()
        try exchange.begin("200 OK")
        exchange.send("partial")
        #expect(exchange.isHeadCommitted)
        #expect(throws: ResponseHeadError.self) { try exchange.begin("500 Oops") }
        #expect(throws: ResponseHeadError.self) { try exchange.header("X-Late", "1") }
    }

    @Test func handlerThatNeverSetAStatusAnswers500() throws {
        let exchange = TestRequest().exchange()
        exchange.finish()
        let (bytes, output) = exchange.take()
        let response = try #require(TestResponse(bytes))
        #expect(response.statusLine == "HTTP/1.1 500 Internal Server Error")
        #expect(response.value("Content-Length") == "0")
        #expect(output.finished)
    }

    @Test(arguments: [
        "Connection", "connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "TE",
        "Trailer", "Trailers", "Transfer-Encoding", "Upgrade",
    ])
    func hopByHopHeaderFromTheAppIsDropped(name: String) throws {
        let (response, output) = try respond(headers: [(name, "x-value")], sends: ["hello"])
        #expect(!response.headers.contains { $0.value == "x-value" })
        #expect(response.value("Content-Length") == "5")
        #expect(response.value("Transfer-Encoding") == nil)
        #expect(response.bodyText == "hello")
        #expect(output.keepAlive)
    }

    @Test(arguments: ["close", "Close", "keep-alive, close", " CLOSE "])
    func connectionCloseFromTheAppIsHonoured(value: String) throws {
        let (response, output) = try respond(headers: [("Connection", value)])
        #expect(response.values("Connection") == ["close"])
        #expect(!output.keepAlive)
    }

    @Test func connectionHeaderWithoutCloseKeepsTheConnection() throws {
        let (response, output) = try respond(headers: [("Connection", "keep-alive")])
        #expect(response.value("Connection") == nil)
        #expect(output.keepAlive)
    }

    @Test func serverAndDateAreAddedWhenTheAppSetsNone() throws {
        let (response, _) = try respond()
        #expect(response.values("Server") == [YimmoVersion.serverHeader])
        let date = try #require(response.value("Date"))
        #expect(looksLikeIMFDate(date), "\(date)")
    }

    @Test func serverAndDateFromTheAppReplaceTheServers() throws {
        let (response, _) = try respond(headers: [("server", "custom/1"), ("DATE", "Sun, 06 Nov 1994 08:49:37 GMT")])
        #expect(response.values("Server") == ["custom/1"])
        #expect(response.values("Date") == ["Sun, 06 Nov 1994 08:49:37 GMT"])
    }

    @Test func requestCloseFromTheServerEndsTheConnection() throws {
        let exchange = TestRequest().exchange()
        exchange.requestClose()
        try exchange.begin("200 OK")
        exchange.send("hello", final: true)
        let (bytes, output) = exchange.take()
        let response = try #require(TestResponse(bytes))
        #expect(response.values("Connection") == ["close"])
        #expect(!output.keepAlive)
    }
}

// MARK: - Framing

struct HTTPExchangeFramingTests {
    @Test func oneFinalSendIsFramedByContentLength() throws {
        let (response, output) = try respond(sends: ["hello"])
        #expect(response.values("Content-Length") == ["5"])
        #expect(response.value("Transfer-Encoding") == nil)
        #expect(response.value("Connection") == nil)
        #expect(response.bodyText == "hello")
        #expect(output.finished)
        #expect(output.keepAlive)
    }

    @Test func emptyResponseHasContentLengthZero() throws {
        let (response, output) = try respond(sends: [])
        #expect(response.values("Content-Length") == ["0"])
        #expect(response.body.isEmpty)
        #expect(output.keepAlive)
    }

    @Test func streamingOnHTTP11IsChunked() throws {
        let chunk26 = "abcdefghijklmnopqrstuvwxyz"
        let (response, output) = try respond(sends: ["hello", "", chunk26, "world!", ""])
        #expect(response.values("Transfer-Encoding") == ["chunked"])
        #expect(response.value("Content-Length") == nil)
        #expect(response.bodyText == "5\r\nhello\r\n1a\r\n\(chunk26)\r\n6\r\nworld!\r\n0\r\n\r\n")
        #expect(output.keepAlive)
        #expect(output.finished)
    }

    @Test func finalSendWithDataAfterStreamingEndsTheChunks() throws {
        let (response, _) = try respond(sends: ["hello", "bye"])
        #expect(response.bodyText == "5\r\nhello\r\n3\r\nbye\r\n0\r\n\r\n")
    }

    @Test func finishAfterStreamingEndsTheChunks() throws {
        let exchange = TestRequest().exchange()
        try exchange.begin("200 OK")
        exchange.send("hello")
        var bytes = exchange.take().bytes
        #expect(!exchange.take().output.finished)
        exchange.finish()
        let last = exchange.take()
        bytes += last.bytes
        #expect(last.output.finished)
        #expect(TestResponse(bytes)?.bodyText == "5\r\nhello\r\n0\r\n\r\n")
    }

    @Test func streamingOnHTTP10IsCloseDelimited() throws {
        let request = TestRequest(versionMinor: 0, keepAlive: true)
        let (response, output) = try respond(to: request, sends: ["hello", " world", ""])
        #expect(response.value("Transfer-Encoding") == nil)
        #expect(response.value("Content-Length") == nil)
        #expect(response.values("Connection") == ["close"])
        #expect(response.bodyText == "hello world")
        #expect(!output.keepAlive)
    }

    @Test func http10KeepAliveWithALengthSaysKeepAlive() throws {
        let request = TestRequest(versionMinor: 0, headers: [("Connection", "keep-alive")], keepAlive: true)
        let (response, output) = try respond(to: request, sends: ["hello"])
        #expect(response.values("Connection") == ["keep-alive"])
        #expect(response.values("Content-Length") == ["5"])
        #expect(output.keepAlive)
    }

    @Test func http10StreamingWithAppLengthSaysKeepAlive() throws {
        let request = TestRequest(versionMinor: 0, keepAlive: true)
        let (response, output) = try respond(to: request, headers: [("Content-Length", "10")], sends: ["hello", "world"])
        #expect(response.values("Connection") == ["keep-alive"])
        #expect(response.bodyText == "helloworld")
        #expect(output.keepAlive)
    }

    @Test func http10WithoutKeepAliveSaysClose() throws {
        let request = TestRequest(versionMinor: 0, keepAlive: false)
        let (response, output) = try respond(to: request, sends: ["hello"])
        #expect(response.values("Connection") == ["close"])
        #expect(!output.keepAlive)
    }

    @Test func http11RequestWithConnectionCloseSaysClose() throws {
        let request = TestRequest(headers: [("Connection", "close")], keepAlive: false)
        let (response, output) = try respond(to: request)
        #expect(response.values("Connection") == ["close"])
        #expect(!output.keepAlive)
    }

    /// HEAD gets exactly the headers GET would, and no body bytes at all.
    @Test(arguments: [["hello"], ["hello", "world", ""], []] as [[String]])
    func headHasTheHeadersOfGetAndNoBody(sends: [String]) throws {
        let (get, getOutput) = try respond(to: TestRequest(method: "GET"), sends: sends)
        let (head, headOutput) = try respond(to: TestRequest(method: "HEAD"), sends: sends)
        #expect(head.statusLine == get.statusLine)
        #expect(head.headerNamesAndValuesWithoutDate == get.headerNamesAndValuesWithoutDate)
        #expect(head.body.isEmpty)
        #expect(headOutput.keepAlive == getOutput.keepAlive)
        #expect(headOutput.finished)
    }

    @Test func headWithAnAppLengthAndNoBodyKeepsTheConnection() throws {
        let (response, output) = try respond(to: TestRequest(method: "HEAD"), headers: [("Content-Length", "1234")], sends: [])
        #expect(response.values("Content-Length") == ["1234"])
        #expect(response.body.isEmpty)
        #expect(output.keepAlive)
    }

    @Test(arguments: ["204 No Content", "304 Not Modified"], [["ignored"], ["ignored", "more", ""], []] as [[String]])
    func noContentStatusesHaveNoFramingAndNoBody(status: String, sends: [String]) throws {
        let (response, output) = try respond(status: status, sends: sends)
        #expect(response.value("Content-Length") == nil)
        #expect(response.value("Transfer-Encoding") == nil)
        #expect(response.body.isEmpty)
        #expect(output.keepAlive)
    }

    /// RFC 9110 §8.6: a server must not send Content-Length in a 204. Frameworks add
    /// `Content-Length: 0` to every empty response, so the server has to drop it.
    @Test(arguments: ["0", "5"])
    func noContentDropsTheAppsContentLength(value: String) throws {
        let (response, output) = try respond(status: "204 No Content", headers: [("Content-Length", value)], sends: [])
        #expect(response.value("Content-Length") == nil)
        #expect(response.body.isEmpty)
        #expect(output.keepAlive)
    }

    /// A 304 may repeat the length GET would have had; it still carries no body.
    @Test func notModifiedKeepsTheAppsContentLength() throws {
        let (response, output) = try respond(status: "304 Not Modified", headers: [("Content-Length", "5")], sends: [])
        #expect(response.values("Content-Length") == ["5"])
        #expect(response.body.isEmpty)
        #expect(output.keepAlive)
    }

    @Test func appContentLengthIsHonouredAndExcessDropped() throws {
        let (response, output) = try respond(headers: [("Content-Length", "5")], sends: ["hello world"])
        #expect(response.values("Content-Length") == ["5"])
        #expect(response.bodyText == "hello")
        #expect(output.keepAlive)
    }

    @Test func appContentLengthIsHonouredWhileStreaming() throws {
        let (response, output) = try respond(headers: [("content-length", "5")], sends: ["hel", "lo wo", "rld", ""])
        #expect(response.values("Content-Length") == ["5"])
        #expect(response.value("Transfer-Encoding") == nil)
        #expect(response.bodyText == "hello")
        #expect(output.keepAlive)
    }

    @Test(arguments: [["hello"], ["hel", "lo"], []] as [[String]])
    func bodyShorterThanTheAppsLengthEndsTheConnection(sends: [String]) throws {
        let (response, output) = try respond(headers: [("Content-Length", "10")], sends: sends)
        #expect(response.values("Content-Length") == ["10"])
        #expect(response.bodyText == sends.joined())
        #expect(!output.keepAlive)
    }

    @Test(arguments: ["abc", "-1", "+5", "", "5 5", "0x10"])
    func malformedAppContentLengthIsRefused(value: String) throws {
        let exchange = TestRequest().exchange()
        try exchange.begin("200 OK")
        #expect(throws: ResponseHeadError.self) { try exchange.header("Content-Length", value) }
    }

    @Test func conflictingAppContentLengthsAreRefused() throws {
        let exchange = TestRequest().exchange()
        try exchange.begin("200 OK")
        try exchange.header("Content-Length", "5")
        #expect(throws: ResponseHeadError.self) { try exchange.header("Content-Length", "6") }
        try exchange.header("Content-Length", "5")  // a repeat that agrees is harmless
        exchange.send("hello", final: true)
        #expect(TestResponse(exchange.take().bytes)?.values("Content-Length") == ["5"])
    }

    @Test func outputCanBeCollectedPieceByPiece() throws {
        let exchange = TestRequest().exchange()
        try exchange.begin("200 OK")
        var bytes: [UInt8] = []
        for piece in ["a", "bb", "ccc"] {
            exchange.send(piece)
            let (more, output) = exchange.take()
            #expect(!more.isEmpty)
            #expect(!output.finished)
            bytes += more
        }
        exchange.finish()
        bytes += exchange.take().bytes
        #expect(exchange.take().bytes.isEmpty)
        #expect(TestResponse(bytes)?.bodyText == "1\r\na\r\n2\r\nbb\r\n3\r\nccc\r\n0\r\n\r\n")
    }
}

// MARK: - Request body

struct HTTPExchangeBodyTests {
    private static let pieces = ["hel", "lo ", "", "world", ", and more"]

    @Test(arguments: [1, 3, 7, 64])
    func bodyIsReadBackInOrderThenZero(readSize: Int) {
        let exchange = TestRequest(method: "POST", framing: .chunked).exchange()
        for piece in Self.pieces { _ = exchange.deliver(piece) }
        exchange.endBody()
        var received: [UInt8] = []
        while let bytes = exchange.read(readSize), !bytes.isEmpty {
            #expect(bytes.count <= readSize)
            received += bytes
        }
        #expect(String(decoding: received, as: UTF8.self) == Self.pieces.joined())
        #expect(exchange.read(readSize) == [])
        #expect(exchange.read(readSize) == [])
    }

    @Test func readsInterleavedWithDeliveriesKeepTheOrder() {
        let exchange = TestRequest(method: "POST", framing: .length(12)).exchange()
        var received: [UInt8] = []
        exchange.deliver("abcd")
        received += exchange.read(2) ?? []
        exchange.deliver("efgh")
        received += exchange.read(100) ?? []
        exchange.deliver("ijkl")
        exchange.endBody()
        received += exchange.read(100) ?? []
        #expect(String(decoding: received, as: UTF8.self) == "abcdefghijkl")
        #expect(exchange.read(100) == [])
    }

    @Test(arguments: [BodyFraming.none, .length(0)])
    func requestWithoutABodyReadsZeroAtOnce(framing: BodyFraming) {
        let exchange = TestRequest(framing: framing).exchange()
        #expect(exchange.isBodyComplete)
        #expect(exchange.read(16) == [])
    }

    @Test func failedBodyReadsMinusOneAfterWhatArrived() {
        let exchange = TestRequest(method: "POST", framing: .chunked).exchange()
        exchange.deliver("abc")
        exchange.failBody()
        #expect(exchange.read(16) == Array("abc".utf8))
        #expect(exchange.read(16) == nil)
        #expect(exchange.read(16) == nil)
    }

    @Test func badBodyStatusIsKeptForTheHandlerAndResetPerRequest() {
        let exchange = TestRequest(method: "POST", framing: .chunked).exchange()
        #expect(exchange.clientBodyErrorStatus == nil)
        exchange.failBody(status: 400)
        exchange.failBody(status: 413)  // the first reason wins
        #expect(exchange.read(16) == nil)
        #expect(exchange.clientBodyErrorStatus == 400)
        let (next, head) = TestRequest(method: "POST", framing: .length(1)).parsed()
        head.withUnsafeBytes { exchange.prepare(request: next, head: $0) }
        #expect(exchange.clientBodyErrorStatus == nil)

        let timedOut = TestRequest(method: "POST", framing: .length(5)).exchange()
        timedOut.failBody()
        #expect(timedOut.clientBodyErrorStatus == nil)
    }

    /// A handler woken by the failure must not commit a keep-alive head: the framing is lost.
    @Test func failedBodyMakesTheResponseCloseTheConnection() throws {
        let exchange = TestRequest(method: "POST", framing: .chunked).exchange()
        exchange.failBody(status: 400)
        #expect(exchange.read(16) == nil)
        try exchange.begin("400 Bad Request")
        #expect(exchange.send("bad", final: true) == .ok)
        let (bytes, output) = exchange.take()
        #expect(!output.keepAlive)
        #expect(String(decoding: bytes, as: UTF8.self).contains("Connection: close\r\n"))
    }

    @Test func closedConnectionFailsAnIncompleteBody() {
        let exchange = TestRequest(method: "POST", framing: .length(10)).exchange()
        exchange.connectionClosed()
        #expect(exchange.read(16) == nil)
    }

    @Test func closedConnectionLeavesACompleteBodyReadable() {
        let exchange = TestRequest(method: "POST", framing: .length(3)).exchange()
        exchange.deliver("abc")
        exchange.endBody()
        exchange.connectionClosed()
        #expect(exchange.read(16) == Array("abc".utf8))
        #expect(exchange.read(16) == [])
    }

    @Test func blockedReaderIsWokenByDeliveryAndByTheEnd() {
        let exchange = TestRequest(method: "POST", framing: .length(5)).exchange()
        let first = Box<[UInt8]?>()
        let reader = TestThread {
            first.set(exchange.read(16))
        }
        sleepMilliseconds(30)
        #expect(!reader.isFinished)
        exchange.deliver("hello")
        #expect(reader.join(timeoutMilliseconds: 2000))
        #expect(first.value == .some(Array("hello".utf8)))

        let second = Box<[UInt8]?>()
        let endReader = TestThread { second.set(exchange.read(16)) }
        sleepMilliseconds(30)
        #expect(!endReader.isFinished)
        exchange.endBody()
        #expect(endReader.join(timeoutMilliseconds: 2000))
        #expect(second.value == .some([]))
    }

    @Test(arguments: ["failBody", "connectionClosed"])
    func blockedReaderIsWokenByFailure(how: String) {
        let exchange = TestRequest(method: "POST", framing: .length(5)).exchange()
        let result = Box<[UInt8]?>()
        let reader = TestThread { result.set(exchange.read(16)) }
        sleepMilliseconds(30)
        #expect(!reader.isFinished)
        if how == "failBody" { exchange.failBody() } else { exchange.connectionClosed() }
        #expect(reader.join(timeoutMilliseconds: 2000))
        #expect(result.value == .some(nil))
    }

    @Test func bufferedBodyAboveHighWaterPausesUntilTheReaderCatchesUp() {
        let exchange = TestRequest(method: "POST", framing: .chunked).exchange()
        let owner = RecordingOwner()
        exchange.attach(owner: owner)
        let piece = [UInt8](repeating: 7, count: 64 * 1024)
        var paused = false
        var delivered = 0
        while !paused {
            paused = exchange.deliver(piece)
            delivered += piece.count
        }
        #expect(delivered > HTTPExchange.bodyHighWater)
        #expect(delivered <= HTTPExchange.bodyHighWater + piece.count)
        #expect(!exchange.take().output.resumeBody)

        // Reading down to a quarter of the high-water mark asks the server to read again, once.
        var unread = delivered
        var resumed = 0
        while unread > 0 {
            let n = exchange.read(16 * 1024)?.count ?? 0
            unread -= n
            if exchange.take().output.resumeBody {
                resumed += 1
                #expect(unread <= HTTPExchange.bodyHighWater / 4)
                #expect(unread > HTTPExchange.bodyHighWater / 4 - 16 * 1024)
            }
        }
        #expect(resumed == 1)
        #expect(owner.calls >= 1)
    }

    /// The buffer must stay bounded near the high-water mark however long the body is, even
    /// when the reader never quite catches up (the usual slow application). An operator sees
    /// the buffer's capacity as resident memory.
    @Test func bodyBufferStaysBoundedForASlowReader() {
        let exchange = TestRequest(method: "POST", framing: .chunked).exchange()
        func storedBodyBytes() -> Int? { exchange.bodyBufferCapacity }
        #expect(storedBodyBytes() == 0)

        // Byte i of the body is i % 251; the first and last byte of every read are checked.
        let segmentSize = 48 * 1024
        let pattern = (0..<segmentSize + 251).map { UInt8($0 % 251) }
        var paused = false
        var delivered = 0
        var consumed = 0
        var misplaced = 0
        var largest = 0
        while delivered < 16 * 1024 * 1024 {
            if !paused {
                let start = delivered % 251
                paused = exchange.deliver(Array(pattern[start..<start + segmentSize]))
                delivered += segmentSize
            }
            // The reader takes a little less than arrives, and never all of it.
            let bytes = exchange.read(40 * 1024) ?? []
            if let first = bytes.first, let last = bytes.last,
               first != UInt8(consumed % 251) || last != UInt8((consumed + bytes.count - 1) % 251) {
                misplaced += 1
            }
            consumed += bytes.count
            if exchange.take().output.resumeBody { paused = false }
            largest = max(largest, storedBodyBytes() ?? .max)
        }
        #expect(consumed > 8 * 1024 * 1024)
        #expect(misplaced == 0)
        #expect(largest <= 4 * HTTPExchange.bodyHighWater, "buffer grew to \(largest) bytes")
    }

    // MARK: 100 Continue

    @Test func firstReadAsksForContinueExactlyOnce() {
        let exchange = TestRequest(method: "POST", headers: [("Expect", "100-continue")], framing: .length(5), expectContinue: true).exchange()
        let owner = RecordingOwner()
        exchange.attach(owner: owner)
        #expect(!exchange.take().output.sendContinue)

        let result = Box<[UInt8]?>()
        let reader = TestThread { result.set(exchange.read(16)) }
        var continues = 0
        let asked = waitUntil(timeoutMilliseconds: 2000) {
            if exchange.take().output.sendContinue { continues += 1 }
            return continues > 0
        }
        #expect(asked)
        #expect(owner.calls >= 1)
        #expect(exchange.wasContinueSent)
        exchange.deliver("hello")
        exchange.endBody()
        #expect(reader.join(timeoutMilliseconds: 2000))
        #expect(result.value == .some(Array("hello".utf8)))
        #expect(exchange.read(16) == [])
        for _ in 0..<3 where exchange.take().output.sendContinue { continues += 1 }
        #expect(continues == 1)
    }

    @Test func continueIsNotSentWhenTheBodyNeedsNone() {
        let exchange = TestRequest(method: "POST", framing: .length(0), expectContinue: true).exchange()
        #expect(exchange.read(16) == [])
        #expect(!exchange.take().output.sendContinue)
    }

    /// A client still waiting for 100 Continue may send its body or not: the response ends the
    /// connection, and the late read never asks for Continue after the head.
    @Test func respondingWithoutReadingTheBodyEndsTheConnection() throws {
        let request = TestRequest(method: "POST", framing: .length(5), expectContinue: true)
        let exchange = request.exchange()
        try exchange.begin("413 Too Large")
        exchange.send("no", final: true)
        let (bytes, output) = exchange.take()
        #expect(!output.sendContinue)
        #expect(!output.keepAlive)
        #expect(TestResponse(bytes)?.values("Connection") == ["close"])
    }

    @Test func respondingAfterContinueKeepsTheConnection() throws {
        let exchange = TestRequest(method: "POST", framing: .length(2), expectContinue: true).exchange()
        exchange.deliver("ok")
        exchange.endBody()
        #expect(exchange.read(16) == Array("ok".utf8))
        try exchange.begin("200 OK")
        exchange.send("done", final: true)
        let output = exchange.take().output
        #expect(output.keepAlive)
    }
}

// MARK: - Flow control and the end of an exchange

struct HTTPExchangeFlowTests {
    @Test func sendAnswersBackpressureAboveHighWaterAndWaitForDrainBlocksUntilLowWater() throws {
        let exchange = TestRequest().exchange()
        try exchange.begin("200 OK")
        #expect(exchange.send([UInt8](repeating: 1, count: 1024)) == .ok)
        #expect(exchange.send([UInt8](repeating: 2, count: HTTPExchange.highWater)) == .backpressure)
        let queued = exchange.take().bytes.count

        let drained = Box<SendResult>()
        let waiter = TestThread { drained.set(exchange.waitForDrain()) }
        sleepMilliseconds(30)
        #expect(!waiter.isFinished)

        // Written down to one byte above low water: still waiting.
        exchange.confirmWritten(queued - HTTPExchange.lowWater - 1)
        sleepMilliseconds(30)
        #expect(!waiter.isFinished)

        exchange.confirmWritten(1)
        #expect(waiter.join(timeoutMilliseconds: 2000))
        #expect(drained.value == .ok)
        #expect(exchange.send("more") == .ok)
    }

    /// The server confirms every outbox byte it writes, so every one must count as in flight,
    /// the chunk-size line before a file included; otherwise the count drifts below zero and
    /// back-pressure starts late.
    @Test func chunkSizeLineBeforeAFileCountsAsQueuedOutput() throws {
        let exchange = TestRequest().exchange()
        try exchange.begin("200 OK")
        #expect(exchange.send("x") == .ok)  // streaming: chunked
        exchange.confirmWritten(exchange.take().bytes.count)
        var written = 0

        let result = Box<SendResult>()
        let sender = TestThread { result.set(exchange.sendFile(fd: 0, offset: 0, count: 0x10000)) }
        var job: FileJob?
        #expect(waitUntil(timeoutMilliseconds: 2000) {
            let (bytes, output) = exchange.take()
            written += bytes.count
            job = output.file
            return job != nil
        })
        #expect(written == "10000\r\n".utf8.count)
        #expect(job?.remaining == 0x10000)
        exchange.confirmWritten(written)  // the server wrote the chunk-size line...
        exchange.fileJobDone()  // ...and the file
        #expect(sender.join(timeoutMilliseconds: 2000))
        #expect(result.value == .ok)
        let trailer = exchange.take().bytes
        #expect(trailer == [13, 10])
        exchange.confirmWritten(trailer.count)

        // Nothing is queued now, so a chunk whose framed size is one byte over high water must
        // answer back-pressure: "3fff8\r\n" + 0x3fff8 bytes + "\r\n" is highWater + 1.
        #expect(exchange.send([UInt8](repeating: 0, count: HTTPExchange.highWater - 8)) == .backpressure)
    }

    private static func isOpen(_ fd: Int32) -> Bool { fcntl(fd, F_GETFD) != -1 }

    /// A file that ends the response is handed over without waiting: the head carries its
    /// length, the response is finished, and the descriptor moves to the connection.
    @Test func finalFileIsHandedOverWithItsDescriptor() throws {
        let exchange = TestRequest().exchange()
        try exchange.begin("200 OK")
        try exchange.header("Content-Length", "4096")  // as the WSGI driver commits it
        let fd = open("/dev/null", O_RDONLY | O_CLOEXEC)
        #expect(exchange.sendFileFinal(fd: fd, offset: 7, count: 4096) == .ok)
        let (bytes, output) = exchange.take()
        let response = try #require(TestResponse(bytes))
        #expect(response.value("Content-Length") == "4096")
        #expect(output.finished && output.keepAlive)
        let job = try #require(output.file)
        #expect(job.fd == fd && job.offset == 7 && job.remaining == 4096 && job.ownsDescriptor)
        #expect(exchange.take().output.file == nil, "handed over once: the connection owns it now")
        exchange.connectionClosed()
        #expect(Self.isOpen(fd), "the exchange no longer closes what it handed over")
        close(fd)
    }

    @Test func finalFileNotYetCollectedIsClosedWithTheConnection() throws {
        let exchange = TestRequest().exchange()
        try exchange.begin("200 OK")
        try exchange.header("Content-Length", "10")
        let fd = open("/dev/null", O_RDONLY | O_CLOEXEC)
        #expect(exchange.sendFileFinal(fd: fd, offset: 0, count: 10) == .ok)
        exchange.connectionClosed()
        #expect(!Self.isOpen(fd))
    }

    @Test func finalFileAfterTheClientLeftIsClosedAtOnce() throws {
        let exchange = TestRequest().exchange()
        try exchange.begin("200 OK")
        exchange.connectionClosed()
        let fd = open("/dev/null", O_RDONLY | O_CLOEXEC)
        #expect(exchange.sendFileFinal(fd: fd, offset: 0, count: 10) == .closed)
        #expect(!Self.isOpen(fd))
    }

    @Test func finalFileForAHeadRequestSendsNoBody() throws {
        let exchange = TestRequest(method: "HEAD").exchange()
        try exchange.begin("200 OK")
        try exchange.header("Content-Length", "10")
        let fd = open("/dev/null", O_RDONLY | O_CLOEXEC)
        #expect(exchange.sendFileFinal(fd: fd, offset: 0, count: 10) == .ok)
        let output = exchange.take().output
        #expect(output.file == nil && output.finished)
        #expect(!Self.isOpen(fd))
    }

    /// Counts what a lent body's owner gets back.
    final class RecordingReleaser: BodyReleaser {
        let released = Counter()
        func release(_ token: OpaquePointer) { released.increment() }
    }

    private static var token: OpaquePointer { OpaquePointer(bitPattern: 0x1000)! }

    /// A large final body is lent, not copied: the head is queued, the body is handed over
    /// once, and it is given back only by whoever holds it last.
    @Test func lentBodyIsHandedOverWithoutACopy() throws {
        let exchange = TestRequest().exchange()
        try exchange.begin("200 OK")
        let body = [UInt8](repeating: 7, count: 100_000)
        let releaser = RecordingReleaser()
        let result = body.withUnsafeBytes { exchange.sendBorrowedFinal($0, token: Self.token, releaser: releaser) }
        #expect(result == .ok)
        let (bytes, output) = exchange.take()
        let response = try #require(TestResponse(bytes))
        #expect(response.value("Content-Length") == "100000")
        #expect(response.body.isEmpty, "the body is not in the outbox")
        #expect(output.finished && output.bodyBytes == 100_000)
        let lent = try #require(output.borrowed)
        #expect(lent.count == 100_000 && lent.offset == 0)
        body.withUnsafeBytes { #expect(lent.base == $0.baseAddress!) }
        #expect(exchange.take().output.borrowed == nil, "handed over once")
        exchange.connectionClosed()
        #expect(releaser.released.current == 0, "the connection holds it now")
        lent.release()
        #expect(releaser.released.current == 1)
    }

    @Test func lentBodyNotYetCollectedIsReleasedWithTheConnection() throws {
        let exchange = TestRequest().exchange()
        try exchange.begin("200 OK")
        let releaser = RecordingReleaser()
        let body = [UInt8](repeating: 1, count: 50_000)
        #expect(body.withUnsafeBytes { exchange.sendBorrowedFinal($0, token: Self.token, releaser: releaser) } == .ok)
        exchange.connectionClosed()
        #expect(releaser.released.current == 1)
    }

    @Test(arguments: ["gone", "HEAD", "shorter Content-Length"])
    func lentBodyNotSentIsReleasedAtOnceOrCut(case name: String) throws {
        let exchange = TestRequest(method: name == "HEAD" ? "HEAD" : "GET").exchange()
        try exchange.begin("200 OK")
        if name == "shorter Content-Length" { try exchange.header("Content-Length", "10") }
        if name == "gone" { exchange.connectionClosed() }
        let releaser = RecordingReleaser()
        let body = [UInt8](repeating: 1, count: 50_000)
        let result = body.withUnsafeBytes { exchange.sendBorrowedFinal($0, token: Self.token, releaser: releaser) }
        switch name {
        case "gone":
            #expect(result == .closed)
            #expect(releaser.released.current == 1)
        case "HEAD":
            #expect(result == .ok)
            #expect(releaser.released.current == 1)
            #expect(exchange.take().output.borrowed == nil)
        default:
            // Only what the application announced goes out; the rest stays unsent.
            let lent = try #require(exchange.take().output.borrowed)
            #expect(lent.count == 10)
            #expect(releaser.released.current == 0)
        }
    }

    @Test func waitForDrainReturnsAtOnceWhenLittleIsQueued() throws {
        let exchange = TestRequest().exchange()
        try exchange.begin("200 OK")
        exchange.send("small")
        #expect(exchange.waitForDrain() == .ok)
    }

    @Test func closedConnectionWakesAWaiterAndRefusesMoreOutput() throws {
        let exchange = TestRequest().exchange()
        try exchange.begin("200 OK")
        #expect(exchange.send([UInt8](repeating: 0, count: HTTPExchange.highWater + 1)) == .backpressure)
        let drained = Box<SendResult>()
        let waiter = TestThread { drained.set(exchange.waitForDrain()) }
        sleepMilliseconds(20)
        exchange.connectionClosed()
        #expect(waiter.join(timeoutMilliseconds: 2000))
        #expect(drained.value == .closed)
        #expect(exchange.send("more") == .closed)
        #expect(exchange.waitForDrain() == .closed)
        #expect(exchange.sendFile(fd: 0, offset: 0, count: 10) == .closed)
        exchange.finish()
    }

    @Test func sendAfterConnectionClosedAnswersClosed() throws {
        let exchange = TestRequest().exchange()
        exchange.connectionClosed()
        try exchange.begin("200 OK")
        #expect(exchange.send("hello", final: true) == .closed)
    }

    @Test func sendAfterTheFinalSendAnswersClosed() throws {
        let exchange = TestRequest().exchange()
        try exchange.begin("200 OK")
        #expect(exchange.send("hello", final: true) == .ok)
        #expect(exchange.send("again") == .closed)
        let response = try #require(TestResponse(exchange.take().bytes))
        #expect(response.bodyText == "hello")
    }

    @Test(arguments: [false, true])
    func abortEndsTheExchangeAndTheConnection(afterHead: Bool) throws {
        let exchange = TestRequest().exchange()
        try exchange.begin("200 OK")
        if afterHead { exchange.send("partial") }
        exchange.abort()
        let output = exchange.take().output
        #expect(output.aborted)
        #expect(output.finished)
        #expect(!output.keepAlive)
        #expect(exchange.send("late") == .closed)
    }

    @Test func ownerIsToldOnceUntilTheServerCollects() throws {
        let exchange = TestRequest().exchange()
        let owner = RecordingOwner()
        exchange.attach(owner: owner)
        try exchange.begin("200 OK")
        exchange.send("a")
        exchange.send("b")
        #expect(owner.calls == 1)
        _ = exchange.take()
        exchange.send("c", final: true)
        #expect(owner.calls == 2)
    }

    @Test func ownerIsNotToldAfterTheConnectionClosed() throws {
        let exchange = TestRequest().exchange()
        let owner = RecordingOwner()
        exchange.attach(owner: owner)
        exchange.connectionClosed()
        exchange.abort()
        #expect(owner.calls == 0)
    }

    @Test func preparingTheNextRequestResetsEverything() throws {
        let exchange = TestRequest(method: "POST", framing: .length(10), expectContinue: true).exchange()
        exchange.deliver("par")
        try exchange.begin("201 Created")
        exchange.send("x")
        exchange.abort()
        _ = exchange.take()

        let (request, head) = TestRequest(method: "GET", target: "/next?q=1").parsed()
        head.withUnsafeBytes { exchange.prepare(request: request, head: $0) }
        #expect(!exchange.isHeadCommitted)
        #expect(exchange.isBodyComplete)
        #expect(exchange.read(16) == [])
        let idle = exchange.take()
        #expect(idle.bytes.isEmpty)
        #expect(!idle.output.finished && !idle.output.aborted && !idle.output.sendContinue)
        #expect(idle.output.keepAlive)
        let target = exchange.withHeadBytes { String(decoding: $0[exchange.request.target], as: UTF8.self) }
        #expect(target == "/next?q=1")

        try exchange.begin("200 OK")
        exchange.send("fresh", final: true)
        let (bytes, output) = exchange.take()
        let response = try #require(TestResponse(bytes))
        #expect(response.statusLine == "HTTP/1.1 200 OK")
        #expect(response.bodyText == "fresh")
        #expect(output.keepAlive && output.finished && !output.aborted)
    }

    @Test func requestHeadIsKeptWithItsOffsets() {
        let request = TestRequest(method: "PUT", target: "/a/b?x=1&y", headers: [("Host", "example"), ("X-Long", "v a l")])
        let exchange = request.exchange()
        exchange.withHeadBytes { head in
            func text(_ range: Range<Int>) -> String { String(decoding: head[range], as: UTF8.self) }
            #expect(text(exchange.request.method) == "PUT")
            #expect(text(exchange.request.path) == "/a/b")
            #expect(exchange.request.query.map(text) == "x=1&y")
            #expect(exchange.request.headers.map { text($0.name) + "=" + text($0.value) } == ["Host=example", "X-Long=v a l"])
        }
        #expect(exchange.connection.remoteAddress == "127.0.0.1")
    }
}
