import Testing
@testable import WSGIServer

private func withBytes<R>(_ text: String, _ body: (UnsafeRawBufferPointer) -> R) -> R {
    Array(text.utf8).withUnsafeBytes(body)
}

struct HTTPBytesTests {
    @Test(arguments: [
        ("0", 0), ("5", 5), ("0005", 5), ("1234567890", 1_234_567_890),
        ("999999999999999999", 999_999_999_999_999_999),
    ] as [(String, Int)])
    func parseDecimalAcceptsPlainDigits(text: String, value: Int) {
        #expect(withBytes(text) { HTTPBytes.parseDecimal($0) } == value)
    }

    @Test(arguments: [
        "", "+5", "-1", "0x10", "1_0", " 5", "5 ", "5\t", "1e3", "5.0", "١٢",
        "9223372036854775808", "99999999999999999999", "18446744073709551616",
    ])
    func parseDecimalRejectsEverythingElse(text: String) {
        #expect(withBytes(text) { HTTPBytes.parseDecimal($0) } == nil)
    }

    @Test(arguments: [
        (0, "0"), (1, "1"), (9, "9"), (10, "10"), (100, "100"), (1_234_567_890, "1234567890"),
        (Int.max, "9223372036854775807"),
    ] as [(Int, String)])
    func appendDecimalIsExact(value: Int, text: String) {
        var out: [UInt8] = [120]
        HTTPBytes.appendDecimal(value, to: &out)
        #expect(String(decoding: out, as: UTF8.self) == "x" + text)
    }

    @Test(arguments: [
        (0, "0"), (1, "1"), (15, "f"), (16, "10"), (26, "1a"), (255, "ff"), (256, "100"), (4096, "1000"),
        (0xdead_beef, "deadbeef"), (Int.max, "7fffffffffffffff"),
    ] as [(Int, String)])
    func chunkHeaderIsExactLowercaseHex(value: Int, text: String) {
        var out: [UInt8] = [120]
        HTTPBytes.appendChunkHeader(value, to: &out)
        #expect(String(decoding: out, as: UTF8.self) == "x" + text + "\r\n")
    }

    @Test(arguments: [
        ("close", true), ("Close", true), ("CLOSE", true), (" close ", true), ("\tclose\t", true),
        ("keep-alive, close", true), ("keep-alive,close", true), ("close, keep-alive", true),
        (",close", true), ("close,,", true), ("a, b ,close", true),
        ("", false), ("closed", false), ("clos", false), ("keep-alive", false), ("close-ish", false),
        ("x close", false), ("\"close\"", false), (",", false), ("keep-alive, closer", false),
    ] as [(String, Bool)])
    func containsTokenMatchesWholeListItems(list: String, expected: Bool) {
        #expect(withBytes(list) { HTTPBytes.containsToken($0, "close") } == expected)
    }

    @Test(arguments: [
        ("content-length", true), ("Content-Length", true), ("CONTENT-LENGTH", true),
        ("content-lengt", false), ("content-lengthx", false), ("content_length", false), ("", false),
    ] as [(String, Bool)])
    func equalsIgnoringCaseComparesWholeNames(name: String, expected: Bool) {
        #expect(withBytes(name) { HTTPBytes.equalsIgnoringCase($0, "content-length") } == expected)
        #expect(withBytes(name) { HTTPBytes.equalsIgnoringCase($0, String("content-length")) } == expected)
    }

    @Test func tokenBytesAreExactlyRFC9110Tchar() {
        let tchar = Set(Array("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8))
        for c in 0...255 {
            #expect(HTTPByte.isTchar(UInt8(c)) == tchar.contains(UInt8(c)), "byte \(c)")
        }
    }

    @Test func lowerFoldsOnlyASCIILetters() {
        #expect(HTTPBytes.lower(UInt8(ascii: "A")) == UInt8(ascii: "a"))
        #expect(HTTPBytes.lower(UInt8(ascii: "Z")) == UInt8(ascii: "z"))
        #expect(HTTPBytes.lower(UInt8(ascii: "a")) == UInt8(ascii: "a"))
        #expect(HTTPBytes.lower(UInt8(ascii: "@")) == UInt8(ascii: "@"))
        #expect(HTTPBytes.lower(UInt8(ascii: "[")) == UInt8(ascii: "["))
        #expect(HTTPBytes.lower(0xC0) == 0xC0)
    }
}
