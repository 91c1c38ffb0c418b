/// A bound, listening, non-blocking socket the server accepts on, with the names a handler
/// reports for connections that arrive on it. The supervisor opens these before forking (see
/// `Listener`); each worker adopts the same descriptors with `HTTPServer.adopt`.
public struct ListeningSocket: Sendable, Equatable {
    public enum Family: Sendable, Equatable {
        case inet, inet6, unix
    }

    public var fd: Int32
    public var family: Family
    /// SERVER_NAME: the host or address as bound, or the socket path for a unix socket.
    public var serverName: String
    /// SERVER_PORT: the bound TCP port (0 for a unix socket).
    public var serverPort: Int
    /// How logs name it: `http://127.0.0.1:8081`, `http://[::1]:8081`, `unix:/run/app.sock`.
    public var displayName: String
    /// A socket file this process created and should remove when it stops for good.
    public var ownedPath: String?

    public init(fd: Int32, family: Family, serverName: String, serverPort: Int, displayName: String,
                ownedPath: String? = nil) {
        self.fd = fd
        self.family = family
        self.serverName = serverName
        self.serverPort = serverPort
        self.displayName = displayName
        self.ownedPath = ownedPath
    }
}
