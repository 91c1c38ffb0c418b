/// Everything the server needs to run, resolved from flags, env vars and defaults by the CLI.
public struct ServerConfiguration: Sendable {
    public var host = "0.0.0.0"
    public var port = 8081
    /// Seconds a keep-alive connection may sit idle between requests.
    public var idleTimeout = 5.0
    /// Seconds a client has to deliver a complete request head (slowloris defence).
    public var headerTimeout = 10.0
    /// Seconds the request body may stall without a byte arriving.
    public var bodyTimeout = 30.0
    /// Seconds a response may stall because the client stopped reading.
    public var writeTimeout = 30.0
    /// Largest accepted request body in bytes; nil means unlimited.
    public var maxBody: Int?
    public var maxConnections = 10_000
    public var backlog = 1024
    public var parserLimits = ParserLimits()
    /// Worker threads that run Python, per process.
    public var threads = 1
    public var processes = 1
    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT.
    public var gracefulTimeout = 30.0
    /// Peers whose X-Forwarded-* / Forwarded headers set REMOTE_ADDR, the scheme and the host.
    public var forwardedAllowIPs = ForwardedAllowList.loopback
    /// Where to listen; empty means `host:port`. Opened by the supervisor, shared by the workers.
    public var binds: [BindSpec] = []
    /// The supervisor's pid file, if any.
    public var pidFile: String?
    /// Requests a worker serves before it is replaced gracefully; 0: no limit.
    public var maxRequests = 0
    /// Up to this many requests added to `maxRequests`, at random per worker, so workers do not
    /// all recycle at once.
    public var maxRequestsJitter = 0
    /// Seconds a request may run before its worker is killed and replaced; nil: no limit.
    public var requestTimeout: Double?
    /// `--metrics-bind`: where the supervisor serves Prometheus metrics (a `.tcp` address);
    /// nil: off.
    public var metricsBind: BindSpec?
    /// Development: reload when a `*.py` file in the application's directory changes.
    public var reload = false

    public init() {}
}
