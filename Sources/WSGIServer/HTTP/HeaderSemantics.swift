/// What the header fields mean for the connection, decided once the head is complete:
/// body framing, keep-alive, `Expect: 100-continue`, and the Host rules.
///
/// Framing (RFC 9112 §6) is where request smuggling lives, so it is strict:
/// - Transfer-Encoding is refused on HTTP/1.0 and together with Content-Length (400).
/// - All Transfer-Encoding lines together must list exactly one coding, `chunked`
///   (case-insensitive). Empty list elements, non-token elements, `chunked` twice, or a final
///   coding other than `chunked` are 400; `chunked` preceded by other codings (`gzip, chunked`,
///   `identity, chunked`) is 501, since we decode no other coding.
/// - Content-Length must be 1*DIGIT without sign, list or overflow. Any repeated Content-Length
///   line is 400, even with an identical value: simpler, and no client needs it.
/// Host (RFC 9112 §3.2): HTTP/1.1 needs exactly one, HTTP/1.0 at most one; its value may hold only
/// URI authority characters (no userinfo). A repeated Content-Type is 400 as well, since the
/// application would have to guess which one the body is.
enum HeaderSemantics {
    static func apply(_ bytes: ByteView, to request: inout ParsedRequest) -> HTTPParseError? {
        var hostCount = 0
        var hostValid = true
        var contentTypeCount = 0
        var contentLengthCount = 0
        var contentLength = 0
        var contentLengthValid = true
        var codings = TransferCodings()
        var connectionClose = false
        var connectionKeepAlive = false
        var expectContinue = false

        for field in request.headers {
            let name = field.name
            let value = field.value
            // Dispatch on length first: most fields fail this without reading a byte.
            switch name.count {
            case 4 where bytes.equalsIgnoringCase(name, "host"):
                hostCount += 1
                hostValid = hostValid && isValidHost(bytes, value)
            case 6 where bytes.equalsIgnoringCase(name, "expect"):
                expectContinue = expectContinue || bytes.equalsIgnoringCase(value, "100-continue")
            case 10 where bytes.equalsIgnoringCase(name, "connection"):
                forEachListElement(bytes, value) { element in
                    if bytes.equalsIgnoringCase(element, "close") { connectionClose = true }
                    if bytes.equalsIgnoringCase(element, "keep-alive") { connectionKeepAlive = true }
                }
            case 12 where bytes.equalsIgnoringCase(name, "content-type"):
                contentTypeCount += 1
            case 14 where bytes.equalsIgnoringCase(name, "content-length"):
                contentLengthCount += 1
                if let n = parseContentLength(bytes, value) {
                    contentLength = n
                } else {
                    contentLengthValid = false
                }
            case 17 where bytes.equalsIgnoringCase(name, "transfer-encoding"):
                codings.add(bytes, value)
            default:
                break
            }
        }

        let http11 = request.versionMinor == 1
        if codings.lineCount > 0 {
            if !http11 { return .transferEncodingOnHTTP10 }
            if contentLengthCount > 0 { return .contentLengthWithTransferEncoding }
            if let error = codings.error { return error }
            request.framing = .chunked
        } else if contentLengthCount > 1 {
            return .duplicateContentLength
        } else if contentLengthCount == 1 {
            guard contentLengthValid else { return .invalidContentLength }
            request.framing = .length(contentLength)
        } else {
            request.framing = .none
        }

        if hostCount > 1 { return .duplicateHost }
        if hostCount == 0 && http11 { return .missingHost }
        if !hostValid { return .invalidHost }
        if contentTypeCount > 1 { return .duplicateContentType }

        // HTTP/1.1 is persistent unless told otherwise; HTTP/1.0 only when asked (RFC 9112 §9.3).
        request.keepAlive = !connectionClose && (http11 || connectionKeepAlive)
        // 100-continue is an HTTP/1.1 mechanism; a 1.0 client would not understand the interim reply.
        request.expectContinue = http11 && expectContinue
        return nil
    }

    /// 1*DIGIT, nothing else (no sign, no list, no inner whitespace), without overflow.
    private static func parseContentLength(_ bytes: ByteView, _ value: Range<Int>) -> Int? {
        guard !value.isEmpty else { return nil }
        var n = 0
        for i in value {
            let b = bytes[i]
            guard HTTPByte.isDigit(b) else { return nil }
            let (times10, o1) = n.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(Int(b &- 0x30))
            if o1 || o2 { return nil }
            n = sum
        }
        return n
    }

    /// A Host value: uri-host [":" port], checked by character class only (RFC 3986 reg-name,
    /// IP-literal and port characters); empty is allowed (RFC 9112 §3.2).
    private static func isValidHost(_ bytes: ByteView, _ value: Range<Int>) -> Bool {
        for i in value where !HTTPByte.isAuthorityChar(bytes[i]) { return false }
        return true
    }

    /// Calls `body` with each comma-separated element of `range`, trimmed of OWS (RFC 9110 §5.6.1);
    /// empty elements are reported too, as empty ranges.
    static func forEachListElement(_ bytes: ByteView, _ range: Range<Int>, _ body: (Range<Int>) -> Void) {
        var start = range.lowerBound
        while true {
            var end = start
            while end < range.upperBound, bytes[end] != HTTPByte.comma { end += 1 }
            var lo = start
            var hi = end
            while lo < hi, HTTPByte.isOWS(bytes[lo]) { lo += 1 }
            while hi > lo, HTTPByte.isOWS(bytes[hi - 1]) { hi -= 1 }
            body(lo..<hi)
            if end == range.upperBound { return }
            start = end + 1
        }
    }
}

/// The transfer codings listed across all Transfer-Encoding lines, in order.
private struct TransferCodings {
    var lineCount = 0
    private var chunkedCount = 0
    private var lastIsChunked = false
    private var hasOtherCoding = false
    private var malformed = false

    mutating func add(_ bytes: ByteView, _ value: Range<Int>) {
        lineCount += 1
        HeaderSemantics.forEachListElement(bytes, value) { element in
            guard !element.isEmpty, element.allSatisfy({ HTTPByte.isTchar(bytes[$0]) }) else {
                malformed = true
                return
            }
            if bytes.equalsIgnoringCase(element, "chunked") {
                chunkedCount += 1
                lastIsChunked = true
            } else {
                hasOtherCoding = true
                lastIsChunked = false
            }
        }
    }

    /// Why the codings cannot be used, or nil if they are exactly `chunked`.
    var error: HTTPParseError? {
        // Chunked must be final and applied once (RFC 9112 §6.3, §7), or the length is unknowable.
        if malformed || chunkedCount != 1 || !lastIsChunked { return .invalidTransferEncoding }
        if hasOtherCoding { return .unsupportedTransferCoding }
        return nil
    }
}
