/// Validates the request line `method SP request-target SP HTTP-version CRLF` (RFC 9112 §3),
/// resuming where it stopped when more bytes arrive.
///
/// Exactly one SP separates the parts; the method is 1*tchar; the target is 1*VCHAR (its form is
/// judged later, with the method); the version is `HTTP/` DIGIT `.` DIGIT. A part that is still
/// growing is checked byte by byte, so garbage is refused as soon as it arrives.
struct RequestLineScanner {
    enum Step: Equatable {
        case needMore
        /// The line and its CRLF are complete; `end` is the index just past the LF.
        case complete(method: Range<Int>, target: Range<Int>, major: Int, minor: Int, end: Int)
        case tooLong
        case invalid(HTTPParseError)
    }

    private enum Phase {
        case method, target, version, lf
    }

    private var phase = Phase.method
    private var lineStart = 0
    private var scanned = 0
    private var methodEnd = 0
    private var targetStart = 0
    private var targetEnd = 0
    private var major = 0
    private var minor = 0

    /// Starts a line at `start` (after any empty lines that were skipped).
    init(lineStart start: Int = 0) {
        lineStart = start
        scanned = start
    }

    /// Scans on from where the last call stopped. Bytes at or past `limit` may only be the CR LF.
    mutating func scan(_ bytes: ByteView, limit: Int) -> Step {
        var i = scanned
        let end = bytes.count
        defer { scanned = i }

        while i < end {
            switch phase {
            case .method:
                while i < end, HTTPByte.isTchar(bytes[i]) {
                    if i >= limit { return .tooLong }
                    i += 1
                }
                guard i < end else { return .needMore }
                let b = bytes[i]
                guard b == HTTPByte.sp, i > lineStart else {
                    return .invalid(b == HTTPByte.cr || b == HTTPByte.lf ? .invalidRequestLine : .invalidMethod)
                }
                if i >= limit { return .tooLong }
                methodEnd = i
                i += 1
                targetStart = i
                phase = .target

            case .target:
                while i < end, HTTPByte.isTargetByte(bytes[i]) {
                    if i >= limit { return .tooLong }
                    i += 1
                }
                guard i < end else { return .needMore }
                let b = bytes[i]
                switch b {
                case HTTPByte.sp where i > targetStart:
                    if i >= limit { return .tooLong }
                    targetEnd = i
                    i += 1
                    phase = .version
                case HTTPByte.cr, HTTPByte.lf:
                    // `GET /` alone is HTTP/0.9, which we do not speak.
                    return .invalid(.invalidRequestLine)
                default:
                    // Includes a second SP: an empty target or a space inside the target.
                    return .invalid(.invalidTarget)
                }

            case .version:
                let b = bytes[i]
                let k = i - targetEnd - 1
                if b == HTTPByte.lf { return .invalid(.invalidLineEnding) }
                if b == HTTPByte.cr {
                    guard k == 8 else { return .invalid(.invalidVersion) }
                    phase = .lf
                    i += 1
                    continue
                }
                if i >= limit { return .tooLong }
                switch k {
                case 0..<5:
                    guard b == Self.httpSlashByte(k) else { return .invalid(.invalidVersion) }
                case 5, 7:
                    guard HTTPByte.isDigit(b) else { return .invalid(.invalidVersion) }
                    if k == 5 { major = Int(b &- 0x30) } else { minor = Int(b &- 0x30) }
                case 6:
                    guard b == 0x2E else { return .invalid(.invalidVersion) }
                default:
                    return .invalid(.invalidVersion)
                }
                i += 1

            case .lf:
                guard bytes[i] == HTTPByte.lf else { return .invalid(.invalidLineEnding) }
                i += 1
                return .complete(
                    method: lineStart..<methodEnd,
                    target: targetStart..<targetEnd,
                    major: major, minor: minor, end: i)
            }
        }
        return .needMore
    }

    /// Byte `k` of `HTTP/` (case-sensitive, RFC 9112 §2.3), without a table to initialise.
    @inline(__always)
    private static func httpSlashByte(_ k: Int) -> UInt8 {
        switch k {
        case 0: 0x48  // H
        case 1, 2: 0x54  // T
        case 3: 0x50  // P
        default: 0x2F  // /
        }
    }
}
