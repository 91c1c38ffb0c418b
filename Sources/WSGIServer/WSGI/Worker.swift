import CPythonShim

/// One worker thread: the only kind of thread that runs Python. It owns one thread state for
/// its life (PyGILState_Ensure once, then Save/Restore per request: tens of nanoseconds, where a
/// fresh thread state per request costs an mmap/munmap pair) and reuses its request objects.
final class Worker: @unchecked Sendable {  // touched only by its own thread once started
    let index: Int
    private let application: OpaquePointer
    private let queue: ExchangeQueue
    private let configuration: WSGIConfiguration
    private let releases: PythonReleaseQueue

    /// A body at least this large is written from the app's `bytes` rather than a copy: below
    /// it the copy costs less than handing the object back to a worker to release.
    static let lendThreshold = 32 * 1024

    /// application: borrowed; the WSGIApplication keeps it alive for the process's life.
    init(index: Int, application: OpaquePointer, queue: ExchangeQueue, releases: PythonReleaseQueue,
         configuration: WSGIConfiguration) {
        self.index = index
        self.releases = releases
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
        var retainedBody: OpaquePointer?
        var saved = YPy_SaveThread()
        while true {
            if releases.hasPending {
                // Bodies the server thread finished sending: free them before sleeping.
                YPy_RestoreThread(saved)
                releases.drainHoldingGIL()
                saved = YPy_SaveThread()
            }
            guard let exchange = queue.pop() else { break }
            YPy_RestoreThread(saved)
            if let body = retainedBody {
                YPy_DecRef(body)
                retainedBody = nil
            }
            releases.drainHoldingGIL()
            context.begin(exchange)
            let driver = ResponseDriver(context: context, exchange: exchange)
            var completion = serve(exchange, context: context, driver: driver, environ: &environ)
            saved = YPy_SaveThread()
            if case .sendFinal(let item, let data, let length) = completion {
                if length >= Self.lendThreshold {
                    // Lent, not copied: the reference goes with the body to the server thread.
                    completion = driver.sendFinalLent(data, length, item: item, releaser: releases)
                } else {
                    retainedBody = item
                    completion = driver.sendFinal(data, length)
                }
            }
            switch completion {
            case .finish where context.finalSent, .sendFinal: break  // the exchange may already be reused
            case .finish: exchange.finish()
            case .abort: exchange.abort()
            }
            context.end()
        }
        YPy_RestoreThread(saved)
        if let body = retainedBody { YPy_DecRef(body) }
        releases.drainHoldingGIL()
        YPy_EndThreadState(YPy_SaveThread())
    }

    /// One request up to the response's last GIL-bound step; GIL held.
    private func serve(_ exchange: HTTPExchange, context: RequestContext, driver: ResponseDriver,
                       environ: inout Environ) -> ResponseDriver.Completion
    {
        let contentLength: Int64
        switch exchange.request.framing {
        case .none: contentLength = 0
        case .length(let length): contentLength = Int64(length)
        case .chunked: contentLength = -1
        }
        guard YPy_RequestBegin(context.request, context.pointer, contentLength) == 0 else {
            return driver.run(nil, failure: "cannot set up the request objects")
        }
        defer { YPy_RequestEnd(context.request) }
        guard let input = YPy_RequestInput(context.request),
            let environDict = environ.build(for: exchange, input: input)
        else {
            return driver.run(nil, failure: "cannot build the WSGI environ")
        }
        let result = YPy_CallApplication(application, environDict, YPy_RequestStartResponse(context.request))
        let completion = driver.run(result)
        YPy_DecRef(environDict)
        return completion
    }
}
