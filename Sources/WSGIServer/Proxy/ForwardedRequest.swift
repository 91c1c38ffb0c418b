/// What a trusted proxy said about the client, as ranges into the request head: no copies, and
/// computed on the server thread only for connections from a peer in `--forwarded-allow-ips`.
///
/// The client address is the right-most address in X-Forwarded-For (or RFC 7239 `Forwarded:
/// for=`) that is not itself a trusted proxy; when every entry is trusted, the left-most one.
/// With one proxy in front (the common case) that is simply the entry the proxy appended.
/// Scheme and host come from the same `Forwarded` element, else from the last value of
/// X-Forwarded-Proto / X-Forwarded-Host. `Forwarded` wins over X-Forwarded-* for each value.
public struct ForwardedRequest: Sendable, Equatable {
    /// The client's address (no port, no brackets).
    public var client: Range<Int>?
    /// true: https, false: http, nil: not said (or something other than http/https).
    public var https: Bool?
    /// The Host the client asked for, `name[:port]` as the proxy passed it.
    public var host: Range<Int>?

    public init() {}

    public var isEmpty: Bool { client == nil && https == nil && host == nil }

    /// Reads the proxy headers of `request` (whose ranges index `head`).
    static func resolve(_ request: ParsedRequest, head: UnsafeRawBufferPointer, trusted: ForwardedAllowList) -> ForwardedRequest {
        var result = ForwardedRequest()
        var lastProto: Range<Int>?
        var lastHost: Range<Int>?
        var sawForwarded = false
        var sawXFF = false
        for field in request.headers {
            switch HeaderName.match(head, field.name) {
            case .xForwardedProto: lastProto = lastListElement(head, field.value)
            case .xForwardedHost: lastHost = lastListElement(head, field.value)
            case .forwarded: sawForwarded = true
            case .xForwardedFor: sawXFF = true
            case .other: break
            }
        }
        if sawForwarded {
            result = resolveForwarded(request, head: head, trusted: trusted)
        }
        if result.client == nil && sawXFF {
            result.client = resolveXFF(request, head: head, trusted: trusted)
        }
        if result.https == nil, let proto = lastProto { result.https = scheme(head, proto) }
        if result.host == nil, let host = lastHost, validHost(head, host) { result.host = host }
        return result
    }

    /// Right to left over every X-Forwarded-For line, then every entry in a line.
    private static func resolveXFF(_ request: ParsedRequest, head: UnsafeRawBufferPointer, trusted: ForwardedAllowList) -> Range<Int>? {
        var leftmost: Range<Int>?
        for field in request.headers.reversed() where HeaderName.match(head, field.name) == .xForwardedFor {
            var end = field.value.upperBound
            while end > field.value.lowerBound {
                var start = end
                while start > field.value.lowerBound && head[start - 1] != UInt8(ascii: ",") { start -= 1 }
                let entry = trim(head, start..<end)
                end = start - 1
                guard !entry.isEmpty else { continue }
                guard ForwardedAllowList.parseAddress(UnsafeRawBufferPointer(rebasing: head[entry])) != nil else {
                    // Not an address ("unknown", garbage): nothing left of it can be believed.
                    return leftmost
                }
                leftmost = entry
                if !trusted.contains(text: UnsafeRawBufferPointer(rebasing: head[entry])) { return entry }
            }
        }
        return leftmost
    }

    /// RFC 7239: elements separated by ',', pairs by ';', values tokens or quoted strings.
    private static func resolveForwarded(_ request: ParsedRequest, head: UnsafeRawBufferPointer, trusted: ForwardedAllowList) -> ForwardedRequest {
        var elements: [ForwardedRequest] = []
        for field in request.headers where HeaderName.match(head, field.name) == .forwarded {
            var element = ForwardedRequest()
            var index = field.value.lowerBound
            let end = field.value.upperBound
            while index <= end {
                // One pair: name '=' value, up to ';' or ',' outside quotes.
                var pairEnd = index
                var quoted = false
                while pairEnd < end {
                    let byte = head[pairEnd]
                    if byte == UInt8(ascii: "\"") { quoted.toggle() }
                    if !quoted && (byte == UInt8(ascii: ";") || byte == UInt8(ascii: ",")) { break }
                    pairEnd += 1
                }
                parsePair(head, trim(head, index..<pairEnd), into: &element)
                if pairEnd >= end || head[pairEnd] == UInt8(ascii: ",") {
                    elements.append(element)
                    element = ForwardedRequest()
                }
                index = pairEnd + 1
            }
        }
        var chosen: ForwardedRequest?
        for element in elements.reversed() {
            guard let client = element.client else { break }
            chosen = element
            if !trusted.contains(text: UnsafeRawBufferPointer(rebasing: head[client])) { break }
        }
        return chosen ?? ForwardedRequest()
    }

