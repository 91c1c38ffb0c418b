/// One header field as offsets into the request head's bytes; the value is trimmed of OWS.
public struct HeaderField: Sendable, Equatable {
    public var name: Range<Int>
    public var value: Range<Int>

    public init(name: Range<Int>, value: Range<Int>) {
        self.name = name
        self.value = value
    }
}

/// How the request body is delimited (RFC 9112 §6).
public enum BodyFraming: Sendable, Equatable {
    case none
    case length(Int)
    case chunked
}

/// A parsed request head: offsets into the bytes the parser was given (0 = the request's first
/// byte) plus what the framing headers mean. Reused between requests; no per-header allocation.
public struct ParsedRequest: Sendable {
    public var method: Range<Int> = 0..<0
    /// The request-target exactly as sent.
    public var target: Range<Int> = 0..<0
    /// The target's path (for absolute-form, the path after the authority), still percent-encoded.
    public var path: Range<Int> = 0..<0
    /// The part after the first `?`, without it; nil when there is no `?`. A `#fragment` (which
    /// clients must not send) is excluded from both path and query.
    public var query: Range<Int>? = nil
    /// For absolute-form (`http://host:port/p`), the authority `host:port`; RFC 9112 §3.2.2 says it
    /// replaces the Host header's value. nil for the other forms. In absolute-form the path may be
    /// empty (`http://host?q`), which means `/`.
    public var authority: Range<Int>? = nil
    /// HTTP/1.<versionMinor>.
    public var versionMinor: Int = 1
    /// Every field line in arrival order, names as sent (match them case-insensitively); values
    /// may contain obs-text bytes (0x80-0xFF), which WSGI decodes as latin-1.
    public var headers: [HeaderField] = []
    public var framing: BodyFraming = .none
    public var keepAlive: Bool = true
    public var expectContinue: Bool = false
    public var methodIsHead: Bool = false
    /// Bytes from the request's first byte through the blank line that ends the head.
    public var headLength: Int = 0

    public init() {
        headers.reserveCapacity(32)
    }
}

extension ParsedRequest {
    /// Back to the initial state for the next request, keeping the headers' storage. Rebuilding
    /// from the stored defaults means a field added later is reset without touching this code.
    /// Allocation-free only if no copy of this request still shares the headers array.
    mutating func clear() {
        var kept: [HeaderField] = []
        swap(&kept, &headers)
        kept.removeAll(keepingCapacity: true)
        self = ParsedRequest(keeping: kept)
    }

    /// Every other property keeps its declared default; skips `init()`'s reservation.
    private init(keeping headers: [HeaderField]) {
        self.headers = headers
    }
}
