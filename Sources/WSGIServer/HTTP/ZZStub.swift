// TEMPORARY stub until the parser branch lands. Not committed.
public struct HTTPParseError: Error, Equatable, Sendable { public let status: Int; public let reason: String }
public struct ParserLimits: Sendable { public var requestLine = 8190; public var headerCount = 100; public var fieldLength = 8190; public init() {} }
public enum ParseStatus: Equatable, Sendable { case complete(Int), partial, invalid(HTTPParseError) }
public struct RequestParser {
    public private(set) var request = ParsedRequest()
    public init(limits: ParserLimits = .init()) {}
    public mutating func reset() { request.headers.removeAll(keepingCapacity: true) }
    public mutating func parse(_ b: UnsafeRawBufferPointer) -> ParseStatus {
        let n = b.count
        var i = 0
        while i + 3 < n { if b[i] == 13 && b[i+1] == 10 && b[i+2] == 13 && b[i+3] == 10 { break }; i += 1 }
        if i + 3 >= n { return .partial }
        let headLen = i + 4
        // request line
        var p = 0
        while p < headLen && b[p] != 32 { p += 1 }
        request.method = 0..<p
        let ts = p + 1; p = ts
        while p < headLen && b[p] != 32 { p += 1 }
        request.target = ts..<p
        var q = ts; while q < p && b[q] != 63 { q += 1 }
        request.path = ts..<q; request.query = q < p ? (q+1)..<p : nil
        request.versionMinor = b[p + 8] == 48 ? 0 : 1
        while b[p] != 10 { p += 1 }
        p += 1
        request.headers.removeAll(keepingCapacity: true)
        request.framing = .none; request.keepAlive = request.versionMinor == 1; request.expectContinue = false
        request.methodIsHead = request.method.count == 4 && b[0] == 72
        while p < headLen - 2 {
            let ns = p; while b[p] != 58 { p += 1 }
            let name = ns..<p; p += 1; while b[p] == 32 { p += 1 }
            let vs = p; while b[p] != 13 { p += 1 }
            request.headers.append(HeaderField(name: name, value: vs..<p))
            let nb = UnsafeRawBufferPointer(rebasing: b[name]); let vb = UnsafeRawBufferPointer(rebasing: b[vs..<p])
            if HTTPBytes.equalsIgnoringCase(nb, "content-length") { request.framing = .length(HTTPBytes.parseDecimal(vb) ?? 0) }
            if HTTPBytes.equalsIgnoringCase(nb, "transfer-encoding") { request.framing = .chunked }
            if HTTPBytes.equalsIgnoringCase(nb, "expect") { request.expectContinue = true }
            if HTTPBytes.equalsIgnoringCase(nb, "connection") {
                if HTTPBytes.containsToken(vb, "close") { request.keepAlive = false }
                if HTTPBytes.containsToken(vb, "keep-alive") { request.keepAlive = true }
            }
            p += 2
        }
        if b[0] == 88 { return .invalid(HTTPParseError(status: 400, reason: "stub invalid")) }
        request.headLength = headLen
        return .complete(headLen)
    }
}
public struct ChunkedDecoder {
    var remaining = -1
    public init(maxLineLength: Int = 4096, maxTrailerBytes: Int = 8192) {}
    public mutating func reset() { remaining = -1 }
    public mutating func decode(_ input: UnsafeRawBufferPointer, into sink: (UnsafeRawBufferPointer) -> Void) throws(HTTPParseError) -> (consumed: Int, done: Bool) {
        var i = 0
        while i < input.count {
            if remaining > 0 {
                let n = min(remaining, input.count - i)
                sink(UnsafeRawBufferPointer(rebasing: input[i..<i+n])); i += n; remaining -= n
                if remaining == 0 { remaining = -2 }
                continue
            }
            // need a line
            var j = i; while j + 1 < input.count && !(input[j] == 13 && input[j+1] == 10) { j += 1 }
            if j + 1 >= input.count { return (i, false) }
            if remaining == -2 { remaining = -1; i = j + 2; continue }
            var v = 0; for k in i..<j { let c = input[k]; v = v * 16 + Int(c <= 57 ? c - 48 : (c | 0x20) - 87) }
            i = j + 2
            if v == 0 { // expect final CRLF
                if i + 1 < input.count { return (i + 2, true) } else { return (j - (j - i) - 2 + 0, false) }
            }
            remaining = v
        }
        return (i, false)
    }
}
