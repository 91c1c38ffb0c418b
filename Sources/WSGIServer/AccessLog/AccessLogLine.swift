#if canImport(Glibc)
import Glibc
#endif

/// One completed request as the access log sees it (all values owned by the exchange's head).
struct AccessLogEntry {
    var status: Int
    var bodyBytes: Int
    var durationMicroseconds: Int
}

/// Appends formatted, escaped access log lines to a byte buffer. No value can end a line or a
/// quoted field early: in the text formats `"`, `\`, control bytes and bytes >= 0x7F are written
/// as `\xHH` (as nginx does); in JSON, strings use JSON escapes and bytes >= 0x80 are latin-1
/// code points (`\u00HH`), so every line is ASCII.
struct AccessLogLine {
    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    static func appendText(_ bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        if bytes.isEmpty {
            out.append(UInt8(ascii: "-"))
            return
        }
        for byte in bytes {
            if byte < 0x20 || byte >= 0x7F || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                out.append(UInt8(ascii: "\\"))
                out.append(UInt8(ascii: "x"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0xF)])
            } else {
                out.append(byte)
            }
        }
    }

    static func appendJSONString(_ bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                out.append(UInt8(ascii: "\\"))
                out.append(byte)
            case 0x0A:
                out.append(UInt8(ascii: "\\"))
                out.append(UInt8(ascii: "n"))
            case 0x0D:
                out.append(UInt8(ascii: "\\"))
                out.append(UInt8(ascii: "r"))
            case 0x09:
                out.append(UInt8(ascii: "\\"))
                out.append(UInt8(ascii: "t"))
            case 0x20..<0x7F:
                out.append(byte)
            default:
                out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0xF)])
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    static func appendDecimal(_ value: Int, to out: inout [UInt8]) {
        if value < 0 {
            out.append(UInt8(ascii: "-"))
            appendDecimal(-value, to: &out)
            return
        }
        if value >= 10 { appendDecimal(value / 10, to: &out) }
        out.append(UInt8(ascii: "0") + UInt8(value % 10))
    }

    static func appendString(_ text: String, to out: inout [UInt8]) {
        out.append(contentsOf: text.utf8)
    }
}
