#if canImport(Glibc)
import Glibc
#endif
import CEpollShim
import Reactor

/// The server thread's top object: the listening socket, the connection table and the loop.
public final class HTTPServer: EventHandler, TimerTarget, LoopTask, @unchecked Sendable {
    // @unchecked Sendable: loop-thread state only, except `requestShutdown`, which posts to the loop.

    public let loop: EventLoop
    public let configuration: ServerConfiguration
    let handler: RequestHandler
    private var listenFD: Int32 = -1
    public private(set) var port = 0
    private var connections: [Connection?] = []
    public private(set) var connectionCount = 0
    public private(set) var requestsInFlight = 0
    private var acceptReady = true
    private var stopping = false
    private let shutdownTimer = Timer()
    private var shutdownPosted = false
    /// Set before `run()`; nil means no access log.
    public var accessLog: AccessLog? {
        didSet { accessLog?.attach(to: loop) }
    }

    public init(configuration: ServerConfiguration, handler: RequestHandler, backend: any ReadinessBackend) throws(SyscallError) {
        self.configuration = configuration
        self.handler = handler
        loop = try EventLoop(backend: backend)
        shutdownTimer.target = self
    }

    /// Binds and listens; returns the bound port (useful with port 0).
    @discardableResult
    public func bind(reusePort: Bool = false) throws(SyscallError) -> Int {
        let (fd, bound) = try SocketAddress.listen(
            host: configuration.host, port: configuration.port, backlog: configuration.backlog, reusePort: reusePort)
        listenFD = fd
        port = bound
        try loop.register(fd: fd, handler: self, interest: .readable)
        return bound
    }

    /// Runs the loop on the calling thread until a shutdown completes.
    public func run() throws(SyscallError) {
        defer { accessLog?.flush() }
        try loop.run()
    }

    /// Starts a graceful stop; safe from any thread (the signal watcher calls it).
    public func requestShutdown() {
        loop.post(self)
    }

    public func runOnLoop() {
        guard !stopping else { return }
        stopping = true
        if listenFD >= 0 {
            loop.deregister(fd: listenFD)
            closeDescriptor(listenFD)
            listenFD = -1
        }
        Log.notice("shutting down: \(connectionCount) connection(s), \(requestsInFlight) request(s) in flight")
        for connection in connections {
            connection?.shutdown()
        }
        if connectionCount == 0 {
            loop.stop()
        } else {
            loop.timers.arm(shutdownTimer, deadline: loop.now + Int64(configuration.gracefulTimeout * 1000))
        }
    }

    public func timerFired(_ timer: Timer) {
        Log.warning("graceful timeout: closing \(connectionCount) connection(s) still open")
        for connection in connections {
            connection?.forceClose()
        }
        loop.stop()
    }

    // MARK: Accepting

    public func handleEvents(_ events: IOEvents) {
        acceptReady = true
        acceptConnections()
    }

    private func acceptConnections() {
        while acceptReady && !stopping {
            if connectionCount >= configuration.maxConnections {
                // Leave the rest in the kernel's backlog until a connection closes.
                return
            }
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { CEpoll_accept4(listenFD, $0, &length) }
            }
            if fd < 0 {
                switch errno {
                case EINTR, ECONNABORTED, EPROTO:
                    continue
                case EAGAIN, EWOULDBLOCK:
                    acceptReady = false
                    loop.rearm(fd: listenFD, events: .readable)
                case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                    Log.error("accept4: \(String(cString: strerror(errno))); pausing accepts until a connection closes")
                    acceptReady = false
                    if connectionCount == 0 { acceptReady = true; return }
                default:
                    Log.error("accept4: \(String(cString: strerror(errno)))")
                    acceptReady = false
                }
                return
            }
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            let peer = SocketAddress.describe(&storage)
            let info = ConnectionInfo(
                remoteAddress: peer.host, remotePort: peer.port,
                serverName: configuration.host, serverPort: port,
                trustsForwarded: configuration.forwardedAllowIPs.contains(&storage))
            let connection = Connection(fd: fd, server: self, info: info)
            do {
                try loop.register(fd: fd, handler: connection, interest: [.readable, .writable])
            } catch {
                Log.error("registering a connection: \(error)")
                closeDescriptor(fd)
                continue
            }
            let index = Int(fd)
            if index >= connections.count {
                connections.append(contentsOf: repeatElement(nil, count: max(index + 1, connections.count * 2) - connections.count))
            }
            connections[index] = connection
            connectionCount += 1
            // Data usually arrives with the connection; read it now rather than wait for an edge.
            connection.handleEvents(.readable)
        }
    }

    func connectionClosed(_ connection: Connection) {
        let index = Int(connection.fd)
        if index < connections.count, connections[index] === connection {
            connections[index] = nil
            connectionCount -= 1
        }
        if stopping {
            if connectionCount == 0 { loop.stop() }
        } else if connectionCount < configuration.maxConnections && listenFD >= 0 {
            acceptReady = true
            acceptConnections()
        }
    }

    func requestStarted() { requestsInFlight += 1 }
    func requestFinished() { requestsInFlight -= 1 }
}
