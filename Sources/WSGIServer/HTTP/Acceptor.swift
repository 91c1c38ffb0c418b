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

    init(socket: ListeningSocket, server: HTTPServer) {
        self.socket = socket
        self.server = server
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
