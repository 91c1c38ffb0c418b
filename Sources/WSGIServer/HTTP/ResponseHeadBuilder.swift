#if canImport(Glibc)
import Glibc
#endif
import Synchronization

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
        // A bare code gets an empty reason: "HTTP/1.1 200 \r\n".
        Self.appendLine(Self.statusPrefix, status, trailingSpace: status.count == 3, to: &bytes)
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
        Self.appendLine(name, value, separator: 58, space: true, to: &bytes)
    }

    private static let statusPrefix: StaticString = "HTTP/1.1 "

    private static func appendLine(_ prefix: StaticString, _ rest: UnsafeRawBufferPointer, trailingSpace: Bool,
                                   to bytes: inout [UInt8]) {
        appendLine(UnsafeRawBufferPointer(start: prefix.utf8Start, count: prefix.utf8CodeUnitCount), rest,
                   separator: nil, trailingSpace: trailingSpace, to: &bytes)
    }

    /// Appends `first`, the optional separator (and a space), `second`, an optional space and
    /// CRLF with one append:
    /// a head line went in as six appends, each with its own capacity and uniqueness checks
    /// (callgrind: ~670 instructions per header, now ~250).
    private static func appendLine(_ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer, separator: UInt8?,
                                   space: Bool = false, trailingSpace: Bool = false, to bytes: inout [UInt8]) {
        let middle = (separator == nil ? 0 : 1) + (space ? 1 : 0)
        let total = first.count + middle + second.count + (trailingSpace ? 1 : 0) + 2
        withUnsafeTemporaryAllocation(byteCount: total, alignment: 1) { line in
            var at = 0
            if let base = first.baseAddress, first.count > 0 {
                line.baseAddress!.copyMemory(from: base, byteCount: first.count)
                at = first.count
            }
            if let separator {
                line[at] = separator
                at += 1
            }
            if space {
                line[at] = 32
                at += 1
            }
            if let base = second.baseAddress, second.count > 0 {
                (line.baseAddress! + at).copyMemory(from: base, byteCount: second.count)
                at += second.count
            }
            if trailingSpace {
                line[at] = 32
                at += 1
            }
            line[at] = 13
            line[at + 1] = 10
            bytes.append(contentsOf: UnsafeRawBufferPointer(line))
        }
    }

    /// Adds the server's own headers and the blank line: the Server and Date lines come
    /// formatted once per second, the framing and Connection lines and the blank line are
    /// composed on the stack, so a head ends with two appends rather than ten.
    mutating func complete(framing: ResponseFraming, keepAlive: Bool, http10: Bool) {
        if !hasServer || !hasDate {
            Self.appendServerAndDate(server: !hasServer, date: !hasDate, to: &bytes)
        }
        withUnsafeTemporaryAllocation(byteCount: 128, alignment: 1) { tail in
            var at = 0
            func put(_ text: StaticString) {
                (tail.baseAddress! + at).copyMemory(from: text.utf8Start, byteCount: text.utf8CodeUnitCount)
                at += text.utf8CodeUnitCount
            }
            switch framing {
            case .contentLength(let n):
                put("Content-Length: ")
                var digits = 1
                var rest = n / 10
                while rest > 0 { digits += 1; rest /= 10 }
                var value = n
                for index in stride(from: at + digits - 1, through: at, by: -1) {
                    tail[index] = UInt8(48 + value % 10)
                    value /= 10
                }
                at += digits
                put("\r\n")
            case .chunked:
                put("Transfer-Encoding: chunked\r\n")
            case .closeDelimited, .noBody:
                break
            }
            if !keepAlive {
                put("Connection: close\r\n")
            } else if http10 {
                put("Connection: keep-alive\r\n")
            }
            put("\r\n")
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: tail[0..<at]))
        }
    }

    /// "Server: ...\r\nDate: ...\r\n" (or either line alone), remade when the second changes.
    private static let serverAndDate = Mutex<(second: time_t, both: [UInt8], server: [UInt8], date: [UInt8])>((-1, [], [], []))

    private static func appendServerAndDate(server: Bool, date: Bool, to bytes: inout [UInt8]) {
        let now = time(nil)
        serverAndDate.withLock { cached in
            if cached.second != now {
                var dateLine = datePrefix
                HTTPDate.append(to: &dateLine)
                dateLine.append(13)
                dateLine.append(10)
                cached = (now, serverLine + dateLine, serverLine, dateLine)
            }
            bytes.append(contentsOf: server && date ? cached.both : (server ? cached.server : cached.date))
        }
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
