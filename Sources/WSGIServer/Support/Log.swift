#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Severity, most severe first, as the original yimmo used them.
public enum LogLevel: Int, CaseIterable, Comparable, Sendable, CustomStringConvertible {
    case fatal = 0, error, warning, notice, info, debug, trace

    public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String {
        switch self {
        case .fatal: "FATAL"
        case .error: "ERROR"
        case .warning: "WARNING"
        case .notice: "NOTICE"
        case .info: "INFO"
        case .debug: "DEBUG"
        case .trace: "TRACE"
        }
    }

    public init?(name: String) {
        guard let level = LogLevel.allCases.first(where: { $0.description == name.uppercased() }) else { return nil }
        self = level
    }

    /// The most verbose level this build contains: DEBUG and TRACE statements exist only in
    /// debug builds or with YIMMO_VERBOSE_LOG=1 at build time.
    public static var mostVerboseCompiledIn: LogLevel {
        #if YIMMO_VERBOSE_LOG
        return .trace
        #else
        return .info
        #endif
    }
}

/// The server's log: one line per event on stderr, each written with one write(2) so lines from
/// different threads and processes never interleave. It never touches Python's `logging`.
public enum Log {
    private static let threshold = Atomic<Int>(LogLevel.notice.rawValue)

    public static var level: LogLevel {
        LogLevel(rawValue: threshold.load(ordering: .relaxed)) ?? .notice
    }

    /// Sets the level; returns false (and uses the most verbose built-in level) when `requested`
    /// was compiled out of this build.
    @discardableResult
    public static func setLevel(_ requested: LogLevel) -> Bool {
        let effective = min(requested, LogLevel.mostVerboseCompiledIn)
        threshold.store(effective.rawValue, ordering: .relaxed)
        return effective == requested
    }

    @inline(__always)
    public static func isEnabled(_ level: LogLevel) -> Bool {
        level.rawValue <= threshold.load(ordering: .relaxed)
    }

    public static func fatal(_ message: @autoclosure () -> String) { emit(.fatal, message) }
    public static func error(_ message: @autoclosure () -> String) { emit(.error, message) }
    public static func warning(_ message: @autoclosure () -> String) { emit(.warning, message) }
    public static func notice(_ message: @autoclosure () -> String) { emit(.notice, message) }
    public static func info(_ message: @autoclosure () -> String) { emit(.info, message) }

    /// Compiled to nothing unless the build has YIMMO_VERBOSE_LOG.
    @inline(__always)
    public static func debug(_ message: @autoclosure () -> String) {
        #if YIMMO_VERBOSE_LOG
        emit(.debug, message)
        #endif
    }

    /// Compiled to nothing unless the build has YIMMO_VERBOSE_LOG.
    @inline(__always)
    public static func trace(_ message: @autoclosure () -> String) {
        #if YIMMO_VERBOSE_LOG
        emit(.trace, message)
        #endif
    }

    @inline(__always)
    private static func emit(_ level: LogLevel, _ message: () -> String) {
        guard isEnabled(level) else { return }
        write(level, message())
    }

    /// Writes one line regardless of whether it ends in a newline; multi-line text (a Python
    /// traceback) stays one write.
    public static func write(_ level: LogLevel, _ message: String) {
        var line = timestamp()
        line += " [\(level)] [\(getpid())] "
        line += message
        if !line.hasSuffix("\n") { line += "\n" }
        line.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let n = Glibc.write(2, bytes.baseAddress! + offset, bytes.count - offset)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return }
                offset += n
            }
        }
    }

    private static func timestamp() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = ts.tv_sec
        var parts = tm()
        gmtime_r(&t, &parts)
        func pad(_ v: Int32, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(parts.tm_year + 1900)-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))."
            + "\(pad(Int32(ts.tv_nsec / 1_000_000), 3))Z"
    }
}