    private static func parsePair(_ head: UnsafeRawBufferPointer, _ pair: Range<Int>, into element: inout ForwardedRequest) {
        guard let eq = pair.first(where: { head[$0] == UInt8(ascii: "=") }) else { return }
        let name = trim(head, pair.lowerBound..<eq)
        var value = trim(head, (eq + 1)..<pair.upperBound)
        if value.count >= 2 && head[value.lowerBound] == UInt8(ascii: "\"") && head[value.upperBound - 1] == UInt8(ascii: "\"") {
            value = (value.lowerBound + 1)..<(value.upperBound - 1)
        }
        if equalsLower(head, name, "for") {
            var address = value
            if let first = address.first, head[first] == UInt8(ascii: "[") {
                // "[v6]" or "[v6]:port"
                guard let close = address.first(where: { head[$0] == UInt8(ascii: "]") }) else { return }
                address = (first + 1)..<close
            } else if let colon = address.first(where: { head[$0] == UInt8(ascii: ":") }) {
                address = address.lowerBound..<colon  // "v4:port"
            }
            if ForwardedAllowList.parseAddress(UnsafeRawBufferPointer(rebasing: head[address])) != nil {
                element.client = address
            }
        } else if equalsLower(head, name, "proto") {
            element.https = scheme(head, value)
        } else if equalsLower(head, name, "host") {
            if validHost(head, value) { element.host = value }
        }
    }

    private static func scheme(_ head: UnsafeRawBufferPointer, _ value: Range<Int>) -> Bool? {
        if equalsLower(head, value, "https") { return true }
        if equalsLower(head, value, "http") { return false }
        return nil
    }

    /// A host name, IPv4 or bracketed IPv6 literal, with an optional port: nothing that could
    /// smuggle other characters into SERVER_NAME or HTTP_HOST.
    private static func validHost(_ head: UnsafeRawBufferPointer, _ value: Range<Int>) -> Bool {
        guard !value.isEmpty, value.count <= 255 else { return false }
        for index in value {
            switch head[index] {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "-"),
                UInt8(ascii: "_"), UInt8(ascii: ":"), UInt8(ascii: "["), UInt8(ascii: "]"):
                continue
            default:
                return false
            }
        }
        return true
    }

    private static func lastListElement(_ head: UnsafeRawBufferPointer, _ value: Range<Int>) -> Range<Int> {
        var start = value.upperBound
        while start > value.lowerBound && head[start - 1] != UInt8(ascii: ",") { start -= 1 }
        return trim(head, start..<value.upperBound)
    }

    static func trim(_ head: UnsafeRawBufferPointer, _ range: Range<Int>) -> Range<Int> {
        var lower = range.lowerBound
        var upper = range.upperBound
        while lower < upper && (head[lower] == 32 || head[lower] == 9) { lower += 1 }
        while upper > lower && (head[upper - 1] == 32 || head[upper - 1] == 9) { upper -= 1 }
        return lower..<upper
    }

    static func equalsLower(_ head: UnsafeRawBufferPointer, _ range: Range<Int>, _ lower: StaticString) -> Bool {
        guard range.count == lower.utf8CodeUnitCount else { return false }
        let expected = lower.utf8Start
        for (offset, index) in range.enumerated() where head[index] | 0x20 != expected[offset] {
            return false
        }
        return true
    }
}

/// The request headers the proxy support looks at.
private enum HeaderName {
    case xForwardedFor, xForwardedProto, xForwardedHost, forwarded, other

    static func match(_ head: UnsafeRawBufferPointer, _ name: Range<Int>) -> HeaderName {
        switch name.count {
        case 9: return ForwardedRequest.equalsLower(head, name, "forwarded") ? .forwarded : .other
        case 15: return ForwardedRequest.equalsLower(head, name, "x-forwarded-for") ? .xForwardedFor : .other
        case 16:
            if ForwardedRequest.equalsLower(head, name, "x-forwarded-host") { return .xForwardedHost }
            return .other
        case 17: return ForwardedRequest.equalsLower(head, name, "x-forwarded-proto") ? .xForwardedProto : .other
        default: return .other
        }
    }
}
