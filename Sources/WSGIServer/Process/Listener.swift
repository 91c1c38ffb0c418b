#if canImport(Glibc)
import Glibc
#endif
import Reactor

/// Opens the listening sockets a `BindSpec` names. The supervisor does this once, before it
/// forks; the workers inherit the descriptors (one shared accept queue per address).
enum Listener {
    static func open(_ spec: BindSpec, backlog: Int) throws(BindSpecError) -> [ListeningSocket] {
        do {
            switch spec {
            case .tcp(let host, let port):
                return [try SocketAddress.listen(host: host, port: port, backlog: backlog)]
            case .unix(let path, let mode):
                return [try listenUnix(path: path, mode: mode, backlog: backlog)]
            case .fd(let fd):
                return [try adopt(fd: fd, label: "fd://\(fd)")]
            case .systemd:
                guard let count = systemdDescriptorCount() else {
                    throw BindSpecError("systemd: LISTEN_FDS and LISTEN_PID are not set for this process (not socket-activated)")
                }
                var sockets: [ListeningSocket] = []
                for fd in Int32(3)..<Int32(3 + count) {
                    sockets.append(try adopt(fd: fd, label: "systemd fd \(fd)"))
                }
                // Consumed: children (and the application's subprocesses) must not take them as theirs.
                unsetenv("LISTEN_PID")
                unsetenv("LISTEN_FDS")
                unsetenv("LISTEN_FDNAMES")
                return sockets
            }
        } catch let error as SyscallError {
            throw BindSpecError("cannot listen on \(spec): \(error)")
        } catch let error as BindSpecError {
            throw error
        } catch {
            throw BindSpecError("cannot listen on \(spec): \(error)")
        }
    }

    /// The number of sockets systemd passed (fds 3...), when LISTEN_PID names this process.
    static func systemdDescriptorCount() -> Int? {
        guard let pidText = environment("LISTEN_PID"), let pid = Int32(pidText), pid == getpid(),
              let countText = environment("LISTEN_FDS"), let count = Int(countText), count > 0 else { return nil }
        return count
    }

    private static func environment(_ name: String) -> String? {
        guard let raw = getenv(name) else { return nil }
        return String(cString: raw)
    }

    private static func listenUnix(path: String, mode: UInt32?, backlog: Int) throws -> ListeningSocket {
        var info = stat()
        if lstat(path, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFSOCK else {
                throw BindSpecError("cannot listen on unix:\(path): the file exists and is not a socket")
            }
            // A socket file some server still answers on is not stale: refuse rather than steal it.
            if let probe = try? unixSocket(), connectUnix(probe, path: path) {
                closeDescriptor(probe)
                throw BindSpecError("cannot listen on unix:\(path): another server is listening on it")
            } else {
                _ = unlink(path)
            }
        }
        let fd = try unixSocket()
        do {
            var address = try unixAddress(path)
            _ = try retryingBlocking("bind") {
                withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                    }
                }
            }
            if let mode {
                _ = try retryingBlocking("chmod") { chmod(path, mode_t(mode)) }
            }
            _ = try retryingBlocking("listen") { Glibc.listen(fd, Int32(backlog)) }
        } catch {
            closeDescriptor(fd)
            throw error
        }
        return ListeningSocket(fd: fd, family: .unix, serverName: path, serverPort: 0,
                               displayName: "unix:\(path)", ownedPath: path)
    }

    private static func unixSocket() throws(SyscallError) -> Int32 {
        try retryingBlocking("socket(AF_UNIX)") {
            socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
    }

    /// Whether something accepts on `path` (the probe socket is non-blocking: a listener with a
    /// full backlog answers EAGAIN, which still means "alive").
    private static func connectUnix(_ fd: Int32, path: String) -> Bool {
        guard var address = try? unixAddress(path) else { return false }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        return rc == 0 || errno == EAGAIN || errno == EINPROGRESS
    }

    private static func unixAddress(_ path: String) throws(BindSpecError) -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity else { throw BindSpecError("unix socket path too long: \(path)") }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return address
    }

    /// Takes over an inherited descriptor after checking it is a listening stream socket.
    private static func adopt(fd: Int32, label: String) throws -> ListeningSocket {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw BindSpecError("\(label): the descriptor is not open") }
        guard info.st_mode & S_IFMT == S_IFSOCK else { throw BindSpecError("\(label): the descriptor is not a socket") }
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        _ = try retryingBlocking("getsockopt(SO_ACCEPTCONN)") { getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &value, &length) }
        guard value != 0 else { throw BindSpecError("\(label): the socket is not listening") }
        length = socklen_t(MemoryLayout<Int32>.size)
        _ = try retryingBlocking("getsockopt(SO_TYPE)") { getsockopt(fd, SOL_SOCKET, SO_TYPE, &value, &length) }
        guard value == Int32(SOCK_STREAM.rawValue) else { throw BindSpecError("\(label): not a stream socket") }
        // Accepting is non-blocking, and the application's subprocesses must not inherit it.
        let flags = fcntl(fd, F_GETFL)
        _ = try retryingBlocking("fcntl(O_NONBLOCK)") { fcntl(fd, F_SETFL, flags | O_NONBLOCK) }
        _ = try retryingBlocking("fcntl(FD_CLOEXEC)") { fcntl(fd, F_SETFD, FD_CLOEXEC) }

        var storage = sockaddr_storage()
        var addressLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = try retryingBlocking("getsockname") {
            withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &addressLength) }
            }
        }
        switch Int32(storage.ss_family) {
        case AF_UNIX:
            let path = withUnsafeBytes(of: &storage) { raw -> String in
                // sun_path follows the 2-byte family.
                let bytes = raw[2..<Int(addressLength)].prefix { $0 != 0 }
                return String(decoding: bytes, as: UTF8.self)
            }
            return ListeningSocket(fd: fd, family: .unix, serverName: path, serverPort: 0,
                                   displayName: "unix:\(path) (\(label))")
        case AF_INET, AF_INET6:
            let (host, port) = SocketAddress.describe(&storage)
            return ListeningSocket(fd: fd, family: Int32(storage.ss_family) == AF_INET6 ? .inet6 : .inet,
                                   serverName: host, serverPort: port,
                                   displayName: "\(SocketAddress.url(host: host, port: port)) (\(label))")
        default:
            throw BindSpecError("\(label): not an IP or unix socket")
        }
    }
}
