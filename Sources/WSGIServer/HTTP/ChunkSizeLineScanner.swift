/// Validates one chunk-size line, `chunk-size [ chunk-ext ] CRLF` (RFC 9112 §7.1), resuming where
/// it stopped when more bytes arrive.
///
/// The size is 1*HEXDIG with nothing around it: no sign, no `0x`, no whitespace (`5 ` and ` 5`
/// are refused even before a `;`, stricter than the grammar's BWS, because whitespace after the
/// size is a known parser-differential vector). Extensions are `;name[=value]` with token or
/// quoted-string values and optional whitespace around `;` and `=` as the grammar's BWS allows,
/// but none before the CRLF. Extensions are validated and ignored.
struct ChunkSizeLineScanner {
    enum Step: Equatable {
        case needMore
        /// `length` includes the CRLF.
        case complete(size: Int, length: Int)
        case tooLong
        case invalid(HTTPParseError)
    }

    private enum Phase {
        case size
        case beforeName, name, afterName
        case beforeValue, token, quoted, quotedPair, afterQuoted, afterValue
        case lf
    }

    /// Sizes above this are refused; far beyond any real body, and far from overflowing `Int`.
    static let maxChunkSize = 1 << 62

    private var phase = Phase.size
    /// Bytes of the current line already validated.
    private var scanned = 0
    private var size = 0
    private var digits = 0

    mutating func reset() {
        self = ChunkSizeLineScanner()
    }

    /// Scans the line starting at `lineStart`; at most `maxLength` bytes may precede the CRLF.
    mutating func scan(_ bytes: ByteView, lineStart: Int, maxLength: Int) -> Step {
        var i = lineStart + scanned
        let limit = lineStart + maxLength
        defer { scanned = i - lineStart }

        while i < bytes.count {
            let b = bytes[i]
            if i >= limit && phase != .lf && b != HTTPByte.cr { return .tooLong }
            switch phase {
            case .size:
                if let v = HTTPByte.hexValue(b) {
                    guard size <= (Self.maxChunkSize - v) >> 4 else { return .invalid(.chunkSizeTooLarge) }
                    size = size << 4 | v
                    digits += 1
                } else if digits > 0 && b == HTTPByte.semicolon {
                    phase = .beforeName
                } else if digits > 0 && b == HTTPByte.cr {
                    phase = .lf
                } else {
                    return .invalid(b == HTTPByte.lf ? .invalidLineEnding : .invalidChunkSize)
                }

            case .beforeName:
                if HTTPByte.isTchar(b) {
                    phase = .name
                } else if !HTTPByte.isOWS(b) {
                    return .invalid(.invalidChunkExtension)
                }

            case .name:
                if HTTPByte.isTchar(b) { break }
                guard let next = afterNameOrValue(b, allowEquals: true) else {
                    return .invalid(.invalidChunkExtension)
                }
                phase = HTTPByte.isOWS(b) ? .afterName : next

            case .afterName:
                switch b {
                case HTTPByte.equals: phase = .beforeValue
                case HTTPByte.semicolon: phase = .beforeName
                case HTTPByte.sp, HTTPByte.htab: break
                default: return .invalid(.invalidChunkExtension)
                }

            case .beforeValue:
                if b == HTTPByte.quote {
                    phase = .quoted
                } else if HTTPByte.isTchar(b) {
                    phase = .token
                } else if !HTTPByte.isOWS(b) {
                    return .invalid(.invalidChunkExtension)
                }

            case .token:
                if HTTPByte.isTchar(b) { break }
                fallthrough

            case .afterQuoted:
                guard let next = afterNameOrValue(b, allowEquals: false) else {
                    return .invalid(.invalidChunkExtension)
                }
                phase = next

            case .quoted:
                // qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text (RFC 9110 §5.6.4)
                if b == HTTPByte.quote {
                    phase = .afterQuoted
                } else if b == HTTPByte.backslash {
                    phase = .quotedPair
                } else if !HTTPByte.isFieldValueByte(b) {
                    return .invalid(.invalidChunkExtension)
                }

            case .quotedPair:
                guard HTTPByte.isFieldValueByte(b) else { return .invalid(.invalidChunkExtension) }
                phase = .quoted

            case .afterValue:
                switch b {
                case HTTPByte.semicolon: phase = .beforeName
                case HTTPByte.sp, HTTPByte.htab: break
                default: return .invalid(.invalidChunkExtension)
                }

            case .lf:
                guard b == HTTPByte.lf else { return .invalid(.invalidLineEnding) }
                i += 1
                let step = Step.complete(size: size, length: i - lineStart)
                self = ChunkSizeLineScanner()
                i = lineStart  // the defer then records 0 bytes scanned for the next line
                return step
            }
            i += 1
        }
        return .needMore
    }

    /// The phase after an extension name or value ends at byte `b`, or nil if `b` cannot end it.
    private func afterNameOrValue(_ b: UInt8, allowEquals: Bool) -> Phase? {
        switch b {
        case HTTPByte.equals where allowEquals: .beforeValue
        case HTTPByte.semicolon: .beforeName
        case HTTPByte.sp, HTTPByte.htab: .afterValue
        case HTTPByte.cr: .lf
        default: nil
        }
    }
}
