/// Incremental, strict HTTP/1.1 request-head parser over the caller's buffer (after
/// picohttpparser): it never copies or allocates, reports offsets into the buffer, and on each
/// call scans only the bytes that arrived since the last one.
///
/// Usage: call `parse` with the bytes received so far for this request (always starting at the
/// request's first byte, the same prefix grown by new bytes) until it returns `.complete(n)` or
/// `.invalid`. Read `request`, consume `n` bytes, handle the body, then `reset()` for the next
/// request on the connection.
///
/// Strictness is aimed at request smuggling and hostile input: see `HTTPParseError` for what is
/// refused with which status, `FieldLineScanner` / `RequestLineScanner` for the syntax rules,
/// `RequestTarget` for target forms and `HeaderSemantics` for framing and Host rules.
public struct RequestParser: Sendable {
    public enum ParseStatus: Equatable, Sendable {
        /// The head is complete and valid; the value is its length (`request.headLength`).
        case complete(Int)
        /// Every byte so far is valid, but the head's blank line has not arrived.
        case partial
        /// The bytes are known bad; answer with the error's status and close the connection.
        case invalid(HTTPParseError)
    }

    private enum Phase: Sendable {
        /// Skipping empty lines before the request line (RFC 9112 §2.2).
        case leading
        case requestLine
        case fields
        case complete
        case failed(HTTPParseError)
    }

    public let limits: ParserLimits
    /// The parsed head, valid after `.complete`; offsets are relative to the buffer's start. Don't
    /// keep a copy across `reset()`: a shared headers array would make the reset allocate.
    public private(set) var request = ParsedRequest()

    private var phase = Phase.leading
    /// In `.leading`, the next byte to look at; in `.fields`, the first byte of the current line.
    private var position = 0
    /// The buffer length at the last call; a buffer may only grow.
    private var seen = 0
    private var lineScanner = RequestLineScanner()
    private var fieldScanner = FieldLineScanner()

    public init(limits: ParserLimits = .init()) {
        self.limits = limits
    }

    /// Scans the bytes added since the last call. `buffer` must start at the request's first byte
    /// and hold everything passed before. Once `.complete` or `.invalid`, repeats that answer until
    /// `reset()`.
    public mutating func parse(_ buffer: UnsafeRawBufferPointer) -> ParseStatus {
        switch phase {
        case .complete: return .complete(request.headLength)
        case .failed(let error): return .invalid(error)
        default: break
        }
        precondition(buffer.count >= seen, "RequestParser.parse: the buffer shrank between calls")
        seen = buffer.count
        // Safe: the view reads only `buffer`, only during this call.
        return unsafe ByteView.with(buffer) { bytes in scan(bytes) }
    }

    /// Prepares for the next request on the same connection, keeping the headers' capacity.
    public mutating func reset() {
        phase = .leading
        position = 0
        seen = 0
        lineScanner = RequestLineScanner()
        fieldScanner.reset()
        request.clear()
    }

    private mutating func scan(_ bytes: ByteView) -> ParseStatus {
        if case .leading = phase {
            switch skipEmptyLines(bytes) {
            case .needMore: return .partial
            case .invalid(let error): return fail(error)
            case .requestLineAt(let start):
                lineScanner = RequestLineScanner(lineStart: start)
                phase = .requestLine
            }
        }
        if case .requestLine = phase {
            switch lineScanner.scan(bytes, limit: limits.requestLine) {
            case .needMore:
                return .partial
            case .tooLong:
                return fail(.requestLineTooLong)
            case .invalid(let error):
                return fail(error)
            case .complete(let method, let target, let major, let minor, let end):
                if let error = acceptRequestLine(bytes, method, target, major, minor) { return fail(error) }
                position = end
                phase = .fields
            }
        }
        return scanFields(bytes)
    }

    private enum LeadingStep {
        case needMore
        case requestLineAt(Int)
        case invalid(HTTPParseError)
    }

    /// Skips CRLFs before the request line. They count toward the request-line limit, so a stream
    /// of empty lines cannot grow the buffer without bound.
    private mutating func skipEmptyLines(_ bytes: ByteView) -> LeadingStep {
        while position < bytes.count {
            if position >= limits.requestLine { return .invalid(.requestLineTooLong) }
            switch bytes[position] {
            case HTTPByte.cr:
                guard position + 1 < bytes.count else { return .needMore }
                guard bytes[position + 1] == HTTPByte.lf else { return .invalid(.invalidLineEnding) }
                position += 2
            case HTTPByte.lf:
                return .invalid(.invalidLineEnding)
            default:
                return .requestLineAt(position)
            }
        }
        return .needMore
    }

    private mutating func acceptRequestLine(
        _ bytes: ByteView, _ method: Range<Int>, _ target: Range<Int>, _ major: Int, _ minor: Int
    ) -> HTTPParseError? {
        // The version is judged first, so the HTTP/2 preface `PRI * HTTP/2.0` gets 505. A later
        // HTTP/1.x is handled as HTTP/1.1, the highest 1.x we conform to (RFC 9110 §2.5).
        guard major == 1 else { return .versionNotSupported }
        request.method = method
        request.target = target
        request.versionMinor = min(minor, 1)
        request.methodIsHead = bytes.equals(method, "HEAD")
        return RequestTarget.resolve(bytes, into: &request)
    }

    private mutating func scanFields(_ bytes: ByteView) -> ParseStatus {
        while true {
            // Refuse the field one past the limit at its first byte, before buffering its line.
            if fieldScanner.atLineStart, position < bytes.count, bytes[position] != HTTPByte.cr,
                request.headers.count >= limits.headerCount
            {
                return fail(.tooManyHeaders)
            }
            switch fieldScanner.scan(bytes, lineStart: position, maxLength: limits.fieldLength) {
            case .needMore:
                return .partial
            case .tooLong:
                return fail(.headerFieldTooLong)
            case .invalid(let error):
                return fail(error)
            case .field(let name, let value, let length):
                request.headers.append(HeaderField(
                    name: position + name.lowerBound..<position + name.upperBound,
                    value: position + value.lowerBound..<position + value.upperBound))
                position += length
            case .end:
                request.headLength = position + 2
                if let error = HeaderSemantics.apply(bytes, to: &request) { return fail(error) }
                phase = .complete
                return .complete(request.headLength)
            }
        }
    }

    private mutating func fail(_ error: HTTPParseError) -> ParseStatus {
        phase = .failed(error)
        return .invalid(error)
    }
}

/// The parse result, also spelled `RequestParser.ParseStatus`.
public typealias ParseStatus = RequestParser.ParseStatus
