import Reactor
import WSGIServer
#if canImport(Glibc)
import Glibc
#endif

struct SettingsError: Error {
    let message: String
}

/// The command line and environment resolved into a configuration: flag, then env var, then
/// default. Every value is validated here, so a bad one is one FATAL line before anything runs.
struct Settings {
    var server = ServerConfiguration()
    var logLevel: LogLevel = .info
    var staticResponse = false
    var application: [String] = []
    var poller = BackendChoice.platformDefault
    /// nil: no access log; "-": stdout; else a file appended to.
    var accessLog: String?
    var accessLogFormat = AccessLogFormat.combined
    /// Said once the log level is set.
    var warnings: [String] = []

    init(_ command: YimmoCommand) throws(SettingsError) {
        application = command.application
        guard application.count <= 2 else {
            throw SettingsError(message: "expected MODULE APP or MODULE:APP, got \(application.count) arguments")
        }
        server.host = Self.pick(command.host, "YIMMO_WSGI_HOST") ?? server.host
        server.port = try Self.number(command.port, "YIMMO_WSGI_PORT", "--port", server.port, 0...65535)
        if let name = Self.pick(command.logLevel, "YIMMO_LOG_LEVEL") {
            guard let level = LogLevel(name: name) else {
                throw SettingsError(message: "unknown log level '\(name)' (use FATAL, ERROR, WARNING, NOTICE, INFO, DEBUG or TRACE)")
            }
            logLevel = level
        }
        server.threads = try Self.number(command.threads, "YIMMO_WSGI_NO_THREADS", "--threads", server.threads, 1...1024)
        server.idleTimeout = try Self.seconds(command.idleTimeout, "YIMMO_SERVER_IDLE_TIMEOUT", "--idle-timeout", server.idleTimeout)
        server.headerTimeout = try Self.seconds(command.headerTimeout, "YIMMO_WSGI_HEADER_TIMEOUT", "--header-timeout", server.headerTimeout)
        server.bodyTimeout = try Self.seconds(command.bodyTimeout, "YIMMO_WSGI_BODY_TIMEOUT", "--body-timeout", server.bodyTimeout)
        server.writeTimeout = try Self.seconds(command.writeTimeout, "YIMMO_WSGI_WRITE_TIMEOUT", "--write-timeout", server.writeTimeout)
        server.gracefulTimeout = try Self.seconds(command.gracefulTimeout, "YIMMO_WSGI_GRACEFUL_TIMEOUT", "--graceful-timeout", server.gracefulTimeout)
        if Self.pick(command.maxBody, "YIMMO_WSGI_MAX_BODY") != nil {
            server.maxBody = try Self.number(command.maxBody, "YIMMO_WSGI_MAX_BODY", "--max-body", 0, 0...Int.max)
        }
        server.maxConnections = try Self.number(command.maxConnections, "YIMMO_WSGI_MAX_CONNECTIONS", "--max-connections", server.maxConnections, 1...1_000_000)
        server.backlog = try Self.number(command.backlog, "YIMMO_WSGI_BACKLOG", "--backlog", server.backlog, 1...65535)
        server.parserLimits.requestLine = try Self.number(command.limitRequestLine, "YIMMO_WSGI_LIMIT_REQUEST_LINE", "--limit-request-line", server.parserLimits.requestLine, 64...1_048_576)
        server.parserLimits.headerCount = try Self.number(command.limitRequestFields, "YIMMO_WSGI_LIMIT_REQUEST_FIELDS", "--limit-request-fields", server.parserLimits.headerCount, 1...10_000)
        server.parserLimits.fieldLength = try Self.number(command.limitRequestFieldSize, "YIMMO_WSGI_LIMIT_REQUEST_FIELD_SIZE", "--limit-request-field-size", server.parserLimits.fieldLength, 64...1_048_576)
        if let name = Self.pick(command.poller, "YIMMO_WSGI_POLLER") {
            guard let choice = BackendChoice(rawValue: name.lowercased()) else {
                throw SettingsError(message: "unknown poller '\(name)' (use epoll, select or kqueue)")
            }
            guard choice.isAvailable else {
                throw SettingsError(message: "poller '\(name)' is not available on this platform")
            }
            poller = choice
        } else if Self.flag("YIMMO_WSGI_USE_KQUEUE") {
            if BackendChoice.kqueue.isAvailable {
                poller = .kqueue
            } else {
                warnings.append("YIMMO_WSGI_USE_KQUEUE=1: kqueue is not available on this platform; using \(poller.rawValue)")
            }
        }
        if poller == .select {
            // select() cannot watch descriptors at or above FD_SETSIZE; keep clear of it.
            let ceiling = SelectBackend.descriptorLimit - 64
            if Self.pick(command.maxConnections, "YIMMO_WSGI_MAX_CONNECTIONS") == nil {
                server.maxConnections = min(server.maxConnections, ceiling)
            } else if server.maxConnections > ceiling {
                warnings.append("--max-connections \(server.maxConnections) exceeds what select() can watch (FD_SETSIZE \(SelectBackend.descriptorLimit)); connections past it are refused")
            }
        }
        staticResponse = command.staticResponse || Self.flag("YIMMO_WSGI_STATIC_RESPONSE")
        try resolveProcesses(command)
        try operationalSettings(command)
    }

