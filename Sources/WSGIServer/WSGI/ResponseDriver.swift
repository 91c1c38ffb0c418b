import CPythonShim

#if canImport(Glibc)
import Glibc
#endif

/// Turns the application's return value into the response (PEP 3333) on a worker thread that
/// holds the GIL, releasing it around every exchange call that may block or write.
///
/// - The head goes out with the first non-empty body item (or at the end), so a generator that
///   calls start_response late works.
/// - A list or tuple of exactly one bytes item is sent with a Content-Length.
/// - A wsgi.file_wrapper over a regular file is sent with sendfile(2).
/// - The result's close() is called exactly once, whatever happened.
/// - Failures before the head went out become a 500; after it, the connection is aborted.
struct ResponseDriver {
    let context: RequestContext
    let exchange: HTTPExchange

    enum Completion {
        /// Call finish(), unless a final send already ended the response.
        case finish
        case abort
        /// A one-item body for `sendFinal` once the GIL is released, so a simple request takes
        /// the GIL once. `item` is a new reference to the bytes holding `data`: the worker drops
        /// it the next time it holds the GIL.
        case sendFinal(item: OpaquePointer, data: UnsafePointer<CChar>?, length: Int)
    }

    private enum Outcome {
        /// Everything the app produced so far was handed to the exchange.
        case complete
        case clientGone
        case failed(String, traceback: String?)
        /// A one-item list or tuple of bytes (a new reference), not sent yet.
        case single(OpaquePointer)
    }

    private var request: OpaquePointer { context.request }

    /// result: the app's return value (consumed), or nil when calling the app raised (or, with
    /// another `failure` message, when the request could not be set up).
    func run(_ result: OpaquePointer?, failure message: String = "the application raised") -> Completion {
        guard let result else {
            return complete(failure(message))
        }
        var outcome = body(result)
        if YPy_CloseResult(result) != 0 {
            let traceback = PythonException.take()
            if case .complete = outcome, !context.headSent {
                outcome = .failed("close() of the application's response raised", traceback: traceback)
            } else {
                log(.error, "close() of the application's response raised", traceback)
            }
        }
        YPy_DecRef(result)
        return complete(outcome)
    }

    private func body(_ result: OpaquePointer) -> Outcome {
        if let item = YPy_SingleBytesItem(result) {
            return sendSingle(item)
        }
        var fd: Int32 = -1
        var offset: Int64 = 0
        var remaining: Int64 = 0
        if YPy_FileWrapperRegularFile(result, &fd, &offset, &remaining) == 1 {
            return sendFile(fd: fd, offset: offset, remaining: remaining)
        }
        return stream(result)
    }

    private func sendSingle(_ item: OpaquePointer) -> Outcome {
        guard YPy_RequestStarted(request) != 0 else { return notStarted() }
        YPy_RequestMarkCommitted(request)
        YPy_IncRef(item)  // outlives the list: sent after the GIL is released
        return .single(item)
    }

    /// The one-item body, with the GIL released: commits the head and ends the response.
    func sendFinal(_ data: UnsafePointer<CChar>?, _ length: Int) -> Completion {
        switch send(data, length, final: true) {
        case .complete, .single: return .finish
        case .clientGone:
            log(.info, "client disconnected before the response was complete", nil)
            return .finish
        case .failed(let message, _):
            log(.error, message, nil)
            return context.headSent && exchange.isHeadCommitted ? .abort : internalServerError()
        }
    }

    /// `sendFinal` for a large body, lent instead of copied: `item` (the reference that keeps
    /// `data` alive) is handed to `releaser` once the server thread is done with it.
    func sendFinalLent(_ data: UnsafePointer<CChar>?, _ length: Int, item: OpaquePointer,
                       releaser: BodyReleaser) -> Completion {
        do {
            try context.commitHead()
        } catch {
            releaser.release(item)
            log(.error, "the exchange refused the response head (\(error))", nil)
            return context.headSent && exchange.isHeadCommitted ? .abort : internalServerError()
        }
        context.markFinalSent()
        if exchange.sendBorrowedFinal(UnsafeRawBufferPointer(start: data, count: length), token: item,
                                      releaser: releaser) == .closed {
            log(.info, "client disconnected before the response was complete", nil)
        }
        return .finish
    }

