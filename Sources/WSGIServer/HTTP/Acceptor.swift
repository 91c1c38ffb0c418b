#if canImport(Glibc)
import Glibc
#endif
import Reactor

/// One listening socket registered with the server's loop. A server may accept on several
/// (`--bind` given more than once); each keeps its own "more may be pending" flag because
/// readiness is edge-triggered.
final class Acceptor: EventHandler, LoopTask, @unchecked Sendable {
    // @unchecked Sendable: touched on its loop's thread only; it posts itself to that same loop
    // (to accept more on the next iteration), never hands itself to another thread.
    let socket: ListeningSocket
    private unowned let server: HTTPServer  // unowned: the server owns its acceptors
    /// The last edge has not been drained to EAGAIN yet (accepting paused at the connection cap).
    var pending = true
    /// Registered with the loop (false while the server pauses accepting because it is busy).
    var registered = false
    /// A retry is posted for the next loop iteration.
    var retryPosted = false

    /// Accepted sockets need TCP_NODELAY of their own: false when the listening socket carries
    /// it, since Linux copies it to every socket accepted from it (one syscall per connection).
    let needsNoDelayPerConnection: Bool

    init(socket: ListeningSocket, server: HTTPServer) {
        self.socket = socket
        self.server = server
        needsNoDelayPerConnection = socket.family != .unix && !Self.setNoDelay(socket.fd)
    }

    private static func setNoDelay(_ fd: Int32) -> Bool {
        #if os(Linux)
        var one: Int32 = 1
        return setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size)) == 0
        #else
        return false  // inheritance from the listener is Linux behaviour
        #endif
    }

    func handleEvents(_ events: IOEvents) {
        pending = true
        server.acceptConnections(from: self)
    }

    func runOnLoop() {
        retryPosted = false
        if pending && registered { server.acceptConnections(from: self) }
    }
}
