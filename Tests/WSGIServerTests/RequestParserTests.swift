import Testing

@testable import WSGIServer

/// A request head and what parsing it must give; optional fields are checked only when set.
struct HeadCase: Sendable, CustomTestStringConvertible {
    var name: String
    var input: String
    var limits = ParserLimits()
    var error: HTTPParseError? = nil
    var partial = false
    var method: String? = nil
    var path: String? = nil
    var query: String?? = nil
    var authority: String?? = nil
    var minor: Int? = nil
    var headers: [String]? = nil
    var framing: BodyFraming? = nil
    var keepAlive: Bool? = nil
    var expectContinue: Bool? = nil
    var methodIsHead: Bool? = nil
    var headLength: Int? = nil

    var testDescription: String { name }

    func check(sourceLocation: SourceLocation = #_sourceLocation) {
        let result = parseEverySplit(latin1(input), limits: limits, sourceLocation: sourceLocation)
        if let error {
            #expect(result == .invalid(error), sourceLocation: sourceLocation)
            return
        }
        if partial {
            #expect(result == .partial, sourceLocation: sourceLocation)
            return
        }
        guard let s = result.summary else {
            Issue.record("expected a complete head, got \(result)", sourceLocation: sourceLocation)
            return
        }
        if let method { #expect(s.method == method, sourceLocation: sourceLocation) }
        if let path { #expect(s.path == path, sourceLocation: sourceLocation) }
        if let query { #expect(s.query == query, sourceLocation: sourceLocation) }
        if let authority { #expect(s.authority == authority, sourceLocation: sourceLocation) }
        if let minor { #expect(s.versionMinor == minor, sourceLocation: sourceLocation) }
        if let headers { #expect(s.headers == headers, sourceLocation: sourceLocation) }
        if let framing { #expect(s.framing == framing, sourceLocation: sourceLocation) }
        if let keepAlive { #expect(s.keepAlive == keepAlive, sourceLocation: sourceLocation) }
        if let expectContinue { #expect(s.expectContinue == expectContinue, sourceLocation: sourceLocation) }
        if let methodIsHead { #expect(s.methodIsHead == methodIsHead, sourceLocation: sourceLocation) }
        if let headLength { #expect(s.headLength == headLength, sourceLocation: sourceLocation) }
    }
}

/// `GET <target> HTTP/1.1` with a Host header.
private func get(_ target: String, _ extra: String = "") -> String {
    "GET \(target) HTTP/1.1\r\nHost: example.com\r\n\(extra)\r\n"
}

/// An HTTP/1.1 POST with a Host header and `fields`.
private func post(_ fields: String) -> String {
    "POST /p HTTP/1.1\r\nHost: example.com\r\n\(fields)\r\n"
}

@Suite struct RequestParserTests {
    static let accepted: [HeadCase] = [
        HeadCase(name: "simple GET", input: get("/"), method: "GET", path: "/", query: .some(nil),
                 authority: .some(nil), minor: 1, headers: ["Host: example.com"], framing: BodyFraming.none,
                 keepAlive: true, expectContinue: false, methodIsHead: false, headLength: 37),
        HeadCase(name: "path and query", input: get("/a/b?x=1&y=%20"), path: "/a/b", query: "x=1&y=%20"),
        HeadCase(name: "empty query", input: get("/a?"), path: "/a", query: ""),
        HeadCase(name: "second ? belongs to the query", input: get("/a?b?c"), path: "/a", query: "b?c"),
        HeadCase(name: "fragment left out", input: get("/a?q=1#frag"), path: "/a", query: "q=1"),
        HeadCase(name: "fragment without query", input: get("/a#f?x"), path: "/a", query: .some(nil)),
        HeadCase(name: "visible specials in target", input: get(#"/with_"quotes"|{}^`?foo="bar""#),
                 path: #"/with_"quotes"|{}^`"#, query: #"foo="bar""#),
        HeadCase(name: "slashes kept", input: get("///x"), path: "///x"),
        HeadCase(name: "absolute-form", input: get("http://example.com/p?q"), path: "/p", query: "q",
                 authority: "example.com"),
        HeadCase(name: "absolute-form https, upper-case scheme", input: get("HTTPS://h:8443/x"), path: "/x",
                 authority: "h:8443"),
        HeadCase(name: "absolute-form without path", input: get("http://h"), path: "", query: .some(nil),
                 authority: "h"),
        HeadCase(name: "absolute-form query without path", input: get("http://h?q"), path: "", query: "q",
                 authority: "h"),
        HeadCase(name: "absolute-form IPv6", input: get("http://[::1]:8080/foo"), path: "/foo",
                 authority: "[::1]:8080"),
        HeadCase(name: "OPTIONS *", input: "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", method: "OPTIONS", path: "*",
                 query: .some(nil)),
        HeadCase(name: "tchar method", input: "-BLARGH_x.~ / HTTP/1.1\r\nHost: h\r\n\r\n", method: "-BLARGH_x.~"),
        HeadCase(name: "HEAD", input: "HEAD / HTTP/1.1\r\nHost: h\r\n\r\n", methodIsHead: true),
        HeadCase(name: "head is not HEAD", input: "head / HTTP/1.1\r\nHost: h\r\n\r\n", method: "head",
                 methodIsHead: false),
        HeadCase(name: "HTTP/1.0 without Host", input: "GET / HTTP/1.0\r\n\r\n", minor: 0, headers: [],
                 keepAlive: false, headLength: 18),
        HeadCase(name: "leading empty lines skipped", input: "\r\n\r\nGET / HTTP/1.0\r\nA: b\r\n\r\n",
                 method: "GET", minor: 0, headers: ["A: b"], headLength: 28),
        HeadCase(name: "OWS trimmed, inner kept", input: get("/", "X: \t a \t b \t\r\n"),
                 headers: ["Host: example.com", "X: a \t b"]),
        HeadCase(name: "empty value", input: get("/", "X:\r\nY:   \r\n"), headers: ["Host: example.com", "X: ", "Y: "]),
        HeadCase(name: "obs-text value", input: get("/", "X: caf\u{C3}\u{A9}\u{FF}\r\n"),
                 headers: ["Host: example.com", "X: caf\u{C3}\u{A9}\u{FF}"]),
        HeadCase(name: "tchar specials in names", input: get("/", "X.Custom|Pipe!#$%&'*+^_`~: ok\r\n"),
                 headers: ["Host: example.com", "X.Custom|Pipe!#$%&'*+^_`~: ok"]),
        HeadCase(name: "repeated fields kept in order", input: get("/", "A: 1\r\nB: 2\r\nA: 3\r\n"),
                 headers: ["Host: example.com", "A: 1", "B: 2", "A: 3"]),
        HeadCase(name: "empty Host", input: "GET / HTTP/1.1\r\nHost:\r\n\r\n", headers: ["Host: "]),
        HeadCase(name: "Host with port and IPv6", input: "GET / HTTP/1.1\r\nhOsT: [::1]:80\r\n\r\n"),
        HeadCase(name: "head only, body bytes follow", input: get("/", "Content-Length: 5\r\n") + "hello",
                 framing: .length(5), headLength: 56),
        HeadCase(name: "pipelined: stops at the first head", input: get("/a") + get("/b"), path: "/a",
                 headLength: 38),
        HeadCase(name: "max version digits", input: "GET / HTTP/1.1\r\nHost: h\r\n\r\n", minor: 1),
        // RFC 9110 §2.5: a later minor version is processed as the highest one we implement.
        HeadCase(name: "HTTP/1.2 served as 1.1", input: "GET / HTTP/1.2\r\nHost: h\r\n\r\n", minor: 1),
        HeadCase(name: "HTTP/1.9 served as 1.1", input: "GET / HTTP/1.9\r\nHost: h\r\n\r\n", minor: 1),
    ]

    @Test(arguments: accepted)
    func acceptedHeads(_ c: HeadCase) { c.check() }

    static let requestLine: [HeadCase] = [
        HeadCase(name: "double SP before target", input: "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", error: .invalidTarget),
        HeadCase(name: "double SP before version", input: "GET /  HTTP/1.1\r\nHost: h\r\n\r\n", error: .invalidVersion),
        HeadCase(name: "trailing SP", input: "GET / HTTP/1.1 \r\nHost: h\r\n\r\n", error: .invalidVersion),
        HeadCase(name: "leading SP", input: " GET / HTTP/1.1\r\n\r\n", error: .invalidMethod),
        HeadCase(name: "HTAB separator", input: "GET\t/ HTTP/1.1\r\n\r\n", error: .invalidMethod),
        HeadCase(name: "LF separators", input: "GET\n/\nHTTP/1.1\r\n\r\n", error: .invalidRequestLine),
        HeadCase(name: "non-token method", input: "G(T / HTTP/1.1\r\n\r\n", error: .invalidMethod),
        HeadCase(name: "colon in method", input: "bla:rgh /foo HTTP/1.1\r\n\r\n", error: .invalidMethod),
        HeadCase(name: "NUL in method", input: "GET\0PROXY /foo HTTP/1.1\r\n\r\n", error: .invalidMethod),
        HeadCase(name: "non-ASCII method", input: "GET\u{DF} / HTTP/1.1\r\n\r\n", error: .invalidMethod),
        HeadCase(name: "no target", input: "GET HTTP/1.1\r\n\r\n", error: .invalidRequestLine),
        HeadCase(name: "no version (HTTP/0.9)", input: "GET /\r\n\r\n", error: .invalidRequestLine),
        HeadCase(name: "method only", input: "GET\r\n\r\n", error: .invalidRequestLine),
        HeadCase(name: "CTL in target", input: "GET /a\u{01}b HTTP/1.1\r\n\r\n", error: .invalidTarget),
        HeadCase(name: "HTAB in target", input: "GET /a\tb HTTP/1.1\r\n\r\n", error: .invalidTarget),
        HeadCase(name: "NUL in target", input: "GET /a\0 HTTP/1.1\r\n\r\n", error: .invalidTarget),
        HeadCase(name: "DEL in target", input: "GET /a\u{7F} HTTP/1.1\r\n\r\n", error: .invalidTarget),
        HeadCase(name: "non-ASCII in target", input: "GET /\u{C3}\u{A0} HTTP/1.1\r\n\r\n", error: .invalidTarget),
        HeadCase(name: "space inside target", input: "GET /a b HTTP/1.1\r\n\r\n", error: .invalidVersion),
        HeadCase(name: "relative target", input: get("foo/bar"), error: .invalidTarget),
        HeadCase(name: "authority-form without CONNECT", input: get("example.com:443"), error: .invalidTarget),
        HeadCase(name: "other scheme", input: get("ftp://h/"), error: .invalidTarget),
        HeadCase(name: "scheme without slashes", input: get("http:/h/x"), error: .invalidTarget),
        HeadCase(name: "empty authority", input: get("http:///x"), error: .invalidTarget),
        HeadCase(name: "userinfo", input: get("http://user:pass@h/x"), error: .invalidTarget),
        HeadCase(name: "asterisk without OPTIONS", input: get("*"), error: .invalidTarget),
        HeadCase(name: "asterisk plus more", input: "OPTIONS *x HTTP/1.1\r\nHost: h\r\n\r\n", error: .invalidTarget),
        HeadCase(name: "CONNECT authority-form", input: "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n",
                 error: .connectNotSupported),
        HeadCase(name: "CONNECT origin-form", input: "CONNECT / HTTP/1.1\r\nHost: h\r\n\r\n", error: .connectNotSupported),
        HeadCase(name: "HTTP/2.0", input: "GET / HTTP/2.0\r\n\r\n", error: .versionNotSupported),
        HeadCase(name: "HTTP/0.9 with version", input: "GET / HTTP/0.9\r\n\r\n", error: .versionNotSupported),
        HeadCase(name: "HTTP/2 preface", input: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", error: .versionNotSupported),
        HeadCase(name: "lower-case version", input: "GET / http/1.1\r\n\r\n", error: .invalidVersion),
        HeadCase(name: "FTP version", input: "GET / FTP/1.1\r\n\r\n", error: .invalidVersion),
        HeadCase(name: "short version", input: "GET / HTTP/1\r\n\r\n", error: .invalidVersion),
        HeadCase(name: "three-digit version", input: "GET / HTTP/111\r\n\r\n", error: .invalidVersion),
        HeadCase(name: "long minor", input: "GET / HTTP/1.10\r\n\r\n", error: .invalidVersion),
        HeadCase(name: "long major", input: "GET / HTTP/11.1\r\n\r\n", error: .invalidVersion),
        HeadCase(name: "HTTP/0.99", input: "GET /foo HTTP/0.99\r\n\r\n", error: .invalidVersion),
        HeadCase(name: "bare LF after request line", input: "GET / HTTP/1.1\nHost: h\r\n\r\n", error: .invalidLineEnding),
        HeadCase(name: "bare CR after request line", input: "GET / HTTP/1.1\rHost: h\r\n\r\n", error: .invalidLineEnding),
        HeadCase(name: "bare LF before request", input: "\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", error: .invalidLineEnding),
        HeadCase(name: "bare CR before request", input: "\rGET / HTTP/1.1\r\nHost: h\r\n\r\n", error: .invalidLineEnding),
        HeadCase(name: "binary PROXY v2 signature", input: "\r\n\r\n\0\r\nQUIT\n", error: .invalidMethod),
        HeadCase(name: "PROXY v1 line", input: "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", error: .invalidVersion),
    ]

    @Test(arguments: requestLine)
    func requestLineRules(_ c: HeadCase) { c.check() }

    static let fieldSyntax: [HeadCase] = [
        HeadCase(name: "bare LF ends a field", input: "GET / HTTP/1.1\r\nHost: h\n\r\n", error: .invalidLineEnding),
        HeadCase(name: "bare LF as the blank line", input: "GET / HTTP/1.1\r\nHost: h\r\n\n", error: .invalidLineEnding),
        HeadCase(name: "bare LF inside a value", input: get("/", "X: a\nb\r\n"), error: .invalidLineEnding),
        HeadCase(name: "bare CR inside a value", input: get("/", "X: a\rb\r\n"), error: .invalidLineEnding),
        HeadCase(name: "CR CR LF", input: get("/", "X: a\r\r\n"), error: .invalidLineEnding),
        HeadCase(name: "bare CR as the blank line", input: "GET / HTTP/1.1\r\nHost: h\r\n\rX", error: .invalidLineEnding),
        HeadCase(name: "obs-fold with SP", input: get("/", "X: a\r\n b\r\n"), error: .obsoleteFolding),
        HeadCase(name: "obs-fold with HTAB", input: get("/", "X: a\r\n\tb\r\n"), error: .obsoleteFolding),
        HeadCase(name: "whitespace before the first field", input: "GET / HTTP/1.1\r\n Host: h\r\n\r\n",
                 error: .obsoleteFolding),
        HeadCase(name: "SP before colon", input: get("/", "Content-Length : 3\r\n"), error: .whitespaceBeforeColon),
        HeadCase(name: "HTAB before colon", input: get("/", "X\t: 3\r\n"), error: .whitespaceBeforeColon),
        HeadCase(name: "SP inside name", input: get("/", "X Y: 3\r\n"), error: .whitespaceBeforeColon),
        HeadCase(name: "empty name", input: get("/", ": x\r\n"), error: .emptyHeaderName),
        HeadCase(name: "missing colon", input: get("/", "Xyz\r\n"), error: .missingColon),
        HeadCase(name: "non-token name", input: get("/", "X(y): 1\r\n"), error: .invalidHeaderName),
        HeadCase(name: "NUL in name", input: get("/", "ba\0z: bar\r\n"), error: .invalidHeaderName),
        HeadCase(name: "non-ASCII name", input: get("/", "Content-Length\u{DF}: 3\r\n"), error: .invalidHeaderName),
        HeadCase(name: "name starting with non-token", input: get("/", "@x: 3\r\n"), error: .invalidHeaderName),
        HeadCase(name: "NUL in value", input: get("/", "X: a\0b\r\n"), error: .invalidHeaderValue),
        HeadCase(name: "BEL in value", input: get("/", "X: plain\u{07}injected\r\n"), error: .invalidHeaderValue),
        HeadCase(name: "DEL in value", input: get("/", "X: plain\u{7F}injected\r\n"), error: .invalidHeaderValue),
        HeadCase(name: "VT before value", input: get("/", "X: \u{0B}a\r\n"), error: .invalidHeaderValue),
        HeadCase(name: "FF after value", input: get("/", "X: a\u{0C}\r\n"), error: .invalidHeaderValue),
        HeadCase(name: "ESC in value", input: get("/", "X: a\u{1B}[0m\r\n"), error: .invalidHeaderValue),
        HeadCase(name: "head not finished", input: "GET /foo/bar HTTP/1.0\r\nbaz", partial: true),
        HeadCase(name: "blank line not finished", input: "GET / HTTP/1.0\r\nA: b\r\n\r", partial: true),
        HeadCase(name: "empty input", input: "", partial: true),
        HeadCase(name: "only empty lines", input: "\r\n\r\n\r", partial: true),
    ]

    @Test(arguments: fieldSyntax)
    func fieldSyntaxRules(_ c: HeadCase) { c.check() }

    static let hostRules: [HeadCase] = [
        HeadCase(name: "HTTP/1.1 without Host", input: "GET / HTTP/1.1\r\nX: y\r\n\r\n", error: .missingHost),
        HeadCase(name: "HTTP/1.9 needs Host like 1.1", input: "GET / HTTP/1.9\r\n\r\n", error: .missingHost),
        HeadCase(name: "HTTP/1.1 with two Hosts", input: get("/", "Host: evil.example.com\r\n"), error: .duplicateHost),
        HeadCase(name: "HTTP/1.1 with two Hosts, case", input: get("/", "HOST: example.com\r\n"), error: .duplicateHost),
        HeadCase(name: "HTTP/1.0 with two Hosts", input: "GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n",
                 error: .duplicateHost),
        HeadCase(name: "HTTP/1.0 with one Host", input: "GET / HTTP/1.0\r\nHost: a\r\n\r\n", minor: 0),
        HeadCase(name: "Host with space", input: "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", error: .invalidHost),
        HeadCase(name: "Host with userinfo", input: "GET / HTTP/1.1\r\nHost: u@h\r\n\r\n", error: .invalidHost),
        HeadCase(name: "Host with path", input: "GET / HTTP/1.1\r\nHost: h/x\r\n\r\n", error: .invalidHost),
        HeadCase(name: "Host with obs-text", input: "GET / HTTP/1.1\r\nHost: h\u{E9}\r\n\r\n", error: .invalidHost),
        HeadCase(name: "Host_ is another field", input: "GET / HTTP/1.1\r\nHost_: h\r\n\r\n", error: .missingHost),
    ]

    @Test(arguments: hostRules)
    func hostHeaderRules(_ c: HeadCase) { c.check() }

    static let framingRules: [HeadCase] = [
        HeadCase(name: "no body", input: get("/"), framing: BodyFraming.none),
        HeadCase(name: "Content-Length 0", input: post("Content-Length: 0\r\n"), framing: .length(0)),
        HeadCase(name: "Content-Length 14", input: post("content-LENGTH: 14\r\n"), framing: .length(14)),
        HeadCase(name: "Content-Length with OWS", input: post("Content-Length: \t 5 \t\r\n"), framing: .length(5)),
        HeadCase(name: "Content-Length leading zeros", input: post("Content-Length: 0005\r\n"), framing: .length(5)),
        HeadCase(name: "Content-Length Int.max", input: post("Content-Length: 9223372036854775807\r\n"),
                 framing: .length(Int.max)),
        HeadCase(name: "Content-Length overflow", input: post("Content-Length: 9223372036854775808\r\n"),
                 error: .invalidContentLength),
        HeadCase(name: "Content-Length absurdly long", input: post("Content-Length: \(String(repeating: "9", count: 40))\r\n"),
                 error: .invalidContentLength),
        HeadCase(name: "Content-Length +5", input: post("Content-Length: +5\r\n"), error: .invalidContentLength),
        HeadCase(name: "Content-Length -1", input: post("Content-Length: -1\r\n"), error: .invalidContentLength),
        HeadCase(name: "Content-Length -0", input: post("Content-Length: -0\r\n"), error: .invalidContentLength),
        HeadCase(name: "Content-Length 0x10", input: post("Content-Length: 0x10\r\n"), error: .invalidContentLength),
        HeadCase(name: "Content-Length 1_0", input: post("Content-Length: 1_0\r\n"), error: .invalidContentLength),
        HeadCase(name: "Content-Length 5 5", input: post("Content-Length: 5 5\r\n"), error: .invalidContentLength),
        HeadCase(name: "Content-Length 1,5", input: post("Content-Length: 1,5\r\n"), error: .invalidContentLength),
        HeadCase(name: "Content-Length list 10, 10", input: post("Content-Length: 10, 10\r\n"), error: .invalidContentLength),
        HeadCase(name: "Content-Length empty", input: post("Content-Length:\r\n"), error: .invalidContentLength),
        HeadCase(name: "Content-Length 1E3", input: post("Content-Length: 1E3\r\n"), error: .invalidContentLength),
        HeadCase(name: "Content-Length twice, same", input: post("Content-Length: 5\r\nContent-Length: 5\r\n"),
                 error: .duplicateContentLength),
        HeadCase(name: "Content-Length twice, different", input: post("Content-Length: 3\r\nContent-Length: 2\r\n"),
                 error: .duplicateContentLength),
        HeadCase(name: "Content_Length is another field", input: post("Content_Length: -1E23\r\nContent-Length: 7\r\n"),
                 framing: .length(7)),
        HeadCase(name: "chunked", input: post("Transfer-Encoding: chunked\r\n"), framing: .chunked),
        HeadCase(name: "CHUNKED with OWS", input: post("transfer-encoding: \t CHUNKED \t\r\n"), framing: .chunked),
        HeadCase(name: "TE with Content-Length", input: post("Content-Length: 3\r\nTransfer-Encoding: chunked\r\n"),
                 error: .contentLengthWithTransferEncoding),
        HeadCase(name: "TE with Content-Length after", input: post("Transfer-Encoding: chunked\r\nContent-Length: 3\r\n"),
                 error: .contentLengthWithTransferEncoding),
        HeadCase(name: "TE on HTTP/1.0", input: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
                 error: .transferEncodingOnHTTP10),
        HeadCase(name: "TE chunked, identity", input: post("Transfer-Encoding: chunked, identity\r\n"),
                 error: .invalidTransferEncoding),
        HeadCase(name: "TE identity", input: post("Transfer-Encoding: identity\r\n"), error: .invalidTransferEncoding),
        HeadCase(name: "TE gzip", input: post("Transfer-Encoding: gzip\r\n"), error: .invalidTransferEncoding),
        HeadCase(name: "TE chunked, chunked", input: post("Transfer-Encoding: chunked, chunked\r\n"),
                 error: .invalidTransferEncoding),
        HeadCase(name: "TE xchunked", input: post("Transfer-Encoding: xchunked\r\n"), error: .invalidTransferEncoding),
        HeadCase(name: "TE chunkedx", input: post("Transfer-Encoding: chunkedx\r\n"), error: .invalidTransferEncoding),
        HeadCase(name: "TE chunked;q=1", input: post("Transfer-Encoding: chunked;q=1\r\n"), error: .invalidTransferEncoding),
        HeadCase(name: "TE quoted", input: post("Transfer-Encoding: \"chunked\"\r\n"), error: .invalidTransferEncoding),
        HeadCase(name: "TE trailing comma", input: post("Transfer-Encoding: chunked,\r\n"), error: .invalidTransferEncoding),
        HeadCase(name: "TE leading comma", input: post("Transfer-Encoding: , chunked\r\n"), error: .invalidTransferEncoding),
        HeadCase(name: "TE empty", input: post("Transfer-Encoding:\r\n"), error: .invalidTransferEncoding),
        HeadCase(name: "TE inner space", input: post("Transfer-Encoding: chun ked\r\n"), error: .invalidTransferEncoding),
        HeadCase(name: "TE NBSP padding", input: post("Transfer-Encoding: chunked\u{A0}\r\n"), error: .invalidTransferEncoding),
        HeadCase(name: "TE VT padding", input: post("Transfer-Encoding: \u{0B}chunked\r\n"), error: .invalidHeaderValue),
        HeadCase(name: "TE FF padding", input: post("Transfer-Encoding: chunked\u{0C}\r\n"), error: .invalidHeaderValue),
        HeadCase(name: "TE CR padding", input: post("Transfer-Encoding: chunked\r\r\n"), error: .invalidLineEnding),
        HeadCase(name: "TE gzip, chunked", input: post("Transfer-Encoding: gzip, chunked\r\n"),
                 error: .unsupportedTransferCoding),
        HeadCase(name: "TE identity, chunked", input: post("Transfer-Encoding: identity, chunked\r\n"),
                 error: .unsupportedTransferCoding),
        HeadCase(name: "TE lines gzip + chunked", input: post("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"),
                 error: .unsupportedTransferCoding),
        HeadCase(name: "TE lines chunked + chunked", input: post("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"),
                 error: .invalidTransferEncoding),
        HeadCase(name: "TE lines chunked + gzip", input: post("Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n"),
                 error: .invalidTransferEncoding),
        HeadCase(name: "TE lines identity, chunked, identity, chunked",
                 input: post("Transfer-Encoding: identity, chunked, identity, chunked\r\n"), error: .invalidTransferEncoding),
        HeadCase(name: "Transfer_Encoding is another field", input: post("Transfer_Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"),
                 framing: .chunked),
        HeadCase(name: "duplicate Content-Type", input: get("/", "Content-Type: a/b\r\ncontent-type: c/d\r\n"),
                 error: .duplicateContentType),
    ]

    @Test(arguments: framingRules)
    func bodyFraming(_ c: HeadCase) { c.check() }

    static let connectionRules: [HeadCase] = [
        HeadCase(name: "1.1 default", input: get("/"), keepAlive: true),
        HeadCase(name: "1.1 close", input: get("/", "Connection: close\r\n"), keepAlive: false),
        HeadCase(name: "1.1 Close", input: get("/", "Connection: Close\r\n"), keepAlive: false),
        HeadCase(name: "1.1 close in a list", input: get("/", "Connection: Upgrade,  CLOSE \t, foo\r\n"), keepAlive: false),
        HeadCase(name: "1.1 close on a second line", input: get("/", "Connection: keep-alive\r\nconnection: close\r\n"),
                 keepAlive: false),
        HeadCase(name: "1.1 closed is not close", input: get("/", "Connection: closed\r\n"), keepAlive: true),
        HeadCase(name: "1.1 keep-alive", input: get("/", "Connection: keep-alive\r\n"), keepAlive: true),
        HeadCase(name: "1.1 empty list elements", input: get("/", "Connection: ,, close,\r\n"), keepAlive: false),
        HeadCase(name: "1.0 default", input: "GET / HTTP/1.0\r\n\r\n", keepAlive: false),
        HeadCase(name: "1.0 keep-alive", input: "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", keepAlive: true),
        HeadCase(name: "1.0 Keep-Alive", input: "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", keepAlive: true),
        HeadCase(name: "1.0 keep-alive and close", input: "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
                 keepAlive: false),
        HeadCase(name: "1.0 Keep-Alive header is not Connection", input: "GET / HTTP/1.0\r\nKeep-Alive: 300\r\n\r\n",
                 keepAlive: false),
        HeadCase(name: "Expect 100-continue", input: post("Expect: 100-continue\r\nContent-Length: 1\r\n"),
                 expectContinue: true),
        HeadCase(name: "Expect 100-Continue", input: post("expect: 100-Continue\r\n"), expectContinue: true),
        HeadCase(name: "Expect other", input: post("Expect: 200-ok\r\n"), expectContinue: false),
        HeadCase(name: "Expect on 1.0", input: "POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n", expectContinue: false),
    ]

    @Test(arguments: connectionRules)
    func keepAliveAndExpect(_ c: HeadCase) { c.check() }

    static let limitRules: [HeadCase] = {
        let small = ParserLimits(requestLine: 16, headerCount: 2, fieldLength: 8)
        let line8190 = "GET /" + String(repeating: "a", count: 8190 - 14) + " HTTP/1.0"
        let field8190 = "X: " + String(repeating: "b", count: 8190 - 3)
        return [
            HeadCase(name: "request line at limit", input: "GET /abc HTTP/1.0\r\n\r\n".replacingOccurrences("abc", "ab"),
                     limits: small, path: "/ab"),
            HeadCase(name: "request line over limit", input: "GET /abc HTTP/1.0\r\n\r\n", limits: small,
                     error: .requestLineTooLong),
            HeadCase(name: "request line over limit, no CRLF yet", input: "GET /abcdefghijklm", limits: small,
                     error: .requestLineTooLong),
            HeadCase(name: "empty lines count toward the request line", input: "\r\n\r\nGET /a HTTP/1.0\r\n\r\n",
                     limits: small, error: .requestLineTooLong),
            HeadCase(name: "endless empty lines", input: String(repeating: "\r\n", count: 9), limits: small,
                     error: .requestLineTooLong),
            HeadCase(name: "field at limit", input: "GET / HTTP/1.0\r\nX: 12345\r\n\r\n", limits: small,
                     headers: ["X: 12345"]),
            HeadCase(name: "field over limit", input: "GET / HTTP/1.0\r\nX: 123456\r\n\r\n", limits: small,
                     error: .headerFieldTooLong),
            HeadCase(name: "field over limit, no CRLF yet", input: "GET / HTTP/1.0\r\nX: 123456789", limits: small,
                     error: .headerFieldTooLong),
            HeadCase(name: "field over limit by whitespace", input: "GET / HTTP/1.0\r\nX:       1\r\n\r\n",
                     limits: small, error: .headerFieldTooLong),
            HeadCase(name: "long name", input: "GET / HTTP/1.0\r\nXXXXXXXXX", limits: small, error: .headerFieldTooLong),
            HeadCase(name: "fields at limit", input: "GET / HTTP/1.0\r\nA: 1\r\nB: 2\r\n\r\n", limits: small,
                     headers: ["A: 1", "B: 2"]),
            HeadCase(name: "fields over limit", input: "GET / HTTP/1.0\r\nA: 1\r\nB: 2\r\nC", limits: small,
                     error: .tooManyHeaders),
            HeadCase(name: "no fields allowed", input: "GET / HTTP/1.0\r\nA: 1\r\n\r\n",
                     limits: ParserLimits(headerCount: 0), error: .tooManyHeaders),
            HeadCase(name: "default request line 8190", input: line8190 + "\r\n\r\n", minor: 0),
            HeadCase(name: "default request line 8191", input: line8190 + "a\r\n\r\n", error: .requestLineTooLong),
            HeadCase(name: "8191 bytes of request line without CRLF", input: String(repeating: "A", count: 8191),
                     error: .requestLineTooLong),
            HeadCase(name: "default field 8190", input: "GET / HTTP/1.0\r\n" + field8190 + "\r\n\r\n", minor: 0),
            HeadCase(name: "default field 8191", input: "GET / HTTP/1.0\r\n" + field8190 + "b\r\n\r\n",
                     error: .headerFieldTooLong),
            HeadCase(name: "default 100 fields", input: "GET / HTTP/1.0\r\n" + fields(100) + "\r\n", minor: 0),
            HeadCase(name: "default 101 fields", input: "GET / HTTP/1.0\r\n" + fields(101) + "\r\n", error: .tooManyHeaders),
        ]
    }()

    private static func fields(_ n: Int) -> String {
        (0..<n).map { "header\($0): \($0)\r\n" }.joined()
    }

    @Test(arguments: limitRules)
    func limits(_ c: HeadCase) { c.check() }

    @Test func repeatsItsAnswerUntilReset() {
        let bytes = latin1(get("/") + "garbage")
        var parser = RequestParser()
        let first = feed(&parser, bytes, count: bytes.count)
        #expect(first == .complete(37))
        #expect(feed(&parser, bytes, count: bytes.count) == first)

        var bad = RequestParser()
        let junk = latin1("GET / HTTP/1.1\r\nX : y\r\n\r\n")
        #expect(feed(&bad, junk, count: junk.count) == .invalid(.whitespaceBeforeColon))
        #expect(feed(&bad, junk, count: junk.count) == .invalid(.whitespaceBeforeColon))
        bad.reset()
        #expect(feed(&bad, bytes, count: bytes.count) == .complete(37))
    }

    /// After warm-up the headers array is reused: same storage, no allocation per request.
    @Test func resetKeepsHeaderStorage() {
        let many = latin1("GET / HTTP/1.0\r\n" + Self.fields(60) + "\r\n")
        let few = latin1(get("/x", "A: 1\r\n"))
        var parser = RequestParser()
        #expect(feed(&parser, many, count: many.count) == .complete(many.count))
        let capacity = parser.request.headers.capacity
        #expect(capacity >= 60)
        let storage = unsafe parser.request.headers.withUnsafeBufferPointer { $0.baseAddress }  // Safe: compared, never dereferenced.

        for input in [few, many, few] {
            parser.reset()
            #expect(parser.request.headers.isEmpty)
            #expect(parser.request.framing == .none && parser.request.query == nil && parser.request.headLength == 0)
            #expect(feed(&parser, input, count: input.count) == .complete(input.count))
            #expect(parser.request.headers.capacity == capacity)
            #expect(unsafe parser.request.headers.withUnsafeBufferPointer { $0.baseAddress } == storage)  // Safe: as above.
        }
        #expect(HeadSummary(parser.request, few).path == "/x")
    }

    /// Byte classes match their RFC definitions exactly.
    @Test func byteClasses() {
        let tchars = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
        let authority = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:[]%".utf8)
        for b in UInt8.min...UInt8.max {
            #expect(HTTPByte.isTchar(b) == tchars.contains(b), "tchar \(b)")
            #expect(HTTPByte.isAuthorityChar(b) == authority.contains(b), "authority \(b)")
            #expect(HTTPByte.isFieldValueByte(b) == (b == 9 || (b >= 0x20 && b != 0x7F)), "value \(b)")
            #expect(HTTPByte.isTargetByte(b) == (b >= 0x21 && b <= 0x7E), "target \(b)")
        }
    }
}

extension RequestParserTests {
    /// The eight-bytes-at-a-time checks agree with the byte predicates for every byte value at
    /// every position, and for random words.
    @Test func wordChecks() {
        func plainValue(_ b: UInt8) -> Bool { b >= 0x20 && b != 0x7F }
        func plainTarget(_ b: UInt8) -> Bool { HTTPByte.isTargetByte(b) }
        func check(_ bytes: [UInt8]) {
            let word = bytes.enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
            #expect(HTTPByte.wordNeedsByteCheckInValue(word) == !bytes.allSatisfy(plainValue), "value \(bytes)")
            #expect(HTTPByte.wordNeedsByteCheckInTarget(word) == !bytes.allSatisfy(plainTarget), "target \(bytes)")
        }
        for b in UInt8.min...UInt8.max {
            for position in 0..<8 {
                var bytes = [UInt8](repeating: 0x61, count: 8)
                bytes[position] = b
                check(bytes)
                bytes = [UInt8](repeating: 0xFF, count: 8)  // obs-text around it: no borrow tricks
                bytes[position] = b
                check(bytes)
            }
        }
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<20_000 {
            // xorshift: reproducible, and biased toward the interesting boundaries.
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            let pool: [UInt8] = [0x00, 0x09, 0x1F, 0x20, 0x21, 0x61, 0x7E, 0x7F, 0x80, 0xFF]
            check((0..<8).map { pool[Int((state >> (8 * UInt64($0))) & 0xFF) % pool.count] })
        }
    }
}

extension String {
    fileprivate func replacingOccurrences(_ target: String, _ replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
