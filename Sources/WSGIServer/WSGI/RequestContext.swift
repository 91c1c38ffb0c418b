import CPythonShim

/// The Swift side of a worker's current request, handed to the C shim as an opaque pointer so
/// that wsgi.input, write() and the head commit reach the exchange. One per worker, reused.
/// Used only on its worker's thread.
final class RequestContext {
    /// The worker's YRequest (C): start_response's stored head lives there.
    let request: OpaquePointer
    private(set) var exchange: HTTPExchange?
    /// The head has been handed to the exchange.
    private(set) var headSent = false
    /// The exchange reported the client gone (a read or send failed).
    var clientGone = false
    /// A `send(final: true)` completed the response: the engine may already be reusing the
    /// exchange for the connection's next request, so nothing (not even finish()) may touch it.
    private(set) var finalSent = false

    init(request: OpaquePointer) {
        self.request = request
    }

    var pointer: UnsafeMutableRawPointer {
        Unmanaged.passUnretained(self).toOpaque()  // unretained: the worker owns the context for life
    }

    static func from(_ pointer: UnsafeMutableRawPointer?) -> RequestContext {
        Unmanaged<RequestContext>.fromOpaque(pointer!).takeUnretainedValue()  // see `pointer`
    }

    func begin(_ exchange: HTTPExchange) {
        self.exchange = exchange
        headSent = false
        clientGone = false
        finalSent = false
    }

    /// The exchange's send, remembering a final one.
    func send(_ bytes: UnsafeRawBufferPointer, final: Bool) -> SendResult {
        guard let exchange else { return .closed }
        if final { finalSent = true }
        return exchange.send(bytes, final: final)
    }

    /// The response was ended outside `send` (a file handed to the server thread): from now
    /// on the exchange may be reused by the connection and must not be touched.
    func markFinalSent() {
        finalSent = true
    }

    func end() {
        exchange = nil
    }

    /// Hands the head that start_response stored to the exchange; needs no GIL.
    /// `contentLength` is added when the server computed one (a file sent with sendfile).
    func commitHead(contentLength: Int? = nil) throws(ResponseHeadError) {
        guard let exchange, !headSent else { return }
        headSent = true
        var status: UnsafePointer<CChar>?
        var statusLength = 0
        YPy_RequestStatus(request, &status, &statusLength)
        try exchange.beginResponse(status: UnsafeRawBufferPointer(start: status, count: statusLength))
        for index in 0..<YPy_RequestHeaderCount(request) {
            var name: UnsafePointer<CChar>?
            var value: UnsafePointer<CChar>?
            var nameLength = 0
            var valueLength = 0
            YPy_RequestHeader(request, index, &name, &nameLength, &value, &valueLength)
            try exchange.addHeader(
                name: UnsafeRawBufferPointer(start: name, count: nameLength),
                value: UnsafeRawBufferPointer(start: value, count: valueLength))
        }
        if let contentLength {
            let name: StaticString = "Content-Length"
            let digits = Array(String(contentLength).utf8)
            // withUnsafeBytes only rethrows untyped errors; carry the typed one out in a Result.
            try digits.withUnsafeBytes { value in
                Result { () throws(ResponseHeadError) in
                    try exchange.addHeader(name: name.rawBytes, value: value)
                }
            }.get()
        }
    }
}
