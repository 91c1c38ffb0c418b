/// Validates one field line (`name ":" OWS value OWS CRLF`) or the empty line that ends a field
/// section, resuming where it stopped when more bytes arrive. Shared by request headers and
/// chunked trailers so both follow the same rules (RFC 9110 §5, RFC 9112 §5):
///
/// - a name is 1*tchar, immediately followed by `:` (whitespace before the colon is rejected);
/// - a line that starts with SP or HTAB is obsolete folding and is rejected;
/// - a value holds only VCHAR, obs-text, SP and HTAB; any other CTL, DEL, NUL or bare CR is rejected;
/// - lines end in CRLF; a bare LF anywhere is rejected.
///
/// Positions it reports are relative to the line's first byte: the request parser keeps its
/// buffer, but the chunked decoder hands a pending trailer line back at a new offset each call.
struct FieldLineScanner {
    enum Step: Equatable {
        /// Every byte so far is valid; call again with more.
        case needMore
        /// A complete field line; `length` includes its CRLF.
        case field(name: Range<Int>, value: Range<Int>, length: Int)
        /// The empty line (CRLF) that ends the section.
        case end
        /// The line passed `maxLength` bytes before its CRLF.
        case tooLong
        case invalid(HTTPParseError)
    }

    private enum Phase {
        case lineStart, name, valueStart, value, fieldLF, endLF
    }

    private var phase = Phase.lineStart
    /// Bytes of the current line already validated.
    private var scanned = 0
    private var nameEnd = 0
    private var valueStart = 0
    private var valueEnd = 0

    /// True before the first byte of a line has been looked at.
    var atLineStart: Bool { phase == .lineStart }

    mutating func reset() {
        self = FieldLineScanner()
    }

    /// Scans the line starting at `lineStart` up to the end of `bytes`. A line may hold at most
    /// `maxLength` bytes before its CRLF.
    mutating func scan(_ bytes: ByteView, lineStart: Int, maxLength: Int) -> Step {
        var i = lineStart + scanned
        let end = bytes.count
        // Bytes at or past `limit` may only be the line's CR LF.
        let limit = lineStart + maxLength
        defer { scanned = i - lineStart }

        while i < end {
            switch phase {
            case .lineStart:
                let b = bytes[i]
                if b == HTTPByte.cr {
                    phase = .endLF
                    i += 1
                } else if HTTPByte.isTchar(b) {
                    phase = .name
                } else {
                    return .invalid(Self.lineStartError(b))
                }

            case .name:
                // Hot loop: names are short runs of tchar.
                while i < end, HTTPByte.isTchar(bytes[i]) {
                    if i >= limit { return .tooLong }
                    i += 1
                }
                guard i < end else { return .needMore }
                let b = bytes[i]
                guard b == HTTPByte.colon else { return .invalid(Self.afterNameError(b)) }
                if i >= limit { return .tooLong }
                nameEnd = i - lineStart
                phase = .valueStart
                i += 1

            case .valueStart:
                let b = bytes[i]
                if HTTPByte.isOWS(b) {
                    if i >= limit { return .tooLong }
                    i += 1
                } else {
                    valueStart = i - lineStart
                    phase = .value
                }

            case .value:
                // Hot loop: the bulk of a head is field values.
                while i < end, HTTPByte.isFieldValueByte(bytes[i]) {
                    if i >= limit { return .tooLong }
                    i += 1
                }
                guard i < end else { return .needMore }
                let b = bytes[i]
                guard b == HTTPByte.cr else {
                    return .invalid(b == HTTPByte.lf ? .invalidLineEnding : .invalidHeaderValue)
                }
                // Trailing OWS is not part of the value; it was validated on the way forward.
                var last = i
                while last > lineStart + valueStart, HTTPByte.isOWS(bytes[last - 1]) { last -= 1 }
                valueEnd = last - lineStart
                phase = .fieldLF
                i += 1

            case .fieldLF:
                guard bytes[i] == HTTPByte.lf else { return .invalid(.invalidLineEnding) }
                i += 1
                let step = Step.field(name: 0..<nameEnd, value: valueStart..<valueEnd, length: i - lineStart)
                phase = .lineStart
                i = lineStart  // the defer then records 0 bytes scanned for the next line
                return step

            case .endLF:
                guard bytes[i] == HTTPByte.lf else { return .invalid(.invalidLineEnding) }
                phase = .lineStart
                i = lineStart
                return .end
            }
        }
        return .needMore
    }

    private static func lineStartError(_ b: UInt8) -> HTTPParseError {
        switch b {
        case HTTPByte.sp, HTTPByte.htab: .obsoleteFolding
        case HTTPByte.colon: .emptyHeaderName
        case HTTPByte.lf: .invalidLineEnding
        default: .invalidHeaderName
        }
    }

    private static func afterNameError(_ b: UInt8) -> HTTPParseError {
        switch b {
        case HTTPByte.sp, HTTPByte.htab: .whitespaceBeforeColon
        case HTTPByte.cr, HTTPByte.lf: .missingColon
        default: .invalidHeaderName
        }
    }
}
