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

    static func appendHex(_ value: Int, to buffer: inout [UInt8]) {
        var shift = (Int.bitWidth - value.leadingZeroBitCount + 3) / 4 * 4 - 4
        if shift < 0 {
            buffer.append(48)
            return
        }
        while shift >= 0 {
            buffer.append(hexDigits[(value >> shift) & 0xf])
            shift -= 4
        }
    }
}
