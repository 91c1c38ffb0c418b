import Testing
@testable import WSGIServer

/// Parses `head` and resolves its proxy headers as a connection from a trusted peer would.
private func forwarded(_ headers: [String], trust: String = "127.0.0.1") throws -> (client: String?, https: Bool?, host: String?) {
    let head = Array(("GET / HTTP/1.1\r\nHost: h\r\n" + headers.map { $0 + "\r\n" }.joined() + "\r\n").utf8)
    var parser = RequestParser()
    let status = head.withUnsafeBytes { parser.parse($0) }
    guard case .complete = status else { throw ParseFailed() }
    let list = try ForwardedAllowList(parsing: trust)
    let result = head.withUnsafeBytes { ForwardedRequest.resolve(parser.request, head: $0, trusted: list) }
    func text(_ range: Range<Int>?) -> String? { range.map { String(decoding: head[$0], as: UTF8.self) } }
    return (text(result.client), result.https, text(result.host))
}

private struct ParseFailed: Error {}

private func matches(_ list: String, _ address: String) throws -> Bool {
    var copy = address
    return try copy.withUTF8 { try ForwardedAllowList(parsing: list).contains(text: UnsafeRawBufferPointer($0)) }
}

@Suite struct ForwardedAllowListTests {
    @Test func literalsCidrAndStar() throws {
        #expect(try matches("127.0.0.1", "127.0.0.1"))
        #expect(try !matches("127.0.0.1", "127.0.0.2"))
        #expect(try matches("10.0.0.0/8", "10.200.3.4"))
        #expect(try !matches("10.0.0.0/8", "11.0.0.1"))
        #expect(try matches("::1", "::1"))
        #expect(try matches("2001:db8::/32", "2001:db8:1::5"))
        #expect(try !matches("2001:db8::/32", "2001:db9::5"))
        #expect(try matches("2001:db8::/70", "2001:db8::3ff:1"))
        #expect(try matches("127.0.0.1", "::ffff:127.0.0.1"))
        #expect(try matches("*", "198.51.100.1"))
        #expect(try matches(" 10.0.0.1 , 127.0.0.1", "127.0.0.1"))
        #expect(try !matches("127.0.0.1", "not-an-ip"))
    }

    @Test func badEntriesAreNamed() {
        for bad in ["nonsense", "10.0.0.0/33", "::1/129", "1.2.3", "10.0.0.1/x"] {
            #expect(throws: ForwardedAllowListError.self) { try ForwardedAllowList(parsing: bad) }
        }
    }
}

@Suite struct ForwardedRequestTests {
    @Test func xForwardedRightMostUntrusted() throws {
        #expect(try forwarded(["X-Forwarded-For: 1.1.1.1, 2.2.2.2"]).client == "2.2.2.2")
        #expect(try forwarded(["X-Forwarded-For: 1.1.1.1, 127.0.0.1"]).client == "1.1.1.1")
        #expect(try forwarded(["X-Forwarded-For: 127.0.0.1"]).client == "127.0.0.1")
        #expect(try forwarded(["X-Forwarded-For: 1.1.1.1, 2.2.2.2"], trust: "*").client == "1.1.1.1")
        #expect(try forwarded(["x-forwarded-for: 1.1.1.1", "X-FORWARDED-FOR: 127.0.0.1 "]).client == "1.1.1.1")
        #expect(try forwarded(["X-Forwarded-For: unknown, 127.0.0.1"]).client == "127.0.0.1")
        #expect(try forwarded(["X-Forwarded-For: garbage"]).client == nil)
    }

    @Test func protoAndHost() throws {
        let r = try forwarded(["X-Forwarded-Proto: http, HTTPS", "X-Forwarded-Host: a.example:8443"])
        #expect(r.https == true && r.host == "a.example:8443")
        #expect(try forwarded(["X-Forwarded-Proto: gopher"]).https == nil)
        #expect(try forwarded(["X-Forwarded-Host: a b"]).host == nil)
        #expect(try forwarded(["X-Forwarded-Host: [::1]:80"]).host == "[::1]:80")
    }

    @Test func rfc7239() throws {
        let r = try forwarded(["Forwarded: for=192.0.2.60;proto=https;host=\"x.example\";by=203.0.113.43"])
        #expect(r.client == "192.0.2.60" && r.https == true && r.host == "x.example")
        #expect(try forwarded(["Forwarded: For=\"[2001:db8:cafe::17]:4711\""]).client == "2001:db8:cafe::17")
        #expect(try forwarded(["Forwarded: for=192.0.2.60:8080"]).client == "192.0.2.60")
        let chain = try forwarded(["Forwarded: for=192.0.2.1;proto=https, for=127.0.0.1;proto=http"])
        #expect(chain.client == "192.0.2.1" && chain.https == true)
        // Forwarded wins; X-Forwarded-* fills what it left out.
        let mixed = try forwarded(["X-Forwarded-For: 9.9.9.9", "X-Forwarded-Proto: https", "Forwarded: for=8.8.8.8"])
        #expect(mixed.client == "8.8.8.8" && mixed.https == true)
        #expect(try forwarded(["Forwarded: for=unknown"]).client == nil)
    }
}

@Suite struct AccessLogLineTests {
    private func text(_ s: [UInt8]) -> String {
        var out: [UInt8] = []
        s.withUnsafeBytes { AccessLogLine.appendText($0, to: &out) }
        return String(decoding: out, as: UTF8.self)
    }

    private func json(_ s: [UInt8]) -> String {
        var out: [UInt8] = []
        s.withUnsafeBytes { AccessLogLine.appendJSONString($0, to: &out) }
        return String(decoding: out, as: UTF8.self)
    }

    @Test func escapes() {
        #expect(text(Array("a\"b\\c\n\u{7f}".utf8)) == #"a\x22b\x5cc\x0a\x7f"#)
        #expect(text([0xFF, 0x41]) == #"\xffA"#)
        #expect(text([]) == "-")
        #expect(json(Array("a\"b\\c\n\t\u{01}".utf8)) == #""a\"b\\c\n\t\u0001""#)
        #expect(json([0xE9]) == #""\u00e9""#)
    }
}
