#if canImport(Glibc)
import Glibc
#endif
import CEpollShim
import Reactor

/// The server thread's top object: the listening sockets, the connection table and the loop.
public final class HTTPServer: TimerTarget, LoopTask, @unchecked Sendable {
    // @unchecked Sendable: loop-thread state only, except `requestShutdown`, which posts to the loop.

    public let loop: EventLoop
    public let configuration: ServerConfiguration
    let handler: RequestHandler
    private var acceptors: [Acceptor] = []
    /// The first TCP listener's port (useful with port 0); 0 when there is none.
    public private(set) var port = 0
    private var connections: [Connection?] = []
    /// Closed connections, for new sockets: a connection with its exchange (lock, condition
    /// variables, grown buffers), parser and timer cost more to create and free than to reset
    /// (callgrind: ~6k of 20k server-thread instructions per `Connection: close` request).
    private var connectionPool: [Connection] = []
    private static let connectionPoolLimit = 64
    /// Read buffers' first blocks, shared by the connections (server thread only).
    let readBlocks = ReadBlockCache()
    public private(set) var connectionCount = 0
    public private(set) var requestsInFlight = 0
    public private(set) var requestsStarted = 0
    private var stopping = false
    private let shutdownTimer = Timer()
    private let handOffWake: HandOffWake
    private var shutdownPosted = false
    /// Set before `run()`; nil means no access log.
    public var accessLog: AccessLog? {
        didSet { accessLog?.attach(to: loop) }
    }
    /// `--metrics-bind`: this worker's scoreboard slot, where the server thread keeps its
    /// response counters, duration histogram and gauges (plain stores, no lock, no system call);
    /// nil when metrics are off. Set before `run`.
    var metrics: ScoreboardSlot?

    /// `--max-requests` for this process (jitter already applied); 0: no limit. Set before `run`.
    public var maxRequests = 0
    /// Runs on the server thread when `maxRequests` is reached, just before the graceful stop.
    public var onRecycle: (() -> Void)?
    /// This worker's slot in the supervisor's scoreboard (requests served); nil when there is no
    /// supervisor. Set before `run`.
    var scoreboard: ScoreboardSlot?
    /// Also keep the oldest request in flight there, for the `--timeout` watchdog (a list
    /// append and a short copy per request; skipped when the watchdog is off).
    var publishesOldestRequest = false
    private var oldestInFlight: Connection?
    private var newestInFlight: Connection?

    /// Connections accepted per loop iteration and socket; the rest wait for the next iteration.
    /// With several processes on one socket, taking one at a time lets the others take their
    /// share of a burst (wrk opening 50 connections at once) instead of the first process to
    /// wake up draining the whole queue. Set before `run`.
    public var acceptBatch = Int.max
    /// With this many requests in flight the server stops accepting (deregisters its listening
    /// sockets, so the kernel wakes another process for new connections) until one finishes;
    /// 0: never. For a handler with a fixed pool of threads, the pool size. Set before `run`.
    public var busyThreshold = 0
    private var pausedForBusy = false
    /// Other processes accept on the same sockets (see `adopt`).
    private var sharedSockets = false

    public init(configuration: ServerConfiguration, handler: RequestHandler, backend: any ReadinessBackend) throws(SyscallError) {
        self.configuration = configuration
        self.handler = handler
        handOffWake = HandOffWake(handler: handler)
        loop = try EventLoop(backend: backend)
        shutdownTimer.target = self
    }

    /// Binds `configuration.host:port` itself and listens (single-process use and tests);
    /// returns the bound port (useful with port 0).
    @discardableResult
    public func bind() throws(SyscallError) -> Int {
        let socket = try SocketAddress.listen(host: configuration.host, port: configuration.port, backlog: configuration.backlog)
        do {
            try adopt([socket], shared: false)
        } catch {
            closeDescriptor(socket.fd)
            throw error
        }
        return socket.serverPort
    }