    private func stream(_ result: OpaquePointer) -> Outcome {
        guard let iterator = YPy_GetIter(result) else {
            return failure("the application's return value is not iterable")
        }
        defer { YPy_DecRef(iterator) }
        while true {
            var item: OpaquePointer?
            let status = YPy_IterNext(iterator, &item)
            guard status >= 0 else { return failure("the application raised while producing the body") }
            guard status == 1, let item else { return .complete }
            let outcome = sendItem(item)
            YPy_DecRef(item)
            guard case .complete = outcome else { return outcome }
        }
    }

    private func sendItem(_ item: OpaquePointer) -> Outcome {
        var data: UnsafePointer<CChar>?
        var length = 0
        guard YPy_BytesView(item, &data, &length) == 1 else {
            return .failed("the application produced \(typeName(item)) instead of bytes", traceback: nil)
        }
        guard length > 0 else { return .complete }  // empty items don't commit the head
        guard YPy_RequestStarted(request) != 0 else { return notStarted() }
        YPy_RequestMarkCommitted(request)
        if context.headSent && length <= Self.itemSentWithGIL {
            // Queuing a small item is a lock and a short copy, cheaper than handing the GIL
            // over and back (two atomic exchanges and a mutex each way); only a wait for the
            // client to drain releases it (see `send`).
            return send(data, length, final: false, holdingGIL: true)
        }
        return PythonRuntime.withoutGIL { send(data, length, final: false) }
    }

    /// Streamed items up to this size are queued without releasing the GIL.
    private static let itemSentWithGIL = 4096

    /// Sends the file from offset to its end, or as much as the app's Content-Length says.
    private func sendFile(fd: Int32, offset: Int64, remaining: Int64) -> Outcome {
        guard YPy_RequestStarted(request) != 0 else { return notStarted() }
        let declared = YPy_RequestContentLength(request)
        let count = declared >= 0 ? min(declared, remaining) : remaining
        YPy_RequestMarkCommitted(request)
        let outcome = PythonRuntime.withoutGIL { () -> Outcome in
            do {
                try context.commitHead(contentLength: declared >= 0 ? nil : Int(count))
            } catch {
                return .failed("the exchange refused the response head (\(error))", traceback: nil)
            }
            // The whole file is the rest of the response: the server thread sends a duplicate
            // of the descriptor on its own, and this worker moves on to its next request.
            // (A file shorter than its Content-Length must fail here, so it takes the wait.)
            if declared <= remaining, count > 0 {
                let duplicate = fcntl(fd, F_DUPFD_CLOEXEC, 0)
                if duplicate >= 0 {
                    context.markFinalSent()
                    if exchange.sendFileFinal(fd: duplicate, offset: Int(offset), count: Int(count)) == .closed {
                        context.clientGone = true
                        return .clientGone
                    }
                    return .complete
                }
            }
            if count > 0 && exchange.sendFile(fd: fd, offset: Int(offset), count: Int(count)) == .closed {
                context.clientGone = true
                return .clientGone
            }
            return .complete
        }
        if case .complete = outcome, declared > remaining {
            return .failed("Content-Length \(declared) exceeds the \(remaining) bytes left in the file", traceback: nil)
        }
        return outcome
    }

    /// Commits the head if needed and hands bytes to the exchange. Called without the GIL.
    private func send(_ data: UnsafePointer<CChar>?, _ length: Int, final: Bool, holdingGIL: Bool = false) -> Outcome {
        if !context.headSent {
            do {
                try context.commitHead()
            } catch {
                return .failed("the exchange refused the response head (\(error))", traceback: nil)
            }
        }
        var result = context.send(UnsafeRawBufferPointer(start: data, count: length), final: final)
        if result == .backpressure && !final {
            result = holdingGIL ? PythonRuntime.withoutGIL { exchange.waitForDrain() } : exchange.waitForDrain()
        }
        if result == .closed {
            context.clientGone = true
            return .clientGone
        }
        return .complete
    }