    /// Proxy trust, the access log and the metrics endpoint.
    private mutating func operationalSettings(_ command: YimmoCommand) throws(SettingsError) {
        if let list = Self.pick(command.forwardedAllowIps, "YIMMO_WSGI_FORWARDED_ALLOW_IPS") {
            do {
                server.forwardedAllowIPs = try ForwardedAllowList(parsing: list)
            } catch {
                throw SettingsError(message: "invalid \(Self.source(command.forwardedAllowIps, "YIMMO_WSGI_FORWARDED_ALLOW_IPS", "--forwarded-allow-ips")) entry '\(error.entry)': expected an IPv4/IPv6 address, a CIDR block or '*'")
            }
        }
        accessLog = Self.pick(command.accessLog, "YIMMO_WSGI_ACCESS_LOG")
        if let name = Self.pick(command.accessLogFormat, "YIMMO_WSGI_ACCESS_LOG_FORMAT") {
            guard let format = AccessLogFormat(rawValue: name.lowercased()) else {
                throw SettingsError(message: "unknown access log format '\(name)' (use common, combined or json)")
            }
            accessLogFormat = format
        }
        if let text = Self.pick(command.metricsBind, "YIMMO_WSGI_METRICS_BIND") {
            let option = Self.source(command.metricsBind, "YIMMO_WSGI_METRICS_BIND", "--metrics-bind")
            let spec = try? BindSpec.parse(text)
            guard case .tcp? = spec else {
                throw SettingsError(message: "invalid \(option) '\(text)': expected HOST:PORT or [IPV6]:PORT, the port in 0...65535")
            }
            server.metricsBind = spec
        }
    }

    private static func pick(_ flag: String?, _ env: String) -> String? {
        if let flag { return flag }
        guard let raw = getenv(env) else { return nil }
        let value = String(decoding: UnsafeRawBufferPointer(start: raw, count: strlen(raw)), as: UTF8.self)
        return value.isEmpty ? nil : value
    }

    private static func flag(_ env: String) -> Bool {
        guard let value = pick(nil, env) else { return false }
        return ["1", "true", "yes", "on"].contains(value.lowercased())
    }

    /// An on/off environment variable that must say which: a typo is an error, not "off".
    private static func switchValue(_ env: String) throws(SettingsError) -> Bool {
        guard let value = pick(nil, env) else { return false }
        switch value.lowercased() {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw SettingsError(message: "invalid \(env) '\(value)': expected 1 or 0")
        }
    }

    private static func source(_ flag: String?, _ env: String, _ option: String) -> String {
        flag != nil ? option : env
    }

    private static func number(_ flag: String?, _ env: String, _ option: String, _ fallback: Int,
                               _ range: ClosedRange<Int>) throws(SettingsError) -> Int {
        guard let text = pick(flag, env) else { return fallback }
        guard let value = Int(text), range.contains(value) else {
            throw SettingsError(message: "invalid \(source(flag, env, option)) '\(text)': expected a whole number in \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    private static func seconds(_ flag: String?, _ env: String, _ option: String, _ fallback: Double) throws(SettingsError) -> Double {
        guard let text = pick(flag, env) else { return fallback }
        guard let value = Double(text), value > 0, value <= 86_400 else {
            throw SettingsError(message: "invalid \(source(flag, env, option)) '\(text)': expected seconds, more than 0")
        }
        return value
    }
}

// MARK: Processes and lifecycle

extension Settings {
    /// --processes, --bind, --pid, --max-requests(-jitter), --timeout, --reload.
    private mutating func resolveProcesses(_ command: YimmoCommand) throws(SettingsError) {
        server.processes = try Self.number(command.processes, "YIMMO_WSGI_NO_PROC", "--processes", server.processes, 1...1024)
        server.maxRequests = try Self.number(command.maxRequests, "YIMMO_WSGI_MAX_REQUESTS", "--max-requests", 0, 0...Int.max)
        server.maxRequestsJitter = try Self.number(command.maxRequestsJitter, "YIMMO_WSGI_MAX_REQUESTS_JITTER", "--max-requests-jitter", 0, 0...Int.max)
        if let text = Self.pick(command.timeout, "YIMMO_WSGI_TIMEOUT") {
            guard let value = Double(text), value >= 0, value <= 86_400 else {
                throw SettingsError(message: "invalid \(Self.source(command.timeout, "YIMMO_WSGI_TIMEOUT", "--timeout")) '\(text)': expected seconds, 0 for off")
            }
            server.requestTimeout = value > 0 ? value : nil
        }
        if command.reload {
            server.reload = true
        } else {
            server.reload = try Self.switchValue("YIMMO_WSGI_RELOAD")
        }
        if let path = Self.pick(command.pid, "YIMMO_WSGI_PID_FILE") {
            server.pidFile = path
        }

        let fromEnv = command.bind.isEmpty
        let texts = fromEnv
            ? (Self.pick(nil, "YIMMO_WSGI_BIND")?.split(separator: ",").map { $0.trimmingSpaces() } ?? [])
            : command.bind
        for text in texts {
            do {
                server.binds.append(try BindSpec.parse(text))
            } catch {
                throw SettingsError(message: "invalid \(fromEnv ? "YIMMO_WSGI_BIND" : "--bind") \(error.message)")
            }
        }
        let hostOrPortGiven = Self.pick(command.host, "YIMMO_WSGI_HOST") != nil || Self.pick(command.port, "YIMMO_WSGI_PORT") != nil
        if server.binds.isEmpty {
            // Socket activation wins over the --host/--port defaults, not over explicit ones.
            if !hostOrPortGiven && BindSpec.socketActivationAvailable {
                server.binds = [.systemd]
            }
        } else if hostOrPortGiven {
            server.binds.append(.tcp(host: server.host, port: server.port))
        }
    }
}

private extension Substring {
    func trimmingSpaces() -> String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
