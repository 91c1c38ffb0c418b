/// Byte classes from RFC 9110 / 9112 / 3986 used by the scanners.
///
/// Sets over ASCII are two 64-bit masks (bytes 0-63 and 64-127) so a test is a shift and an AND,
/// with no table to load and no lazy global initialisation on the hot path. The predicates are
/// `@_transparent` so debug builds inline them too: the tests feed every input at every split
/// point, which is quadratic, and a call per byte made them several times slower.
enum HTTPByte {
    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
    static let sp: UInt8 = 0x20
    static let htab: UInt8 = 0x09
    static let colon: UInt8 = 0x3A
    static let semicolon: UInt8 = 0x3B
    static let comma: UInt8 = 0x2C
    static let equals: UInt8 = 0x3D
    static let quote: UInt8 = 0x22
    static let backslash: UInt8 = 0x5C
    static let slash: UInt8 = 0x2F
    static let question: UInt8 = 0x3F
    static let hash: UInt8 = 0x23
    static let asterisk: UInt8 = 0x2A
    static let at: UInt8 = 0x40

    /// tchar (RFC 9110 §5.6.2): `!#$%&'*+-.^_`|~`, DIGIT, ALPHA.
    private static let tcharLow: UInt64 = 0x03FF_6CFA_0000_0000
    private static let tcharHigh: UInt64 = 0x57FF_FFFF_C7FF_FFFE
    /// Characters of a Host value or absolute-form authority: RFC 3986 unreserved, sub-delims,
    /// `:`, `%` (pct-encoding) and `[` `]` (IP-literal). Excludes `@` (no userinfo) and `/?#`.
    private static let authorityLow: UInt64 = 0x2FFF_7FF2_0000_0000
    private static let authorityHigh: UInt64 = 0x47FF_FFFE_AFFF_FFFE

    @_transparent
    private static func inSet(_ b: UInt8, _ low: UInt64, _ high: UInt64) -> Bool {
        if b < 64 { return (low >> UInt64(b)) & 1 != 0 }
        if b < 128 { return (high >> UInt64(b &- 64)) & 1 != 0 }
        return false
    }

    @_transparent
    static func isTchar(_ b: UInt8) -> Bool { inSet(b, tcharLow, tcharHigh) }

    @_transparent
    static func isAuthorityChar(_ b: UInt8) -> Bool { inSet(b, authorityLow, authorityHigh) }

    /// A byte allowed inside a field value: field-vchar (VCHAR / obs-text), SP or HTAB.
    /// Everything else is a CTL (including CR, LF, NUL) or DEL.
    @_transparent
    static func isFieldValueByte(_ b: UInt8) -> Bool {
        (b >= 0x20 && b != 0x7F) || b == htab
    }

    /// A byte allowed in a request-target: VCHAR only. No CTL, SP, DEL or non-ASCII (RFC 3986 URIs
    /// are ASCII; anything else must arrive percent-encoded).
    @_transparent
    static func isTargetByte(_ b: UInt8) -> Bool {
        b > 0x20 && b < 0x7F
    }

    @_transparent
    static func isOWS(_ b: UInt8) -> Bool { b == sp || b == htab }

    /// The value of a HEXDIG, or nil.
    @_transparent
    static func hexValue(_ b: UInt8) -> Int? {
        switch b {
        case 0x30...0x39: return Int(b &- 0x30)
        case 0x41...0x46: return Int(b &- 0x41 &+ 10)
        case 0x61...0x66: return Int(b &- 0x61 &+ 10)
        default: return nil
        }
    }

    @_transparent
    static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

    @_transparent
    static func lowercased(_ b: UInt8) -> UInt8 {
        b &- 0x41 < 26 ? b | 0x20 : b
    }
}
