/// What the supervisor's metrics endpoint answers to the bytes a client sent so far. Only the
/// request line matters (`GET /metrics HTTP/1.1`); header lines are checked for shape and
/// otherwise ignored, and every answer closes the connection.
enum MetricsRequest: Equatable {
    /// No complete head yet, and nothing wrong so far: read more.
    case incomplete
    /// `GET` or `HEAD` `/metrics` (any query string).
    case metrics(head: Bool)
    case notFound
    case methodNotAllowed
    case badRequest

    /// The most a client may send before its head is complete; past it: 400.
    static let headLimit = 4096

    static func route(_ bytes: [UInt8]) -> MetricsRequest {
        // A bad request line is answered at once, without waiting for the rest of the head.
        guard let lineEnd = bytes.firstIndex(of: 10) else {
            return bytes.count >= headLimit ? .badRequest : .incomplete
        }
        guard let line = requestLine(bytes[..<lineEnd]) else { return .badRequest }
        guard let headEnd = headEnd(bytes, from: lineEnd) else {
            return bytes.count >= headLimit ? .badRequest : .incomplete
        }
        if headEnd > headLimit { return .badRequest }
        // Each header line has a name, a colon, and no control characters but tab.
        var start = lineEnd + 1
        while start < headEnd {
            var end = bytes[start..<headEnd].firstIndex(of: 10) ?? headEnd
            let next = end + 1
            if end > start && bytes[end - 1] == 13 { end -= 1 }
            if end > start {
                let field = bytes[start..<end]
                guard let colon = field.firstIndex(of: 58), colon > start,
                      field[start..<colon].allSatisfy(isTokenByte),
                      field.allSatisfy({ $0 >= 32 && $0 != 127 || $0 == 9 }) else { return .badRequest }
            }
            start = next
        }
        let path = line.target.prefix { $0 != 63 }  // up to "?"
        guard path.elementsEqual("/metrics".utf8) else { return .notFound }
        switch String(decoding: line.method, as: UTF8.self) {
        case "GET": return .metrics(head: false)
        case "HEAD": return .metrics(head: true)
        default: return .methodNotAllowed
        }
    }

    /// `METHOD SP /TARGET SP HTTP/1.x`, CR optional before the LF.
    private static func requestLine(_ raw: ArraySlice<UInt8>) -> (method: ArraySlice<UInt8>, target: ArraySlice<UInt8>)? {
        let line = raw.last == 13 ? raw.dropLast() : raw
        let parts = line.split(separator: 32, omittingEmptySubsequences: false)
        guard parts.count == 3 else { return nil }
        let method = parts[0], target = parts[1], version = parts[2]
        guard !method.isEmpty, method.allSatisfy(isTokenByte) else { return nil }
        guard target.first == 47, target.allSatisfy({ $0 > 32 && $0 < 127 }) else { return nil }
        guard version.count == 8, version.starts(with: "HTTP/1.".utf8), let minor = version.last,
              minor == 48 || minor == 49 else { return nil }
        return (method, target)
    }

    /// The index just past the empty line that ends the head, when it has arrived.
    private static func headEnd(_ bytes: [UInt8], from lineEnd: Int) -> Int? {
        var i = lineEnd
        while i < bytes.count {
            guard bytes[i] == 10 else {
                i += 1
                continue
            }
            var j = i + 1
            if j < bytes.count && bytes[j] == 13 { j += 1 }
            if j < bytes.count && bytes[j] == 10 { return j + 1 }
            i += 1
        }
        return nil
    }

    private static func isTokenByte(_ c: UInt8) -> Bool {
        switch c {
        case 48...57, 65...90, 97...122: true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
             UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
             UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"): true
        default: false
        }
    }
}
