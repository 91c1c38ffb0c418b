import Testing

@testable import WSGIServer

/// Latin-1 bytes: every scalar up to U+00FF becomes one byte, so tests write obs-text as "\u{E9}".
func latin1(_ string: String) -> [UInt8] {
    string.unicodeScalars.map { scalar in
        precondition(scalar.value <= 0xFF, "test input is not latin-1")
        return UInt8(scalar.value)
    }
}

func latin1String<C: Collection<UInt8>>(_ bytes: C) -> String {
    var utf8: [UInt8] = []
    utf8.reserveCapacity(bytes.count)
    for b in bytes {
        if b < 0x80 {
            utf8.append(b)
        } else {
            utf8.append(0xC0 | b >> 6)
            utf8.append(0x80 | b & 0x3F)
        }
    }
    return String(decoding: utf8, as: UTF8.self)
}

/// A parse result by offsets only: cheap to build and compare at thousands of split points.
struct RawHeadResult: Equatable {
    var status: ParseStatus
    var ranges: [Range<Int>?] = []
    var headers: [HeaderField] = []
    var flags: [Int] = []

    init(_ status: ParseStatus, _ parser: RequestParser) {
        self.status = status
        guard case .complete = status else { return }
        let r = parser.request
        ranges = [r.method, r.target, r.path, r.query, r.authority]
        headers = r.headers
        let framing: Int =
            switch r.framing {
            case .none: -1
            case .chunked: -2
            case .length(let n): n
            }
        flags = [r.versionMinor, framing, r.keepAlive ? 1 : 0, r.expectContinue ? 1 : 0, r.methodIsHead ? 1 : 0, r.headLength]
    }
}

/// Everything a parsed head reports, as strings, for comparing results.
struct HeadSummary: Equatable, CustomStringConvertible {
    var method: String
    var target: String
    var path: String
    var query: String?
    var authority: String?
    var versionMinor: Int
    /// "name: value" per field, as sent.
    var headers: [String]
    var framing: BodyFraming
    var keepAlive: Bool
    var expectContinue: Bool
    var methodIsHead: Bool
    var headLength: Int

    init(_ request: ParsedRequest, _ bytes: [UInt8]) {
        func text(_ range: Range<Int>) -> String { latin1String(bytes[range]) }
        method = text(request.method)
        target = text(request.target)
        path = text(request.path)
        query = request.query.map(text)
        authority = request.authority.map(text)
        versionMinor = request.versionMinor
        headers = request.headers.map { "\(text($0.name)): \(text($0.value))" }
        framing = request.framing
        keepAlive = request.keepAlive
        expectContinue = request.expectContinue
        methodIsHead = request.methodIsHead
        headLength = request.headLength
    }

    var description: String {
        "\(method) \(target) 1.\(versionMinor) path=\(path) query=\(query ?? "nil") "
            + "authority=\(authority ?? "nil") headers=\(headers) framing=\(framing) "
            + "keepAlive=\(keepAlive) expectContinue=\(expectContinue) head=\(headLength)"
    }
}

enum HeadResult: Equatable, CustomStringConvertible {
    case complete(HeadSummary)
    case partial
    case invalid(HTTPParseError)

    var description: String {
        switch self {
        case .complete(let summary): "complete(\(summary))"
        case .partial: "partial"
        case .invalid(let error): "invalid(\(error))"
        }
    }

    var error: HTTPParseError? {
        if case .invalid(let error) = self { return error }
        return nil
    }

    var summary: HeadSummary? {
        if case .complete(let summary) = self { return summary }
        return nil
    }
}

/// Feeds the first `count` bytes of `bytes` to `parser`.
func feed(_ parser: inout RequestParser, _ bytes: [UInt8], count: Int) -> ParseStatus {
    bytes.withUnsafeBytes { all in
        // Safe: `count` <= bytes.count and the slice lives for this closure.
        parser.parse(unsafe UnsafeRawBufferPointer(rebasing: all[0..<count]))
    }
}

func headResult(_ status: ParseStatus, _ parser: RequestParser, _ bytes: [UInt8]) -> HeadResult {
    switch status {
    case .partial: return .partial
    case .invalid(let error): return .invalid(error)
    case .complete(let n):
        #expect(n == parser.request.headLength)
        return .complete(HeadSummary(parser.request, bytes))
    }
}

/// Parses `bytes` in one call, then again at every split point (the first k bytes, then all of
/// them) and one byte at a time, recording an issue wherever the answers disagree. Returns the
/// one-call answer.
@discardableResult
func parseEverySplit(
    _ bytes: [UInt8], limits: ParserLimits = .init(), sourceLocation: SourceLocation = #_sourceLocation
) -> HeadResult {
    var whole = RequestParser(limits: limits)
    let status = feed(&whole, bytes, count: bytes.count)
    let expected = RawHeadResult(status, whole)
    let result = headResult(status, whole, bytes)
    checkInvariants(result, bytes.count, sourceLocation)

    for k in 0...bytes.count {
        var parser = RequestParser(limits: limits)
        let first = RawHeadResult(feed(&parser, bytes, count: k), parser)
        if first.status != .partial && first != expected {
            Issue.record("split at \(k): first part gave \(first.status), whole gave \(result)", sourceLocation: sourceLocation)
            return result
        }
        let second = RawHeadResult(feed(&parser, bytes, count: bytes.count), parser)
        if second != expected {
            Issue.record("split at \(k): gave \(second.status), whole gave \(result)", sourceLocation: sourceLocation)
            return result
        }
    }

    var parser = RequestParser(limits: limits)
    var settled: RawHeadResult? = nil
    for n in stride(from: 1, through: bytes.count, by: 1) {
        let step = RawHeadResult(feed(&parser, bytes, count: n), parser)
        if let settled, step != settled {
            Issue.record("byte at a time: changed from \(settled.status) to \(step.status) at \(n)", sourceLocation: sourceLocation)
            break
        }
        if step.status != .partial { settled = step }
    }
    #expect((settled ?? RawHeadResult(.partial, parser)) == expected, "byte at a time", sourceLocation: sourceLocation)
    return result
}

/// Offsets of a complete parse lie within the head.
func checkInvariants(_ result: HeadResult, _ count: Int, _ sourceLocation: SourceLocation) {
    guard let summary = result.summary else { return }
    #expect(summary.headLength <= count, sourceLocation: sourceLocation)
}
