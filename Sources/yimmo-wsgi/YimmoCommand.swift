import ArgumentParser
import Reactor
import WSGIServer
#if canImport(Glibc)
import Glibc
#endif

/// `yimmo-wsgi [MODULE APP | MODULE:APP]`. Every option also reads an environment variable;
/// a flag on the command line wins over the variable, the variable over the default.
struct YimmoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "yimmo-wsgi",
        abstract: "A WSGI (PEP 3333) server: Swift does the I/O, Python handles the requests.",
        discussion: """
            Serves MODULE.APP, given as `MODULE APP` or `MODULE:APP` (also `MODULE:factory()`).
            With no application it serves a built-in demo page.
            PYTHONPATH and the current directory are on sys.path; an active VIRTUAL_ENV is used.
            """,
        version: YimmoVersion.string)

    @Argument(help: "The application: MODULE APP, or MODULE:APP. Omit for the built-in demo.")
    var application: [String] = []

    @Option(help: "Address to listen on. (env: YIMMO_WSGI_HOST, default: 0.0.0.0)")
    var host: String?

    @Option(help: "TCP port to listen on. (env: YIMMO_WSGI_PORT, default: 8081)")
    var port: String?

    @Option(help: "FATAL, ERROR, WARNING, NOTICE, INFO, DEBUG or TRACE. (env: YIMMO_LOG_LEVEL, default: INFO)")
    var logLevel: String?

    @Option(help: "Worker threads that run Python, per process. (env: YIMMO_WSGI_NO_THREADS, default: 1)")
    var threads: String?

    @Option(help: "Seconds an idle keep-alive connection is kept. (env: YIMMO_SERVER_IDLE_TIMEOUT, default: 5)")
    var idleTimeout: String?

    @Option(help: "Seconds a client has to send a complete request head. (env: YIMMO_WSGI_HEADER_TIMEOUT, default: 10)")
    var headerTimeout: String?

    @Option(help: "Seconds a request body may stall. (env: YIMMO_WSGI_BODY_TIMEOUT, default: 30)")
    var bodyTimeout: String?

    @Option(help: "Seconds a response may stall on a client that stopped reading. (env: YIMMO_WSGI_WRITE_TIMEOUT, default: 30)")
    var writeTimeout: String?

    @Option(help: "Seconds in-flight requests get after SIGTERM/SIGINT. (env: YIMMO_WSGI_GRACEFUL_TIMEOUT, default: 30)")
    var gracefulTimeout: String?

    @Option(help: "Largest request body in bytes, larger ones get 413. (env: YIMMO_WSGI_MAX_BODY, default: unlimited)")
    var maxBody: String?

    @Option(help: "Open connections per process before accepting pauses. (env: YIMMO_WSGI_MAX_CONNECTIONS, default: 10000)")
    var maxConnections: String?

    @Option(help: "Listen backlog. (env: YIMMO_WSGI_BACKLOG, default: 1024)")
    var backlog: String?

    @Option(help: "Longest request line in bytes (414 past it). (env: YIMMO_WSGI_LIMIT_REQUEST_LINE, default: 8190)")
    var limitRequestLine: String?

    @Option(help: "Most header fields in a request (431 past it). (env: YIMMO_WSGI_LIMIT_REQUEST_FIELDS, default: 100)")
    var limitRequestFields: String?

    @Option(help: "Longest header field line in bytes (431 past it). (env: YIMMO_WSGI_LIMIT_REQUEST_FIELD_SIZE, default: 8190)")
    var limitRequestFieldSize: String?

    @Option(help: "Readiness backend: epoll, select or kqueue. (env: YIMMO_WSGI_POLLER, default: epoll on Linux, kqueue on BSD-likes; YIMMO_WSGI_USE_KQUEUE=1 asks for kqueue)")
    var poller: String?

    @Option(help: "Peers whose X-Forwarded-For/-Proto/-Host and Forwarded headers are trusted: comma-separated IPs or CIDRs, '*' for all. (env: YIMMO_WSGI_FORWARDED_ALLOW_IPS, default: 127.0.0.1)")
    var forwardedAllowIps: String?

    @Option(help: "Write an access log line per request to PATH, or '-' for stdout. (env: YIMMO_WSGI_ACCESS_LOG, default: off)")
    var accessLog: String?

    @Option(help: "Access log format: common, combined or json. (env: YIMMO_WSGI_ACCESS_LOG_FORMAT, default: combined)")
    var accessLogFormat: String?

    @Option(help: ArgumentHelp("Serve Prometheus metrics on http://HOST:PORT/metrics from the supervisor (all workers summed). (env: YIMMO_WSGI_METRICS_BIND, default: off)", valueName: "host:port"))
    var metricsBind: String?

    @Flag(help: "Serve a fixed page without Python, to measure the I/O path. (env: YIMMO_WSGI_STATIC_RESPONSE=1)")
    var staticResponse = false

    // Processes and lifecycle (Sources/WSGIServer/Process).

    @Option(help: "Worker processes, each with its own server thread and worker threads. (env: YIMMO_WSGI_NO_PROC, default: 1)")
    var processes: String?

    @Option(help: ArgumentHelp("Address to listen on; repeat for several: HOST:PORT, [IPV6]:PORT, unix:PATH[:MODE], fd://N, systemd. With --bind, --host/--port add an address only if given. (env: YIMMO_WSGI_BIND, comma-separated; default: --host:--port, or the systemd sockets when socket-activated)", valueName: "address"))
    var bind: [String] = []

    @Option(help: ArgumentHelp("Write the supervisor's pid to this file. (env: YIMMO_WSGI_PID_FILE, default: none)", valueName: "file"))
    var pid: String?

    @Option(help: "Requests a worker serves before it is replaced gracefully; 0 is no limit. (env: YIMMO_WSGI_MAX_REQUESTS, default: 0)")
    var maxRequests: String?

    @Option(help: "Up to this many requests added to --max-requests at random per worker. (env: YIMMO_WSGI_MAX_REQUESTS_JITTER, default: 0)")
    var maxRequestsJitter: String?

    @Option(help: "Seconds a request may run before its worker is killed and replaced; 0 is off. (env: YIMMO_WSGI_TIMEOUT, default: off)")
    var timeout: String?

    @Flag(help: "Development only: restart the workers when a .py file in the application's directory changes. (env: YIMMO_WSGI_RELOAD=1)")
    var reload = false

    func run() throws {
        SignalWatcher.blockSignals()
        let settings: Settings
        do {
            settings = try Settings(self)
        } catch {
            fatal(error.message, status: 2)
        }
        for warning in settings.warnings { Log.warning(warning) }
        if !Log.setLevel(settings.logLevel) {
            Log.warning("log level \(settings.logLevel) is compiled out of this build; using \(LogLevel.mostVerboseCompiledIn) (build with YIMMO_VERBOSE_LOG=1 for DEBUG and TRACE)")
        }
        // Opened before the fork: every worker appends to the same file (or stdout).
        var accessLog: AccessLog?
        if let path = settings.accessLog {
            do {
                accessLog = try AccessLog(path: path, format: settings.accessLogFormat)
            } catch {
                fatal("cannot open the access log \(path): \(error)", status: 1)
            }
        }
        // The supervisor binds, then forks the workers; no thread and no interpreter may exist
        // before this point (see Supervisor). Each worker loads the application itself.
        let supervisor: Supervisor
        do {
            supervisor = try Supervisor(configuration: settings.server)
        } catch {
            fatal(error.message, status: 1)
        }
        Log.notice("yimmo-wsgi \(YimmoVersion.string) listening on \(supervisor.addresses) (pid \(getpid()))")
        Log.notice("readiness backend: \(settings.poller.rawValue)")
        if settings.server.reload {
            supervisor.sourceWatcher = SourceWatcher.forApplication(settings.application, staticResponse: settings.staticResponse)
        }
        let wsgi = wsgiConfiguration(settings, listening: supervisor.addresses)
        supervisor.run { context in
            runWorker(settings: settings, wsgi: wsgi, accessLog: accessLog, context: context)
        }
    }

    private func wsgiConfiguration(_ settings: Settings, listening: String) -> WSGIConfiguration {
        // SCRIPT_NAME from the environment sets the mount point, as gunicorn does.
        let scriptName = getenv("SCRIPT_NAME").map { String(cString: $0) } ?? ""
        return WSGIConfiguration(
            threads: settings.server.threads,
            scriptName: scriptName,
            multiprocess: settings.server.processes > 1,
            serverVersion: "yimmo-wsgi \(YimmoVersion.string)",
            summary: [
                ("Application", settings.application.isEmpty ? "(built-in demo)" : settings.application.joined(separator: " ")),
                ("Listening on", listening),
                ("Worker threads", String(settings.server.threads)),
                ("Processes", String(settings.server.processes)),
                ("SCRIPT_NAME", scriptName),
                ("Readiness backend", settings.poller.rawValue),
            ])
    }

    private func fatal(_ message: String, status: Int32) -> Never {
        Log.fatal(message)
        Glibc.exit(status)
    }
}
