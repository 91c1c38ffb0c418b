import CPythonShim
import Foundation
import Testing
@testable import WSGIServer

/// The bridge end to end without sockets: HTTPExchange.forTesting stands in for a connection;
/// the test collects what the exchange queued for the wire.
@Suite(.serialized) struct WSGIBridgeTests {
    static let apps = """
        import sys
        def hello(environ, start_response):
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"hello"]
        def environ_dump(environ, start_response):
            start_response("200 OK", [])
            keys = sorted(k for k in environ if isinstance(environ[k], str))
            return ["\\n".join("%s=%s" % (k, environ[k]) for k in keys).encode("latin-1")]
        def lines(environ, start_response):
            stream = environ["wsgi.input"]
            first = stream.readline()
            rest = stream.readlines()
            start_response("200 OK", [])
            return iter([first, b"|"] + rest)
        def lazy(environ, start_response):
            start_response("201 Created", [("X-Lazy", "1")])
            yield b""
            yield b"a"
            yield b"b"
        def injection(environ, start_response):
            start_response("200 OK", [("X-Bad", "v\\r\\nSet-Cookie: x")])
            return [b"never"]
        def replace(environ, start_response):
            start_response("200 OK", [("X-Old", "1")])
            try:
                1 / 0
            except ZeroDivisionError:
                start_response("503 Unavailable", [("X-New", "1")], sys.exc_info())
            return [b"replaced"]
        def unicode_item(environ, start_response):
            start_response("200 OK", [])
            return ["text"]
        """

    static let ready: Void = {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("yimmo-bridge-tests-\(getpid())").path
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try? apps.write(toFile: directory + "/bridge_apps.py", atomically: true, encoding: .utf8)
        try? PythonRuntime.initialize(virtualenv: nil)
        PythonRuntime.withGIL { _ = YPy_PrependSysPath(directory) }
    }()

