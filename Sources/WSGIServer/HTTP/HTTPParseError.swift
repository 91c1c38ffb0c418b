/// Why a request head or chunked body was refused, as the status to answer with and a short reason
/// for the error body and the log line.
///
/// Status choices:
/// - 400 for malformed syntax and for every framing ambiguity (request smuggling vectors).
/// - 414 when the request line outgrows `ParserLimits.requestLine`.
/// - 431 when there are too many header fields or one field line (or the trailer section) is too long.
/// - 501 when `chunked` is the final transfer coding but another coding (`gzip`, `identity`, ...)
///   precedes it: well-formed, but we decode no other coding (RFC 9112 §6.1).
/// - 505 for a well-formed `HTTP/x.y` whose major version is not 1. That includes the HTTP/2
///   preface `PRI * HTTP/2.0`: the version is judged before the method and target. HTTP/1.2 to
///   HTTP/1.9 are served as HTTP/1.1 (RFC 9110 §2.5), and so is their SERVER_PROTOCOL.
///
/// Transfer-Encoding on an HTTP/1.0 request is 400: a 1.0 client cannot send chunked, so the header
/// is a smuggling attempt or a broken intermediary. CONNECT is 400 too: a WSGI server tunnels nothing.
public struct HTTPParseError: Error, Equatable, Sendable, CustomStringConvertible {
    public let status: Int
    public let reason: String

    public init(status: Int, reason: String) {
        self.status = status
        self.reason = reason
    }

    public static func badRequest(_ reason: String) -> HTTPParseError {
        HTTPParseError(status: 400, reason: reason)
    }

    public var description: String { "\(status) \(reason)" }

    // Request line.
    public static let invalidMethod = badRequest("invalid method")
    public static let invalidTarget = badRequest("invalid request target")
    public static let invalidVersion = badRequest("invalid HTTP version")
    public static let invalidRequestLine = badRequest("invalid request line")
    public static let connectNotSupported = badRequest("CONNECT not supported")
    public static let versionNotSupported = HTTPParseError(status: 505, reason: "HTTP version not supported")
    public static let requestLineTooLong = HTTPParseError(status: 414, reason: "request line too long")

    // Lines and fields (request headers and chunked trailers).
    public static let invalidLineEnding = badRequest("invalid line ending")
    public static let obsoleteFolding = badRequest("obsolete line folding")
    public static let emptyHeaderName = badRequest("empty header name")
    public static let invalidHeaderName = badRequest("invalid header name")
    public static let whitespaceBeforeColon = badRequest("whitespace before colon")
    public static let missingColon = badRequest("missing colon in header field")
    public static let invalidHeaderValue = badRequest("invalid header value")
    public static let tooManyHeaders = HTTPParseError(status: 431, reason: "too many header fields")
    public static let headerFieldTooLong = HTTPParseError(status: 431, reason: "header field too long")

    // Header semantics, checked when the head is complete.
    public static let missingHost = badRequest("missing Host header")
    public static let duplicateHost = badRequest("duplicate Host header")
    public static let invalidHost = badRequest("invalid Host header")
    public static let duplicateContentType = badRequest("duplicate Content-Type")
    public static let invalidContentLength = badRequest("invalid Content-Length")
    public static let duplicateContentLength = badRequest("duplicate Content-Length")
    public static let contentLengthWithTransferEncoding = badRequest("Content-Length with Transfer-Encoding")
    public static let invalidTransferEncoding = badRequest("invalid Transfer-Encoding")
    public static let transferEncodingOnHTTP10 = badRequest("Transfer-Encoding on HTTP/1.0")
    public static let unsupportedTransferCoding = HTTPParseError(status: 501, reason: "unsupported transfer coding")

    // Chunked body.
    public static let invalidChunkSize = badRequest("invalid chunk size")
    public static let chunkSizeTooLarge = badRequest("chunk size too large")
    public static let invalidChunkExtension = badRequest("invalid chunk extension")
    public static let chunkLineTooLong = badRequest("chunk line too long")
    public static let missingChunkCRLF = badRequest("missing CRLF after chunk data")
    public static let forbiddenTrailer = badRequest("forbidden trailer field")
    public static let trailerTooLarge = HTTPParseError(status: 431, reason: "trailer section too large")
}
