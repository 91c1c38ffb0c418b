import CPythonShim

/// One worker thread: the only kind of thread that runs Python. It owns one thread state for
/// its life (PyGILState_Ensure once, then Save/Restore per request: tens of nanoseconds, where a
/// fresh thread state per request costs an mmap/munmap pair) and reuses its request objects.
final class Worker: @unchecked Sendable {  // touched only by its own thread once started
    let index: Int
    private let application: OpaquePointer
    private let queue: ExchangeQueue
    private let configuration: WSGIConfiguration

    /// application: borrowed; the WSGIApplication keeps it alive for the process's life.
    init(index: Int, application: OpaquePointer, queue: ExchangeQueue, configuration: WSGIConfiguration) {
        self.index = index
        self.application = application
        self.queue = queue
        self.configuration = configuration
    }

    /// The thread's body: serves exchanges until the queue is closed and drained.
    func run() {
        YThread_SetName("yimmo-worker-\(index)")
        _ = YPy_NewThreadState()  // returned holding the GIL; SaveThread hands the state back
        guard let request = YPy_RequestNew(),
            let base = YPy_EnvironBase(
                request, configuration.scriptName, configuration.scriptName.utf8.count,
                configuration.threads > 1 ? 1 : 0, configuration.multiprocess ? 1 : 0)
        else {
            // Only memory exhaustion gets here; a worker that cannot serve must not take requests.
            Log.error("worker \(index) cannot start:\n" + PythonException.take())
            YPy_EndThreadState(YPy_SaveThread())
            return
        }
        let context = RequestContext(request: request)
        var environ = Environ(base: base, scriptName: configuration.scriptName)
        var saved = YPy_SaveThread()
        while let exchange = queue.pop() {
            YPy_RestoreThread(saved)
            let completion = serve(exchange, context: context, environ: &environ)
            saved = YPy_SaveThread()
            switch completion {
            case .finish where context.finalSent: break  // the exchange may already be reused
            case .finish: exchange.finish()
            case .abort: exchange.abort()
            }
        }
        YPy_EndThreadState(saved)
    }

    /// One request, GIL held.
    private func serve(_ exchange: HTTPExchange, context: RequestContext, environ: inout Environ)
        -> ResponseDriver.Completion
    {
        context.begin(exchange)
        defer { context.end() }
        let contentLength: Int64
        switch exchange.request.framing {
        case .none: contentLength = 0
        case .length(let length): contentLength = Int64(length)
        case .chunked: contentLength = -1
        }
        let driver = ResponseDriver(context: context, exchange: exchange)
        guard YPy_RequestBegin(context.request, context.pointer, contentLength) == 0 else {
            return driver.run(nil)
        }
        defer { YPy_RequestEnd(context.request) }
        guard let input = YPy_RequestInput(context.request),
            let environDict = environ.build(for: exchange, input: input)
        else {
            return driver.run(nil)
        }
        let result = YPy_CallApplication(application, environDict, YPy_RequestStartResponse(context.request))
        let completion = driver.run(result)
        YPy_DecRef(environDict)
        return completion
    }
}
