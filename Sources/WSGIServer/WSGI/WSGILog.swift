#if canImport(Glibc)
import Glibc
#endif

/// Where the WSGI bridge logs. One write(2) per message, so lines from different threads do not
/// interleave. Points at stderr until the server's Log API is wired in.
enum WSGILog {
    enum Level: String {
        case error = "ERROR"
        case warning = "WARNING"
        case info = "INFO"
    }

    static func error(_ message: String) { write(.error, message) }
    static func warning(_ message: String) { write(.warning, message) }
    static func info(_ message: String) { write(.info, message) }

    static func write(_ level: Level, _ message: String) {
        var line = "[yimmo-wsgi] \(level.rawValue) \(message)\n"
        line.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(2, bytes.baseAddress! + offset, bytes.count - offset)
                if written <= 0 {
                    if written < 0 && errno == EINTR { continue }
                    return  // nowhere left to report a failing stderr
                }
                offset += written
            }
        }
    }
}
