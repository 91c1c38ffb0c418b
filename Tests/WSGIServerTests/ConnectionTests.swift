#if canImport(Glibc)
import Glibc
#endif
import Reactor
import Testing
import TestSupport
@testable import WSGIServer

/// A real server thread on 127.0.0.1 with the static responder, for what only shows through
/// a socket: how a Connection reacts to what the kernel reports.
private final class LoopbackServer {
    let server: HTTPServer
    let port: Int
    private let thread: TestThread

    init(idleTimeout: Double = 5) throws {
        var configuration = ServerConfiguration()
        configuration.host = "127.0.0.1"
        configuration.port = 0
        configuration.idleTimeout = idleTimeout
        let server = try HTTPServer(configuration: configuration, handler: StaticResponder(body: "hi\n"), backend: EpollBackend())
        port = try server.bind()
        self.server = server
        thread = TestThread {
            do {
                try server.run()
            } catch {
                Issue.record("server loop failed: \(error)")
            }
        }
    }

    /// Graceful stop; false if the loop did not end in time.
    func stop() -> Bool {
        server.requestShutdown()
        return thread.join(timeoutMilliseconds: 5000)
    }
}

/// A blocking TCP client whose reads give up after `timeoutMilliseconds`.
private final class Client {
    let fd: Int32

    init(port: Int, timeoutMilliseconds: Int = 8000) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        var timeout = timeval(tv_sec: timeoutMilliseconds / 1000, tv_usec: (timeoutMilliseconds % 1000) * 1000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(rc == 0, "connect: errno \(errno)")
    }

    deinit { close(fd) }

    func send(_ text: String) {
        let bytes = Array(text.utf8)
        #expect(bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count)
    }

    func shutdownWrite() {
        _ = Glibc.shutdown(fd, Int32(SHUT_WR))
    }

    /// Reads until `count` responses of the static responder are complete.
    func readResponses(_ count: Int) -> String {
        var text = ""
        while text.ranges(of: "hi\n").count < count {
            guard let more = readSome(), !more.isEmpty else { break }
            text += more
        }
        return text
    }

    /// One recv: nil on time-out or error, "" at EOF.
    func readSome() -> String? {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return n < 0 ? nil : String(decoding: buffer[0..<n], as: UTF8.self)
    }

    /// Milliseconds until the server closes, reading and discarding; nil if it did not.
    func millisecondsUntilEOF() -> Int64? {
        let start = monotonicNow()
        while let more = readSome() {
            if more.isEmpty { return monotonicNow() - start }
        }
        return nil
    }
}

@Suite(.serialized)
struct ConnectionTests {
    @Test func keepAliveConnectionServesRequestsInTurn() throws {
        let server = try LoopbackServer()
        let client = try Client(port: server.port)
        for _ in 0..<3 {
            client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            let response = client.readResponses(1)
            #expect(response.hasPrefix("HTTP/1.1 200 OK\r\n"))
            #expect(response.hasSuffix("\r\n\r\nhi\n"))
        }
        #expect(server.stop())
    }

    /// A request and the client's FIN arriving together raise one edge: the EOF behind the
    /// request has to be read then, or the client waits out the idle time-out (5 s here).
    @Test func clientThatHalfClosesAfterAKeepAliveRequestIsAnsweredAndClosedAtOnce() throws {
        let server = try LoopbackServer(idleTimeout: 5)
        let client = try Client(port: server.port)
        client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(client.readResponses(1).hasPrefix("HTTP/1.1 200 OK\r\n"))

        client.send("GET /last HTTP/1.1\r\nHost: x\r\n\r\n")
        client.shutdownWrite()
        #expect(client.readResponses(1).hasPrefix("HTTP/1.1 200 OK\r\n"))
        let closedAfter = client.millisecondsUntilEOF()
        #expect(closedAfter != nil)
        #expect((closedAfter ?? .max) < 1000, "closed after \(closedAfter.map(String.init) ?? "never") ms")
        #expect(server.stop())
    }
}
