import Reactor

/// One listening socket registered with the server's loop. A server may accept on several
/// (`--bind` given more than once); each keeps its own "more may be pending" flag because
/// readiness is edge-triggered.
final class Acceptor: EventHandler {
    let socket: ListeningSocket
    private unowned let server: HTTPServer  // unowned: the server owns its acceptors
    /// The last edge has not been drained to EAGAIN yet (accepting paused at the connection cap).
    var pending = true

    init(socket: ListeningSocket, server: HTTPServer) {
        self.socket = socket
        self.server = server
    }

    func handleEvents(_ events: IOEvents) {
        pending = true
        server.acceptConnections(from: self)
    }
}

@available(*, unavailable)
extension Acceptor: Sendable {}
