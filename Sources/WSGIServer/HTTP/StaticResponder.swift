/// Answers every request with one fixed page, on the server thread, without Python. It measures
/// the I/O path on its own and serves until an application is loaded.
public final class StaticResponder: RequestHandler {
    private let status: [UInt8] = Array("200 OK".utf8)
    private let contentType: [UInt8] = Array("text/plain; charset=utf-8".utf8)
    private let contentTypeName: [UInt8] = Array("Content-Type".utf8)
    private let body: [UInt8]

    public init(body: String = "Hello, world!\n") {
        self.body = Array(body.utf8)
    }

    public func handle(_ exchange: HTTPExchange) {
        status.withUnsafeBytes { status in
            // The status and header are constants; they cannot fail validation.
            try? exchange.beginResponse(status: status)
        }
        contentTypeName.withUnsafeBytes { name in
            contentType.withUnsafeBytes { value in
                try? exchange.addHeader(name: name, value: value)
            }
        }
        _ = body.withUnsafeBytes { exchange.send($0, final: true) }
    }
}
