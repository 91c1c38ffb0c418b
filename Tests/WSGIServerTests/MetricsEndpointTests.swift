#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import WSGIServer

/// The supervisor's metrics endpoint: what it answers to which request, and one connection's
/// life over a socket pair.
struct MetricsEndpointTests {
    static let requests: [(String, MetricsRequest)] = [
        ("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", .metrics(head: false)),
        ("GET /metrics HTTP/1.0\r\n\r\n", .metrics(head: false)),
        ("GET /metrics?name[]=up HTTP/1.1\r\nAccept: text/plain;version=0.0.4;q=1,*/*;q=0.1\r\n\r\n", .metrics(head: false)),
        ("GET /metrics HTTP/1.1\n\n", .metrics(head: false)),
        ("HEAD /metrics HTTP/1.1\r\n\r\n", .metrics(head: true)),
        ("POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", .methodNotAllowed),
        ("GET / HTTP/1.1\r\n\r\n", .notFound),
        ("GET /metrics/ HTTP/1.1\r\n\r\n", .notFound),
        ("GET /metricsx HTTP/1.1\r\n\r\n", .notFound),
        ("GET /metrics HTTP/1.1\r\n", .incomplete),
        ("GET /metrics HTTP/1.1\r\nHost: x\r\n", .incomplete),
        ("GET /met", .incomplete),
        ("", .incomplete),
        ("hello\r\n\r\n", .badRequest),
        ("GET /metrics\r\n\r\n", .badRequest),
        ("GET metrics HTTP/1.1\r\n\r\n", .badRequest),
        ("GET /metrics HTTP/2.0\r\n\r\n", .badRequest),
        ("GET  /metrics HTTP/1.1\r\n\r\n", .badRequest),
        ("G(T /metrics HTTP/1.1\r\n\r\n", .badRequest),
        ("GET /metrics HTTP/1.1\r\nno colon\r\n\r\n", .badRequest),
        ("GET /metrics HTTP/1.1\r\n: empty name\r\n\r\n", .badRequest),
        ("GET /metrics HTTP/1.1\r\nX: a\u{1}b\r\n\r\n", .badRequest),
        // The request line alone is enough to refuse.
        ("\u{0}\u{1}\u{2}\n", .badRequest),
    ]

    @Test(arguments: requests)
    func answers(_ request: String, _ expected: MetricsRequest) {
        #expect(MetricsRequest.route(Array(request.utf8)) == expected)
    }

    @Test func headsPastTheLimitAreRefused() {
        let long = Array("GET /metrics HTTP/1.1\r\nX: ".utf8) + [UInt8](repeating: 97, count: MetricsRequest.headLimit)
        #expect(MetricsRequest.route(long) == .badRequest)
        #expect(MetricsRequest.route([UInt8](repeating: 97, count: MetricsRequest.headLimit)) == .badRequest)
        #expect(MetricsRequest.route([UInt8](repeating: 97, count: MetricsRequest.headLimit - 1)) == .incomplete)
    }

    /// One request, one response with `Connection: close`, then the half-close and the client's
    /// EOF end it.
    @Test func connectionAnswersOnceAndCloses() throws {
        let (server, client) = try socketPair()
        defer { close(client) }
        let connection = MetricsConnection(fd: server, deadline: Int64.max)
        defer { connection.close() }
        var scrapes = 0
        send(client, "GET /metrics HTTP/1.1\r\nHost: x\r\n")
        connection.readable { scrapes += 1; return "up 1\n" }
        #expect(connection.phase == .reading, "the head is not complete yet")
        send(client, "\r\n")
        connection.readable { scrapes += 1; return "up 1\n" }
        #expect(scrapes == 1)
        #expect(connection.phase == .lingering)
        let response = readAll(client)
        #expect(response.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(response.contains("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"))
        #expect(response.contains("\r\nContent-Length: 5\r\n"))
        #expect(response.contains("\r\nConnection: close\r\n"))
        #expect(response.hasSuffix("\r\n\r\nup 1\n"))
        shutdown(client, Int32(SHUT_WR))
        connection.readable { "" }
        #expect(connection.phase == .done)
    }

    @Test func badRequestIsAnsweredWithoutScraping() throws {
        let (server, client) = try socketPair()
        defer { close(client) }
        let connection = MetricsConnection(fd: server, deadline: Int64.max)
        defer { connection.close() }
        send(client, "\u{16}\u{3}\u{1}\n")  // a TLS hello, say
        connection.readable { Issue.record("no scrape for a bad request"); return "" }
        #expect(readAll(client).hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
    }

    @Test func clientClosingEarlyEndsTheConnection() throws {
        let (server, client) = try socketPair()
        let connection = MetricsConnection(fd: server, deadline: Int64.max)
        defer { connection.close() }
        send(client, "GET /met")
        close(client)
        connection.readable { "" }
        #expect(connection.phase == .done)
    }

    private func socketPair() throws -> (Int32, Int32) {
        var fds: [Int32] = [0, 0]
        try #require(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0, &fds) == 0)
        return (fds[0], fds[1])
    }

    private func send(_ fd: Int32, _ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }

    /// What the peer wrote so far (non-blocking: the response is written in one go).
    private func readAll(_ fd: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        return String(decoding: buffer.prefix(max(0, n)), as: UTF8.self)
    }
}
