#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// The IMF-fixdate for the `Date` header, formatted at most once per second for all threads.
enum HTTPDate {
    private static let cache = Mutex<(second: Int, bytes: [UInt8])>((-1, []))
    private static let days: [StaticString] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months: [StaticString] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// Appends e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
    static func append(to buffer: inout [UInt8]) {
        let now = time(nil)
        cache.withLock { cached in
            if cached.second != now {
                cached.second = now
                cached.bytes = format(now)
            }
            buffer.append(contentsOf: cached.bytes)
        }
    }

    static func format(_ seconds: time_t) -> [UInt8] {
        var t = seconds
        var parts = tm()
        gmtime_r(&t, &parts)
        var out: [UInt8] = []
        out.reserveCapacity(29)
        func two(_ v: Int32) {
            out.append(UInt8(48 + v / 10))
            out.append(UInt8(48 + v % 10))
        }
        func text(_ s: StaticString) {
            s.withUTF8Buffer { out.append(contentsOf: $0) }
        }
        text(days[Int(parts.tm_wday)])
        text(", ")
        two(parts.tm_mday)
        out.append(32)
        text(months[Int(parts.tm_mon)])
        out.append(32)
        let year = parts.tm_year + 1900
        two(year / 100)
        two(year % 100)
        out.append(32)
        two(parts.tm_hour)
        out.append(58)
        two(parts.tm_min)
        out.append(58)
        two(parts.tm_sec)
        text(" GMT")
        return out
    }
}
