/// Size limits that bound what one request head may make the connection buffer hold.
///
/// Lengths exclude the CRLF that ends a line. A limit is enforced as soon as it is exceeded, before
/// the line ends, so a client that never sends CRLF cannot grow the buffer past it.
public struct ParserLimits: Sendable, Equatable {
    /// Longest request line (method SP target SP version), counting any empty lines skipped before
    /// it; exceeding it is 414.
    public var requestLine: Int
    /// Most header field lines per request; one more is 431.
    public var headerCount: Int
    /// Longest single header field line (`name: value`); exceeding it is 431.
    public var fieldLength: Int

    public init(requestLine: Int = 8190, headerCount: Int = 100, fieldLength: Int = 8190) {
        precondition(requestLine > 0 && headerCount >= 0 && fieldLength > 0, "limits must be positive")
        self.requestLine = requestLine
        self.headerCount = headerCount
        self.fieldLength = fieldLength
    }
}