    private func complete(_ outcome: Outcome) -> Completion {
        switch outcome {
        case .single(let item):
            var data: UnsafePointer<CChar>?
            var length = 0
            _ = YPy_BytesView(item, &data, &length)
            return .sendFinal(item: item, data: data, length: length)
        case .complete:
            if context.headSent { return .finish }
            // Nothing non-empty was produced: the head still goes out, with an empty body.
            guard YPy_RequestStarted(request) != 0 else { return complete(notStarted()) }
            YPy_RequestMarkCommitted(request)
            let failure = PythonRuntime.withoutGIL { () -> String? in
                do {
                    try context.commitHead()
                    return nil
                } catch {
                    return "the exchange refused the response head (\(error))"
                }
            }
            return failure.map { complete(.failed($0, traceback: nil)) } ?? .finish
        case .clientGone:
            if let status = clientBodyErrorStatus() {
                log(.info, "the request body was refused (\(status)) before the response began", nil)
                return PythonRuntime.withoutGIL { errorResponse(status) }
            }
            log(.info, "client disconnected before the response was complete", nil)
            return .finish
        case .failed(let message, let traceback):
            if let status = clientBodyErrorStatus() {
                // The app failed on a body the client got wrong: answer for the client's error.
                log(.info, "\(message) after the request body was refused (\(status))", traceback)
                return PythonRuntime.withoutGIL { errorResponse(status) }
            }
            log(.error, message, traceback)
            if context.headSent || exchange.isHeadCommitted { return .abort }
            return PythonRuntime.withoutGIL { internalServerError() }
        }
    }

    private func notStarted() -> Outcome {
        .failed("the application did not call start_response() before returning its body", traceback: nil)
    }

    /// The pending exception as an outcome: a client that went away is not the app's fault.
    private func failure(_ message: String) -> Outcome {
        if context.clientGone && YPy_ErrIsOSError() != 0 {
            YPy_ErrClear()
            return .clientGone
        }
        return .failed(message, traceback: PythonException.take())
    }

    private func internalServerError() -> Completion {
        errorResponse(500)
    }

    /// The status of a bad request body (malformed chunked, over --max-body), if no response
    /// has begun: the connection closes after it anyway (the exchange was told to close).
    private func clientBodyErrorStatus() -> Int? {
        guard !context.headSent, !exchange.isHeadCommitted else { return nil }
        return exchange.clientBodyErrorStatus
    }

    /// A short plain-text error page: 400, 413 or 431 for a bad request body, else 500.
    /// Called without the GIL.
    private func errorResponse(_ status: Int) -> Completion {
        let line: StaticString
        let body: StaticString
        switch status {
        case 400: (line, body) = ("400 Bad Request", "Bad Request\n")
        case 413: (line, body) = ("413 Content Too Large", "Content Too Large\n")
        case 431: (line, body) = ("431 Request Header Fields Too Large", "Request Header Fields Too Large\n")
        default: (line, body) = ("500 Internal Server Error", "Internal Server Error\n")
        }
        let name: StaticString = "Content-Type"
        let value: StaticString = "text/plain; charset=utf-8"
        do {
            try exchange.beginResponse(status: line.rawBytes)
            try exchange.addHeader(name: name.rawBytes, value: value.rawBytes)
        } catch {
            return .abort
        }
        _ = context.send(body.rawBytes, final: true)
        return .finish
    }

    private func typeName(_ object: OpaquePointer) -> String {
        guard let name = YPy_TypeName(object) else { return "a non-bytes object" }
        defer { free(name) }
        return "'" + String(cString: name) + "'"
    }

    private func log(_ level: LogLevel, _ message: String, _ traceback: String?) {
        guard Log.isEnabled(level) else { return }
        let line = "\(requestLine()): \(message)"
        Log.write(level, traceback.map { line + "\n" + $0 } ?? line)
    }

    private func requestLine() -> String {
        guard !context.finalSent else { return "(finished request)" }  // the exchange may be reused
        let request = exchange.request
        return exchange.withHeadBytes { head in
            func text(_ range: Range<Int>) -> String {
                String(decoding: UnsafeRawBufferPointer(rebasing: head[range]), as: UTF8.self)
            }
            return text(request.method) + " " + text(request.target)
        }
    }
}

extension StaticString {
    var rawBytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: utf8Start, count: utf8CodeUnitCount)
    }
}
