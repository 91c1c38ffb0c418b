/// wsgi.input's source: the C reader (Sources/CPythonShim/input.c) buffers and parses lines; it
/// calls here, with the GIL released, for each read from the exchange. The exchange sends
/// `100 Continue` on the first read, so a client waiting for it sends the body only when the
/// app asks for it.
enum WSGIInput {
    /// >0 bytes read, 0 at the end of the body, -1 when the client is gone or the body failed.
    static func read(_ context: RequestContext, into buffer: UnsafeMutableRawPointer?, capacity: Int) -> Int {
        guard let exchange = context.exchange, let buffer else { return -1 }
        let count = exchange.readBody(into: UnsafeMutableRawBufferPointer(start: buffer, count: capacity))
        if count < 0 { context.clientGone = true }
        return count
    }
}