    private func serve(_ app: String, _ head: String, body: [UInt8]? = nil) throws -> (head: String, body: [UInt8], aborted: Bool) {
        _ = Self.ready
        let handler = try WSGIApplication.load(spec: ["bridge_apps:" + app], configuration: WSGIConfiguration(scriptName: "/app"))
        defer { handler.shutdown() }
        let exchange = Self.exchange(head, body: body)
        handler.handle(exchange)
        var wire: [UInt8] = []
        var output = ExchangeOutput()
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            var chunk: [UInt8] = []
            output = exchange.collect(into: &chunk)
            exchange.confirmWritten(chunk.count)
            wire += chunk
            if output.finished { break }
            usleep(1000)
        }
        #expect(output.finished)
        guard let split = Self.find([13, 10, 13, 10], in: wire) else { return ("", wire, output.aborted) }
        return (String(decoding: wire[..<split], as: UTF8.self), Array(wire[(split + 4)...]), output.aborted)
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        return (0...(haystack.count - needle.count)).first { Array(haystack[$0..<($0 + needle.count)]) == needle }
    }

    /// A request head parsed by hand: offsets exactly as ParsedRequest documents them.
    static func exchange(_ text: String, body: [UInt8]?) -> HTTPExchange {
        let head = Array(text.utf8)
        var request = ParsedRequest()
        let lines = text.components(separatedBy: "\r\n")
        let parts = lines[0].split(separator: " ")
        request.method = 0..<parts[0].utf8.count
        let targetStart = request.method.upperBound + 1
        request.target = targetStart..<(targetStart + parts[1].utf8.count)
        if let question = parts[1].firstIndex(of: "?") {
            let pathLength = parts[1][..<question].utf8.count
            request.path = targetStart..<(targetStart + pathLength)
            request.query = (targetStart + pathLength + 1)..<request.target.upperBound
        } else {
            request.path = request.target
        }
        request.versionMinor = parts[2] == "HTTP/1.0" ? 0 : 1
        var offset = lines[0].utf8.count + 2
        for line in lines.dropFirst() where !line.isEmpty {
            let nameLength = line[..<line.firstIndex(of: ":")!].utf8.count
            request.headers.append(HeaderField(name: offset..<(offset + nameLength),
                                               value: (offset + nameLength + 2)..<(offset + line.utf8.count)))
            offset += line.utf8.count + 2
        }
        request.framing = body.map { .length($0.count) } ?? .none
        request.headLength = head.count
        let exchange = HTTPExchange.forTesting(
            request: request, head: head,
            connection: ConnectionInfo(remoteAddress: "10.0.0.7", remotePort: 40000, serverName: "example.test", serverPort: 8080))
        if let body {
            body.withUnsafeBytes { _ = exchange.deliverBody($0) }
            exchange.endBody()
        }
        return exchange
    }

    @Test func oneItemListGetsContentLength() throws {
        let response = try serve("hello", "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(response.head.hasPrefix("HTTP/1.1 200 OK"))
        #expect(response.head.contains("Content-Length: 5"))
        #expect(response.body == Array("hello".utf8))
    }

    @Test func environFromTheHead() throws {
        let response = try serve(
            "environ_dump",
            "POST /app/x%20y?q=1 HTTP/1.0\r\nHost: h\r\nX-A: 1\r\nx-a: 2\r\nX_B: no\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\n",
            body: Array("abc".utf8))
        let text = String(decoding: response.body, as: UTF8.self)
        for line in [
            "REQUEST_METHOD=POST", "SCRIPT_NAME=/app", "PATH_INFO=/x y", "QUERY_STRING=q=1",
            "SERVER_PROTOCOL=HTTP/1.0", "SERVER_NAME=example.test", "SERVER_PORT=8080",
            "REMOTE_ADDR=10.0.0.7", "REMOTE_PORT=40000", "HTTP_X_A=1, 2", "CONTENT_TYPE=text/plain",
            "CONTENT_LENGTH=3", "HTTP_HOST=h", "wsgi.url_scheme=http",
        ] {
            #expect(text.split(separator: "\n").contains(Substring(line)), "\(line) in\n\(text)")
        }
        #expect(!text.contains("X_B") && !text.contains("HTTP_CONTENT"))
    }

    @Test func inputLinesAndLazyStreaming() throws {
        let response = try serve("lines", "POST / HTTP/1.1\r\nHost: h\r\n\r\n", body: Array("one\ntwo\nthree".utf8))
        #expect(response.head.contains("Transfer-Encoding: chunked"))
        #expect(String(decoding: response.body, as: UTF8.self) == "4\r\none\n\r\n1\r\n|\r\n4\r\ntwo\n\r\n5\r\nthree\r\n0\r\n\r\n")
        let lazy = try serve("lazy", "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(lazy.head.hasPrefix("HTTP/1.1 201 Created") && lazy.head.contains("X-Lazy: 1"))
    }

    @Test func headerInjectionIsA500() throws {
        let response = try serve("injection", "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(response.head.hasPrefix("HTTP/1.1 500"))
        #expect(!response.head.contains("Set-Cookie") && !response.head.contains("X-Bad"))
    }

    @Test func excInfoReplacesUncommittedHead() throws {
        let response = try serve("replace", "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(response.head.hasPrefix("HTTP/1.1 503 Unavailable"))
        #expect(response.head.contains("X-New: 1") && !response.head.contains("X-Old"))
        #expect(response.body == Array("replaced".utf8))
    }

    @Test func nonBytesItemIsA500() throws {
        let response = try serve("unicode_item", "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(response.head.hasPrefix("HTTP/1.1 500"))
    }

    @Test func loadErrorsCarrySummaryAndTraceback() throws {
        _ = Self.ready
        #expect {
            try WSGIApplication.load(spec: ["bridge_apps:nope"], configuration: WSGIConfiguration())
        } throws: { error in
            let error = error as? AppLoadError
            return error?.summary == "'bridge_apps' has no attribute 'nope'"
                && error?.traceback?.contains("AttributeError") == true
        }
        #expect(throws: AppLoadError.self) {
            try WSGIApplication.load(spec: ["no_module_called_this"], configuration: WSGIConfiguration())
        }
    }
}