    /// Accepts on sockets that are already listening (opened by the supervisor before it forked).
    /// `shared`: other processes accept on the same sockets, so each event wakes only one of
    /// them (EPOLLEXCLUSIVE where the backend has it). The server closes its descriptors when it
    /// stops accepting; other processes' copies stay open.
    public func adopt(_ sockets: [ListeningSocket], shared: Bool) throws(SyscallError) {
        sharedSockets = shared
        for socket in sockets {
            let acceptor = Acceptor(socket: socket, server: self)
            try register(acceptor)
            acceptors.append(acceptor)
            if port == 0 && socket.family != .unix { port = socket.serverPort }
        }
    }

    private func register(_ acceptor: Acceptor) throws(SyscallError) {
        try loop.register(fd: acceptor.socket.fd, handler: acceptor,
                          interest: sharedSockets ? [.readable, .exclusive] : .readable)
        acceptor.registered = true
        // A fresh registration reports a socket that is already readable, but only to this
        // process's next poll; accept as if an edge had come.
        acceptor.pending = true
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
        stopAccepting()
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

    /// Leaves the listening sockets. Once deregistered, this process gets no more wake-ups for
    /// them; but a wake-up the kernel gave to this process just before (with EPOLLEXCLUSIVE,
    /// to this process alone) would be lost with its connection left waiting in the backlog.
    /// So what is already queued is accepted once more, and served with `Connection: close`.
    private func stopAccepting() {
        for acceptor in acceptors where acceptor.registered {
            loop.deregister(fd: acceptor.socket.fd)
            acceptor.registered = false
        }
        for acceptor in acceptors {
            acceptor.pending = true
            acceptConnections(from: acceptor, draining: true)
            closeDescriptor(acceptor.socket.fd)
        }
        acceptors.removeAll()
    }

    public func timerFired(_ timer: Timer) {
        Log.warning("graceful timeout: closing \(connectionCount) connection(s) still open")
        for connection in connections {
            connection?.forceClose()
        }
        loop.stop()
    }

    // MARK: Accepting

    func acceptConnections(from acceptor: Acceptor, draining: Bool = false) {
        let listenFD = acceptor.socket.fd
        var accepted = 0
        while acceptor.pending {
            if connectionCount >= configuration.maxConnections {
                // Leave the rest in the kernel's backlog until a connection closes.
                return
            }
            if !draining {
                if stopping || pausedForBusy { return }
                if accepted >= acceptBatch {
                    // Still pending: continue on the next iteration, after this one's events.
                    if !acceptor.retryPosted {
                        acceptor.retryPosted = true
                        loop.post(acceptor)
                    }
                    return
                }
            }
            accepted += 1
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
                    acceptor.pending = false
                    loop.rearm(fd: listenFD, events: .readable)
                case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                    // Stays pending: retried when a connection closes and frees a descriptor.
                    Log.error("accept4: \(String(cString: strerror(errno))); pausing accepts until a connection closes")
                    if connectionCount == 0 { acceptor.pending = false }
                default:
                    Log.error("accept4: \(String(cString: strerror(errno)))")
                    acceptor.pending = false
                }
                return
            }
            if acceptor.needsNoDelayPerConnection {
                var one: Int32 = 1
                setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            }
            let peer = SocketAddress.describe(&storage)
            let info = ConnectionInfo(
                remoteAddress: peer.host, remotePort: peer.port,
                serverName: acceptor.socket.serverName, serverPort: acceptor.socket.serverPort,
                trustsForwarded: configuration.forwardedAllowIPs.contains(&storage))
            let connection: Connection
            if let pooled = reusableConnection() {
                pooled.reopen(fd: fd, info: info)
                connection = pooled
            } else {
                connection = Connection(fd: fd, server: self, info: info)
            }
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
            metrics?.setConnectionsOpen(connectionCount)
            // Data usually arrives with the connection; read it now rather than wait for an edge.
            connection.handleEvents(.readable)
        }
    }

    func connectionClosed(_ connection: Connection) {
        if connectionPool.count < Self.connectionPoolLimit { connectionPool.append(connection) }
        let index = Int(connection.fd)
        if index < connections.count, connections[index] === connection {
            connections[index] = nil
            connectionCount -= 1
            metrics?.setConnectionsOpen(connectionCount)
        }
        if stopping {
            if connectionCount == 0 { loop.stop() }
        } else if connectionCount < configuration.maxConnections {
            for acceptor in acceptors where acceptor.pending && acceptor.registered {
                acceptConnections(from: acceptor)
            }
        }
    }

    /// A pooled connection ready for a new socket (see `Connection.isReusable`), newest first:
    /// its buffers are the likeliest to still be in the cache.
    private func reusableConnection() -> Connection? {
        for index in connectionPool.indices.reversed()
        where isKnownUniquelyReferenced(&connectionPool[index]) && connectionPool[index].isReusable(inIteration: loop.iteration) {
            return connectionPool.remove(at: index)
        }
        return nil
    }

    // MARK: Requests in flight

    /// A request was parsed and goes to the handler. Returns true when it is the last one this
    /// process takes (`maxRequests`): its response then says `Connection: close`, and the
    /// server starts its graceful stop once the current batch of events is handled.
    func requestStarted(_ connection: Connection) -> Bool {
        requestsInFlight += 1
        requestsStarted += 1
        metrics?.setRequestsInFlight(requestsInFlight)
        if busyThreshold > 0 && requestsInFlight >= busyThreshold && !pausedForBusy && !stopping {
            pauseAccepting()
        }
        if publishesOldestRequest, let scoreboard {
            connection.requestStartedAt = loop.now
            connection.olderInFlight = newestInFlight
            connection.newerInFlight = nil
            if let newest = newestInFlight {
                newest.newerInFlight = connection
            } else {
                oldestInFlight = connection
                publishOldest(scoreboard)
            }
            newestInFlight = connection
        }
        if maxRequests > 0 && requestsStarted == maxRequests && !stopping {
            Log.notice("served --max-requests \(maxRequests) requests: recycling this worker")
            onRecycle?()
            loop.deferTask(self)
            return true
        }
        return false
    }

    /// Gives a parsed request to the handler; its threads are woken after the current batch.
    func handOff(_ exchange: HTTPExchange) {
        handler.enqueue(exchange)
        handOffWake.schedule(on: loop)
    }

    func requestFinished(_ connection: Connection) {
        requestsInFlight -= 1
        metrics?.setRequestsInFlight(requestsInFlight)
        if pausedForBusy && requestsInFlight < busyThreshold {
            resumeAccepting()
        }
        guard let scoreboard else { return }
        scoreboard.addServed(1)
        guard connection.olderInFlight != nil || oldestInFlight === connection else { return }
        let older = connection.olderInFlight
        let newer = connection.newerInFlight
        if let older { older.newerInFlight = newer } else { oldestInFlight = newer }
        if let newer { newer.olderInFlight = older } else { newestInFlight = older }
        connection.olderInFlight = nil
        connection.newerInFlight = nil
        if older == nil { publishOldest(scoreboard) }
    }

    /// Busy: let the kernel hand new connections to an idle process instead of queueing them
    /// here behind requests this process's threads have not even started.
    private func pauseAccepting() {
        pausedForBusy = true
        for acceptor in acceptors where acceptor.registered {
            loop.deregister(fd: acceptor.socket.fd)
            acceptor.registered = false
        }
    }

    private func resumeAccepting() {
        pausedForBusy = false
        guard !stopping else { return }
        for acceptor in acceptors where !acceptor.registered {
            do {
                try register(acceptor)
            } catch {
                Log.error("re-registering listening socket \(acceptor.socket.displayName): \(error)")
                continue
            }
            // Connections that queued while paused came with no edge for this process.
            if !acceptor.retryPosted {
                acceptor.retryPosted = true
                loop.post(acceptor)
            }
        }
    }

    private func publishOldest(_ scoreboard: ScoreboardSlot) {
        guard let oldest = oldestInFlight else {
            scoreboard.clearRequest()
            return
        }
        oldest.withRequestLine { line in
            scoreboard.setOldestRequest(start: oldest.requestStartedAt, line: line)
        }
    }
}
