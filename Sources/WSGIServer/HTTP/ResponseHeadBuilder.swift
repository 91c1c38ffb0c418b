/// Why a handler's status line or header was refused. It never reaches the wire.
public struct ResponseHeadError: Error, Equatable, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// How the response body is delimited on the wire.
enum ResponseFraming: Equatable {
    case contentLength(Int)
    case chunked
    case closeDelimited
    /// 204, 304: no body and no framing header.
    case noBody
}

/// Composes a response head in a reused buffer on the handler's thread. Validates every byte:
/// CR, LF or NUL from an application can never split a response (gunicorn CVE-2018-1000164).
struct ResponseHeadBuilder {
    private(set) var bytes: [UInt8] = []
    private(set) var statusCode = 0
    private(set) var contentLength: Int?
    private(set) var connectionClose = false
    private(set) var hasDate = false
    private(set) var hasServer = false
    private(set) var began = false

    init() {
        bytes.reserveCapacity(512)
    }

    mutating func reset() {
        bytes.removeAll(keepingCapacity: true)
        statusCode = 0
        contentLength = nil
        connectionClose = false
        hasDate = false
        hasServer = false
        began = false
    }

    mutating func begin(status: UnsafeRawBufferPointer) throws(ResponseHeadError) {
        guard status.count >= 3, status.count <= 512 else { throw ResponseHeadError("status must be 'NNN reason'") }
        var code = 0
        for i in 0..<3 {
            let c = status[i]
            guard c >= 48, c <= 57 else { throw ResponseHeadError("status must start with a 3-digit code") }
            code = code * 10 + Int(c - 48)
        }
        guard code >= 200, code <= 999 else {
            throw ResponseHeadError("status code \(code) is not a final status (200-999)")
        }
        if status.count > 3 {
            guard status[3] == 32 else { throw ResponseHeadError("status code must be followed by a space") }
        }
        for c in status where !HTTPByte.isFieldValueByte(c) {
            throw ResponseHeadError("status contains a control character")
        }
        reset()
        began = true
        statusCode = code
        Self.append("HTTP/1.1 ", to: &bytes)
        bytes.append(contentsOf: status)
        if status.count == 3 { bytes.append(32) }
        bytes.append(13)
        bytes.append(10)
    }

    mutating func add(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) throws(ResponseHeadError) {
        guard began else { throw ResponseHeadError("header before status") }
        guard !name.isEmpty else { throw ResponseHeadError("empty header name") }
        for c in name where !HTTPByte.isTchar(c) {
            throw ResponseHeadError("header name contains an invalid character")
        }
        for c in value where !HTTPByte.isFieldValueByte(c) {
            throw ResponseHeadError("header value contains a control character")
        }
        switch Self.hopByHop(name) {
        case .connection:
            if HTTPBytes.containsToken(value, "close") { connectionClose = true }
            return
        case .other:
            return  // hop-by-hop headers are the server's to set (PEP 3333)
        case .contentLength:
            guard let length = HTTPBytes.parseDecimal(value) else {
                throw ResponseHeadError("Content-Length is not a decimal number")
            }
            if let existing = contentLength, existing != length {
                throw ResponseHeadError("conflicting Content-Length headers")
            }
            if contentLength != nil { return }
            contentLength = length
            if statusCode == 204 { return }  // RFC 9110 §8.6: never sent in a 204
        case .date:
            hasDate = true
        case .server:
            hasServer = true
        case .none:
            break
        }
        bytes.append(contentsOf: name)
        bytes.append(58)
        bytes.append(32)
        bytes.append(contentsOf: value)
        bytes.append(13)
        bytes.append(10)
    }

    /// Adds the server's own headers and the blank line.
    mutating func complete(framing: ResponseFraming, keepAlive: Bool, http10: Bool) {
        if !hasServer {
            bytes.append(contentsOf: Self.serverLine)
        }
        if !hasDate {
            bytes.append(contentsOf: Self.datePrefix)
            HTTPDate.append(to: &bytes)
            bytes.append(13)
            bytes.append(10)
        }
        switch framing {
        case .contentLength(let n):
            Self.append("Content-Length: ", to: &bytes)
            HTTPBytes.appendDecimal(n, to: &bytes)
            Self.append("\r\n", to: &bytes)
        case .chunked:
            Self.append("Transfer-Encoding: chunked\r\n", to: &bytes)
        case .closeDelimited, .noBody:
            break
        }
        if !keepAlive {
            Self.append("Connection: close\r\n", to: &bytes)
        } else if http10 {
            Self.append("Connection: keep-alive\r\n", to: &bytes)
        }
        Self.append("\r\n", to: &bytes)
    }

    private static let serverLine = Array("Server: \(YimmoVersion.serverHeader)\r\n".utf8)
    private static let datePrefix = Array("Date: ".utf8)

    private enum SpecialHeader { case connection, other, contentLength, date, server, none }

    /// Dispatches on the length first: most application headers match no special name, and
    /// then cost one switch instead of twelve case-insensitive comparisons.
    private static func hopByHop(_ name: UnsafeRawBufferPointer) -> SpecialHeader {
        func match(_ candidate: StaticString, _ kind: SpecialHeader) -> SpecialHeader {
            HTTPBytes.equalsIgnoringCase(name, candidate) ? kind : .none
        }
        switch name.count {
        case 2: return match("te", .other)
        case 4: return match("date", .date)
        case 6: return match("server", .server)
        case 7:
            let kind = match("trailer", .other)
            return kind == .none ? match("upgrade", .other) : kind
        case 8: return match("trailers", .other)
        case 10:
            let kind = match("connection", .connection)
            return kind == .none ? match("keep-alive", .other) : kind
        case 14: return match("content-length", .contentLength)
        case 17: return match("transfer-encoding", .other)
        case 18: return match("proxy-authenticate", .other)
        case 19: return match("proxy-authorization", .other)
        default: return .none
        }
    }

    static func append(_ text: String, to buffer: inout [UInt8]) {
        var text = text
        text.withUTF8 { buffer.append(contentsOf: $0) }
    }
}
