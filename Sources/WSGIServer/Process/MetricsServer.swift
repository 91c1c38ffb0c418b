#if canImport(Glibc)
import Glibc
#endif
import CEpollShim
import CProcessShim
import Reactor

/// `--metrics-bind`: the supervisor's own small HTTP endpoint for Prometheus, served from its
/// one thread, between signals.
///
/// With metrics on, the supervisor waits in `wait(upTo:)` instead of sigtimedwait: poll(2) on a
/// signalfd for the same blocked signals, the listening socket and the metrics clients. A
/// signal ends the wait at once, as before; a scrape is answered in between; the time-out stays
/// the supervisor's (its one-second tick). Clients cannot hold the supervisor up: every socket
/// is non-blocking, a head is at most 4 KiB, each client is closed after
/// `clientTimeoutMilliseconds` whatever it does, and at most `maximumClients` are kept: a new
/// one evicts the oldest, so idle connections cannot lock a scraper out.
final class MetricsServer {
    static let maximumClients = 8
    static let clientTimeoutMilliseconds: Int64 = 3000
    static let backlog = 16

    let listener: ListeningSocket
    private var signalFD: Int32 = -1
    private var clients: [MetricsConnection] = []
    private var scrape: () -> String = { "" }
    /// After an accept error such as EMFILE the listener stays readable; it is left alone
    /// until then rather than polled in a busy loop.
    private var acceptPausedUntil: Int64 = 0

    /// Binds and listens (before the fork; workers close their copies).
    init(_ spec: BindSpec) throws(BindSpecError) {
        guard case .tcp = spec else { throw BindSpecError("\(spec): the metrics endpoint needs HOST:PORT") }
        guard let socket = try Listener.open(spec, backlog: Self.backlog).first else {
            throw BindSpecError("cannot listen on \(spec)")
        }
        listener = socket
    }

    /// Takes the (already blocked) `signals` through a signalfd from now on; `scrape` renders
    /// the metrics text.
    func start(signals: sigset_t, scrape: @escaping () -> String) throws(SyscallError) {
        var set = signals
        let fd = CProc_signalfd(&set)
        guard fd >= 0 else { throw SyscallError("signalfd", errno: errno) }
        signalFD = fd
        self.scrape = scrape
    }

    /// Waits up to `timeout` ms for one of the signals, serving metrics clients meanwhile.
    /// Returns the signal, or 0 on time-out (as `CProc_wait_signal`).
    func wait(upTo timeout: Int32) -> Int32 {
        let deadline = monotonicMilliseconds() + Int64(max(0, timeout))
        var descriptors: [pollfd] = []
        while true {
            let sig = CProc_read_signal(signalFD)
            if sig > 0 { return sig }
            var now = monotonicMilliseconds()
            expire(now: now)
            descriptors.removeAll(keepingCapacity: true)
            descriptors.append(pollfd(fd: signalFD, events: Int16(POLLIN), revents: 0))
            let listening = now >= acceptPausedUntil
            if listening { descriptors.append(pollfd(fd: listener.fd, events: Int16(POLLIN), revents: 0)) }
            var wake = acceptPausedUntil > now ? min(deadline, acceptPausedUntil) : deadline
            for client in clients {
                descriptors.append(pollfd(fd: client.fd, events: client.events, revents: 0))
                wake = min(wake, client.deadline)
            }
            let ready = poll(&descriptors, nfds_t(descriptors.count), Int32(clamping: max(0, wake - now)))
            if ready > 0 {
                let first = listening ? 2 : 1
                // Clients before the listener: new ones are appended and not in this poll.
                for (offset, client) in clients.enumerated() {
                    let revents = descriptors[first + offset].revents
                    if revents == 0 { continue }
                    if client.phase == .writing {
                        client.writable()
                    } else {
                        client.readable(scrape: scrape)
                    }
                }
                if listening && descriptors[1].revents != 0 { accept(now: monotonicMilliseconds()) }
                clients.removeAll { client in
                    guard client.phase == .done else { return false }
                    client.close()
                    return true
                }
                if descriptors[0].revents != 0 { continue }  // a signal: taken at the top
            }
            now = monotonicMilliseconds()
            if now >= deadline { return 0 }
        }
    }

    /// In a freshly forked worker: its copies of the endpoint's descriptors, closed so that a
    /// client's connection ends when the supervisor closes it, and the port is the supervisor's.
    func closeInChild() {
        for client in clients { closeDescriptor(client.fd) }
        clients = []
        if signalFD >= 0 { closeDescriptor(signalFD) }
        closeDescriptor(listener.fd)
    }

    /// The supervisor stops.
    func close() {
        for client in clients { client.close() }
        clients = []
        if signalFD >= 0 { closeDescriptor(signalFD) }
        signalFD = -1
        closeDescriptor(listener.fd)
    }

    private func accept(now: Int64) {
        for _ in 0..<Self.maximumClients {
            let fd = CEpoll_accept4(listener.fd, nil, nil)
            if fd < 0 {
                if errno == EINTR || errno == ECONNABORTED || errno == EPROTO { continue }
                if errno != EAGAIN && errno != EWOULDBLOCK {
                    Log.warning("metrics endpoint: accept4: \(String(cString: strerror(errno))); pausing accepts for 1 s")
                    acceptPausedUntil = now + 1000
                }
                return
            }
            if clients.count >= Self.maximumClients {
                clients.removeFirst().close()
            }
            let client = MetricsConnection(fd: fd, deadline: now + Self.clientTimeoutMilliseconds)
            clients.append(client)
            // A request usually comes with the connection.
            client.readable(scrape: scrape)
        }
    }

    private func expire(now: Int64) {
        clients.removeAll { client in
            guard client.phase == .done || now >= client.deadline else { return false }
            client.close()
            return true
        }
    }
}

@available(*, unavailable)
extension MetricsServer: Sendable {}
