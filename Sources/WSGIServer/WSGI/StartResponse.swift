/// start_response and the write() callable it returns are C types (Sources/CPythonShim/request.c):
/// they validate the status and headers and keep them as latin-1 bytes, so committing the head
/// (`RequestContext.commitHead`) needs no Python. write() lands here with the GIL released.
enum StartResponse {
    /// 0 sent, -1 client gone, -2 the exchange refused the head.
    static func write(_ context: RequestContext, bytes: UnsafeRawPointer?, length: Int) -> Int32 {
        guard let exchange = context.exchange else { return -1 }
        do {
            try context.commitHead()
        } catch {
            return -2
        }
        // An empty write() commits the head (PEP 3333) but sends nothing: an empty chunk would
        // end a chunked body.
        guard length > 0 else { return 0 }
        var result = exchange.send(UnsafeRawBufferPointer(start: bytes, count: length), final: false)
        if result == .backpressure {
            result = exchange.waitForDrain()
        }
        if result == .closed {
            context.clientGone = true
            return -1
        }
        return 0
    }
}
