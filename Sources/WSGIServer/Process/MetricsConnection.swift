#if canImport(Glibc)
import Glibc
#endif
import Reactor

/// One client of the supervisor's metrics endpoint: it reads one request head (at most
/// `MetricsRequest.headLimit` bytes), writes one response with `Connection: close`, then
/// half-closes and reads until the client's EOF, so unread bytes cannot turn the close into a
/// reset that destroys the response. Non-blocking throughout: `MetricsServer` polls it and
/// closes it at `deadline` whatever it is doing.
final class MetricsConnection {
    enum Phase: Equatable {
        case reading, writing, lingering, done
    }

    let fd: Int32
    /// Monotonic milliseconds; past it the connection is closed.
    private(set) var deadline: Int64
    private(set) var phase = Phase.reading
    private var input: [UInt8] = []
    private var output: [UInt8] = []
    private var written = 0

    /// How long a client that got its response has to close its side.
    private static let lingerMilliseconds: Int64 = 1000

    init(fd: Int32, deadline: Int64) {
        self.fd = fd
        self.deadline = deadline
    }

    /// The poll(2) events it waits for in its phase.
    var events: Int16 {
        phase == .writing ? Int16(POLLOUT) : Int16(POLLIN)
    }

    /// Data or EOF arrived. `scrape` renders the metrics (called only for `GET /metrics`).
    func readable(scrape: () -> String) {
        var buffer = [UInt8](repeating: 0, count: 1024)
        while phase == .reading || phase == .lingering {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                if phase == .lingering { continue }
                input.append(contentsOf: buffer[0..<n])
                let request = MetricsRequest.route(input)
                if request != .incomplete {
                    respond(request, scrape: scrape)
                    return
                }
            } else if n < 0 && errno == EINTR {
                continue
            } else if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                return
            } else {
                // EOF before a complete head, EOF while lingering (the normal end), or an error.
                phase = .done
            }
        }
    }

    /// Room to write.
    func writable() {
        while written < output.count {
            let n = output.withUnsafeBytes { send(fd, $0.baseAddress! + written, $0.count - written, Int32(MSG_NOSIGNAL)) }
            if n >= 0 {
                written += n
            } else if errno == EINTR {
                continue
            } else if errno == EAGAIN || errno == EWOULDBLOCK {
                return
            } else {
                phase = .done
                return
            }
        }
        Glibc.shutdown(fd, Int32(SHUT_WR))
        output = []
        phase = .lingering
        deadline = min(deadline, monotonicMilliseconds() + Self.lingerMilliseconds)
    }

    func close() {
        closeDescriptor(fd)
        phase = .done
    }

    private func respond(_ request: MetricsRequest, scrape: () -> String) {
        input = []
        switch request {
        case .metrics(let head):
            let body = Array(scrape().utf8)
            output = Self.head(status: "200 OK", contentType: MetricsText.contentType, length: body.count)
            if !head { output += body }
        case .notFound:
            output = Self.page(status: "404 Not Found", text: "Not found: the metrics are at /metrics.\n")
        case .methodNotAllowed:
            output = Self.page(status: "405 Method Not Allowed", text: "Use GET or HEAD.\n", extra: "Allow: GET, HEAD\r\n")
        case .badRequest, .incomplete:
            output = Self.page(status: "400 Bad Request", text: "Bad request.\n")
        }
        phase = .writing
        writable()
    }

    private static func page(status: String, text: String, extra: String = "") -> [UInt8] {
        let body = Array(text.utf8)
        return head(status: status, contentType: "text/plain; charset=utf-8", length: body.count, extra: extra) + body
    }

    private static func head(status: String, contentType: String, length: Int, extra: String = "") -> [UInt8] {
        Array("HTTP/1.1 \(status)\r\nContent-Type: \(contentType)\r\nContent-Length: \(length)\r\n\(extra)Connection: close\r\n\r\n".utf8)
    }
}

@available(*, unavailable)
extension MetricsConnection: Sendable {}
