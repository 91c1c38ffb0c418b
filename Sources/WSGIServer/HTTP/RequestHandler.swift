/// What answers requests: the internal responder now, the WSGI bridge later.
///
/// The HTTP engine calls `handle` on the server thread as soon as a request head has been parsed
/// and validated. The handler must not block there and must never touch Python on that thread;
/// it answers through the exchange, from any thread, and ends with `finish()` or `abort()`.
public protocol RequestHandler: AnyObject, Sendable {
    func handle(_ exchange: HTTPExchange)
    /// Like `handle`, but a handler with threads may hold back waking them until
    /// `wakeForQueued()`: the server calls that once after each batch of events, so a batch of
    /// requests costs one wake-up (and one context switch on a shared core), not one each.
    func enqueue(_ exchange: HTTPExchange)
    func wakeForQueued()
}

extension RequestHandler {
    public func enqueue(_ exchange: HTTPExchange) { handle(exchange) }
    public func wakeForQueued() {}
}

/// Facts about one accepted connection that a handler reports in its environment.
public final class ConnectionInfo: Sendable {
    public let remoteAddress: String
    public let remotePort: Int
    public let serverName: String
    public let serverPort: Int
    public let urlScheme: String
    /// The peer is in `--forwarded-allow-ips`: its proxy headers are read (decided at accept).
    public let trustsForwarded: Bool

    public init(remoteAddress: String, remotePort: Int, serverName: String, serverPort: Int, urlScheme: String = "http",
                trustsForwarded: Bool = false) {
        self.remoteAddress = remoteAddress
        self.remotePort = remotePort
        self.serverName = serverName
        self.serverPort = serverPort
        self.urlScheme = urlScheme
        self.trustsForwarded = trustsForwarded
    }
}

/// The outcome of handing response bytes to an exchange.
public enum SendResult: Sendable, Equatable {
    /// Accepted; keep going.
    case ok
    /// Accepted, but more than the high-water mark is queued: call `waitForDrain()` (off the
    /// server thread, with the GIL released) before sending more.
    case backpressure
    /// The client is gone or the connection failed: stop producing, clean up, call `finish()`.
    case closed
}
