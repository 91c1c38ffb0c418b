#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import WSGIServer

struct HTTPDateTests {
    @Test(arguments: [
        (784_111_777, "Sun, 06 Nov 1994 08:49:37 GMT"),  // RFC 9110's own example
        (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
        (951_782_400, "Tue, 29 Feb 2000 00:00:00 GMT"),
        (1_700_000_000, "Tue, 14 Nov 2023 22:13:20 GMT"),
        (4_102_444_799, "Thu, 31 Dec 2099 23:59:59 GMT"),
    ] as [(Int, String)])
    func formatsIMFFixdate(seconds: Int, expected: String) {
        #expect(String(decoding: HTTPDate.format(time_t(seconds)), as: UTF8.self) == expected)
    }

    @Test func appendWritesTheCurrentTime() {
        var out: [UInt8] = Array("Date: ".utf8)
        let before = time(nil)
        HTTPDate.append(to: &out)
        let after = time(nil)
        let text = String(decoding: out.dropFirst(6), as: UTF8.self)
        let candidates = Set([before, after].map { String(decoding: HTTPDate.format($0), as: UTF8.self) })
        #expect(candidates.contains(text), "\(text)")
        #expect(out.starts(with: Array("Date: ".utf8)))
    }
}
