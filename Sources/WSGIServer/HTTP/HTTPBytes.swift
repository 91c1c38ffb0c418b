/// Byte-level helpers for composing responses and reading header values; the byte classes
/// themselves live in `HTTPByte`, shared with the parser.
enum HTTPBytes {
    @inline(__always)
    static func lower(_ c: UInt8) -> UInt8 { (c >= 65 && c <= 90) ? c | 0x20 : c }

    static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
        guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
        let other = lowercase.utf8Start
        for i in 0..<bytes.count where lower(bytes[i]) != other[i] {
            return false
        }
        return true
    }

    static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ lowercase: String) -> Bool {
        var lowercase = lowercase
        return lowercase.withUTF8 { other in
            guard bytes.count == other.count else { return false }
            for i in 0..<bytes.count where lower(bytes[i]) != other[i] {
                return false
            }
            return true
        }
    }

    /// Whether a comma-separated list holds `token` (case-insensitive, OWS around items).
    static func containsToken(_ list: UnsafeRawBufferPointer, _ token: StaticString) -> Bool {
        var start = 0
        while start <= list.count {
            var end = start
            while end < list.count && list[end] != 44 { end += 1 }
            var a = start, b = end
            while a < b && (list[a] == 32 || list[a] == 9) { a += 1 }
            while b > a && (list[b - 1] == 32 || list[b - 1] == 9) { b -= 1 }
            if equalsIgnoringCase(UnsafeRawBufferPointer(rebasing: list[a..<b]), token) { return true }
            start = end + 1
        }
        return false
    }

    /// Plain decimal digits only; nil for anything else or on overflow.
    static func parseDecimal(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard !bytes.isEmpty, bytes.count <= 18 else { return nil }
        var value = 0
        for c in bytes {
            guard c >= 48, c <= 57 else { return nil }
            value = value * 10 + Int(c - 48)
        }
        return value
    }

    static func appendDecimal(_ value: Int, to buffer: inout [UInt8]) {
        if value == 0 {
            buffer.append(48)
            return
        }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var v = value, n = 0
        withUnsafeMutableBytes(of: &digits) { raw in
            while v > 0 {
                raw[n] = UInt8(48 + v % 10)
                v /= 10
                n += 1
            }
            for i in stride(from: n - 1, through: 0, by: -1) { buffer.append(raw[i]) }
        }
    }

    static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Appends a chunk's size line, "<hex>\r\n", in one append (a streamed response pays it
    /// per item).
    static func appendChunkHeader(_ size: Int, to buffer: inout [UInt8]) {
        var line: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 16 hex digits and CRLF fit
        withUnsafeMutableBytes(of: &line) { raw in
            var digits = max(1, (Int.bitWidth - size.leadingZeroBitCount + 3) / 4)
            let length = digits + 2
            var value = size
            while digits > 0 {
                digits -= 1
                raw[digits] = hexDigits[value & 0xf]
                value >>= 4
            }
            raw[length - 2] = 13
            raw[length - 1] = 10
            buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[0..<length]))
        }
    }
}
