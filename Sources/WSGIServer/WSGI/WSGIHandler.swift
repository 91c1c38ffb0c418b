/// The RequestHandler that runs a WSGI application. `handle` runs on the server thread: it only
/// queues the exchange for the worker threads, which alone touch Python.
public final class WSGIHandler: RequestHandler {
    private let application: PythonApplication
    private let pool: WorkerPool

    init(application: PythonApplication, configuration: WSGIConfiguration) {
        self.application = application
        pool = WorkerPool(application: application.object, configuration: configuration)
    }

    public func handle(_ exchange: HTTPExchange) {
        if !pool.submit(exchange) {
            Self.refuse(exchange)
        }
    }

    /// `--metrics-bind`: requests waiting for a worker thread are published in `slot`.
    func publishQueueDepth(to slot: ScoreboardSlot) {
        pool.publishQueueDepth(to: slot)
    }

    public func enqueue(_ exchange: HTTPExchange) {
        if !pool.submit(exchange, wake: false) {
            Self.refuse(exchange)
        }
    }

    public func wakeForQueued() {
        pool.wakeForQueued()
    }

    /// Stops taking requests, lets the workers finish the queued ones, and joins them.
    public func shutdown() {
        pool.shutdown()
    }

    /// After shutdown: 503, sent from the server thread without touching Python.
    private static func refuse(_ exchange: HTTPExchange) {
        let status: StaticString = "503 Service Unavailable"
        do {
            try exchange.beginResponse(status: status.rawBytes)
        } catch {
            exchange.abort()
            return
        }
        exchange.finish()
    }
}
