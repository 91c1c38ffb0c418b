/// Judges the request-target's form against the method and splits it into path and query
/// (RFC 9112 §3.2).
///
/// Accepted forms: origin-form (`/path?query`), absolute-form with an `http` or `https` scheme
/// (`http://authority/path?query`), and asterisk-form (`*`) only with OPTIONS. Authority-form
/// belongs to CONNECT, which a WSGI server does not do, so CONNECT is refused whatever its target.
///
/// Clients must not send a `#fragment`; if one arrives it is left out of path and query, as other
/// WSGI servers do, and stays visible only in the raw target.
enum RequestTarget {
    static func resolve(_ bytes: ByteView, into request: inout ParsedRequest) -> HTTPParseError? {
        let method = request.method
        let target = request.target
        if bytes.equals(method, "CONNECT") { return .connectNotSupported }

        let first = bytes[target.lowerBound]
        if first == HTTPByte.slash {
            splitPathAndQuery(bytes, from: target.lowerBound, to: target.upperBound, into: &request)
            return nil
        }
        if first == HTTPByte.asterisk {
            guard target.count == 1, bytes.equals(method, "OPTIONS") else { return .invalidTarget }
            request.path = target
            request.query = nil
            return nil
        }
        guard let authorityStart = schemeEnd(bytes, target) else { return .invalidTarget }

        var i = authorityStart
        while i < target.upperBound {
            let b = bytes[i]
            if b == HTTPByte.slash || b == HTTPByte.question || b == HTTPByte.hash { break }
            // No userinfo: RFC 9110 §4.2.4 asks recipients to treat it as an error, since
            // `http://trusted@evil/` misleads whoever reads the URI.
            guard HTTPByte.isAuthorityChar(b) else { return .invalidTarget }
            i += 1
        }
        // An http(s) URI with an empty host is invalid (RFC 9110 §4.2.1).
        guard i > authorityStart else { return .invalidTarget }
        request.authority = authorityStart..<i
        splitPathAndQuery(bytes, from: i, to: target.upperBound, into: &request)
        return nil
    }

    /// The index after `http://` or `https://` (scheme case-insensitive), or nil.
    private static func schemeEnd(_ bytes: ByteView, _ target: Range<Int>) -> Int? {
        let start = target.lowerBound
        guard target.count >= 7, bytes.equalsIgnoringCase(start..<start + 4, "http") else { return nil }
        var i = start + 4
        if HTTPByte.lowercased(bytes[i]) == 0x73 { i += 1 }  // s
        guard i + 3 <= target.upperBound, bytes.equals(i..<i + 3, "://") else { return nil }
        return i + 3
    }

    /// The path runs to the first `?` or `#`; the query from after `?` to `#` or the end.
    private static func splitPathAndQuery(
        _ bytes: ByteView, from start: Int, to end: Int, into request: inout ParsedRequest
    ) {
        var i = start
        while i < end, bytes[i] != HTTPByte.question, bytes[i] != HTTPByte.hash { i += 1 }
        request.path = start..<i
        guard i < end, bytes[i] == HTTPByte.question else {
            request.query = nil
            return
        }
        let queryStart = i + 1
        i = queryStart
        while i < end, bytes[i] != HTTPByte.hash { i += 1 }
        request.query = queryStart..<i
    }
}
