import Testing

@testable import WSGIServer

/// Plays one connection's byte stream through RequestParser and ChunkedDecoder the way the
/// connection engine uses them: bytes arrive in pieces, a head is parsed from the buffer's start,
/// consumed, its body read by Content-Length or chunked decoding, and the parser reset for the
/// next request until the stream ends, an error occurs, or a request is not keep-alive.
struct ConnectionSimulator {
    struct Request: Equatable {
        var raw: RawHeadResult
        var body: [UInt8] = []
        /// Filled only when the simulator keeps heads (not compared).
        var summary: HeadSummary? = nil
        var hostInjected = false

        static func == (a: Request, b: Request) -> Bool { a.raw == b.raw && a.body == b.body }
    }

    enum End: Equatable, CustomStringConvertible {
        /// Every byte was used and the connection waits for another request.
        case exhausted
        /// The last request was not keep-alive; the server closes.
        case closed
        case incompleteHead
        case incompleteBody
        case invalid(HTTPParseError)

        var description: String {
            switch self {
            case .exhausted: "exhausted"
            case .closed: "closed"
            case .incompleteHead: "incomplete head"
            case .incompleteBody: "incomplete body"
            case .invalid(let error): "invalid(\(error))"
            }
        }

        var isClean: Bool { self == .exhausted || self == .closed }
    }

    struct Outcome: Equatable {
        var requests: [Request] = []
        var end = End.exhausted
        /// The stream as played, including any injected Host lines (not compared).
        var stream: [UInt8] = []

        static func == (a: Outcome, b: Outcome) -> Bool { a.requests == b.requests && a.end == b.end }
    }

    var limits = ParserLimits()
    /// Keep a HeadSummary of each request (costly; for the one-piece run).
    var keepHeads = false
    /// If set, an HTTP/1.1 head without a Host line gets `Host: <this>` after its request line.
    /// Only for a stream that arrives in one piece.
    var injectHost: String? = nil

    private enum Stage {
        case head
        case length(Int)
        case chunked
    }

    func run(_ data: [UInt8], cuts: [Int] = []) -> Outcome {
        precondition(injectHost == nil || cuts.isEmpty, "Host injection needs the whole stream")
        var outcome = Outcome()
        var parser = RequestParser(limits: limits)
        var decoder = ChunkedDecoder()
        var buffer: [UInt8] = []
        var stage = Stage.head
        var current: Request? = nil
        var keepAlive = true
        var start = 0

        func finish() -> Bool {
            outcome.requests.append(current!)
            current = nil
            stage = .head
            if !keepAlive { outcome.end = .closed }
            return keepAlive
        }

        for end in cuts + [data.count] where end >= start {
            buffer += data[start..<end]
            start = end
            progress: while true {
                switch stage {
                case .head:
                    if buffer.isEmpty { break progress }
                    var injected = false
                    if let host = injectHost {
                        injected = Self.injectHost(host, into: &buffer)
                    }
                    let status = feed(&parser, buffer, count: buffer.count)
                    switch status {
                    case .partial:
                        break progress
                    case .invalid(let error):
                        outcome.end = .invalid(error)
                        outcome.stream += buffer
                        return outcome
                    case .complete(let n):
                        current = Request(raw: RawHeadResult(status, parser), hostInjected: injected)
                        if keepHeads { current!.summary = HeadSummary(parser.request, buffer) }
                        keepAlive = parser.request.keepAlive
                        let framing = parser.request.framing
                        outcome.stream += buffer[0..<n]
                        buffer.removeFirst(n)
                        parser.reset()
                        switch framing {
                        case .none, .length(0):
                            if !finish() { outcome.stream += buffer; return outcome }
                        case .length(let length):
                            stage = .length(length)
                        case .chunked:
                            decoder.reset()
                            stage = .chunked
                        }
                    }

                case .length(let remaining):
                    let take = min(remaining, buffer.count)
                    current!.body += buffer[0..<take]
                    outcome.stream += buffer[0..<take]
                    buffer.removeFirst(take)
                    guard take == remaining else {
                        stage = .length(remaining - take)
                        break progress
                    }
                    if !finish() { outcome.stream += buffer; return outcome }

                case .chunked:
                    var body: [UInt8] = []
                    let step: Result<(consumed: Int, done: Bool), HTTPParseError> = buffer.withUnsafeBytes { bytes in
                        do throws(HTTPParseError) {
                            return .success(try decoder.decode(bytes) { body += $0 })
                        } catch {
                            return .failure(error)
                        }
                    }
                    current!.body += body
                    switch step {
                    case .failure(let error):
                        outcome.end = .invalid(error)
                        outcome.stream += buffer
                        return outcome
                    case .success(let (consumed, done)):
                        outcome.stream += buffer[0..<consumed]
                        buffer.removeFirst(consumed)
                        guard done else { break progress }
                        if !finish() { outcome.stream += buffer; return outcome }
                    }
                }
            }
        }
        outcome.stream += buffer
        switch stage {
        case .head:
            outcome.end = buffer.isEmpty ? .exhausted : .incompleteHead
        case .length, .chunked:
            // The request whose body is still arriving, with the body so far.
            outcome.requests.append(current!)
            outcome.end = .incompleteBody
        }
        return outcome
    }

    /// Adds `Host: host` after the request line at the start of `buffer` if that line ends in
    /// HTTP/1.1 and the head has no Host line. Returns whether it did.
    private static func injectHost(_ host: String, into buffer: inout [UInt8]) -> Bool {
        var lineStart = 0
        while lineStart + 1 < buffer.count, buffer[lineStart] == 0x0D, buffer[lineStart + 1] == 0x0A { lineStart += 2 }
        guard let lineEnd = find([0x0D, 0x0A], in: buffer, from: lineStart),
            latin1String(buffer[lineStart..<lineEnd]).hasSuffix(" HTTP/1.1")
        else { return false }
        let headEnd = find([0x0D, 0x0A, 0x0D, 0x0A], in: buffer, from: lineStart) ?? buffer.count
        let head = latin1String(buffer[lineEnd..<headEnd]).lowercased()
        if head.contains("\r\nhost:") { return false }
        buffer.insert(contentsOf: latin1("\r\nHost: \(host)"), at: lineEnd)
        return true
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        var i = start
        while i + needle.count <= haystack.count {
            if haystack[i..<i + needle.count].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }
}
