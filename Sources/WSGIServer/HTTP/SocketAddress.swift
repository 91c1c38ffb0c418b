#if canImport(Glibc)
import Glibc
#endif
import Reactor

/// Address helpers for listening sockets and the peer names handlers report.
enum SocketAddress {
    /// Numeric host and port of an IPv4 or IPv6 socket address.
    static func describe(_ storage: UnsafePointer<sockaddr_storage>) -> (host: String, port: Int) {
        var host = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        switch Int32(storage.pointee.ss_family) {
        case AF_INET:
            return storage.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                var addr = sin.pointee.sin_addr
                inet_ntop(AF_INET, &addr, &host, socklen_t(host.count))
                return (text(host), Int(UInt16(bigEndian: sin.pointee.sin_port)))
            }
        case AF_INET6:
            return storage.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin6 in
                var addr = sin6.pointee.sin6_addr
                inet_ntop(AF_INET6, &addr, &host, socklen_t(host.count))
                return (text(host), Int(UInt16(bigEndian: sin6.pointee.sin6_port)))
            }
        default:
            return ("", 0)
        }
    }

    private static func text(_ chars: [CChar]) -> String {
        String(decoding: chars.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `http://host:port`, with IPv6 addresses in brackets.
    static func url(host: String, port: Int) -> String {
        host.contains(":") ? "http://[\(host)]:\(port)" : "http://\(host):\(port)"
    }

    /// A non-blocking listening TCP socket on host:port. Errors name the failing call. An IPv6
    /// socket is IPv6-only, so `[::]` and `0.0.0.0` can both be bound on one port. (No
    /// SO_REUSEPORT: worker processes share one socket, see Supervisor.)
    static func listen(host: String, port: Int, backlog: Int) throws(SyscallError) -> ListeningSocket {
        var hints = addrinfo()
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host.isEmpty ? nil : host, String(port), &hints, &result)
        guard rc == 0, let first = result else {
            throw SyscallError("getaddrinfo(\(host))", errno: rc == EAI_SYSTEM ? errno : EINVAL)
        }
        defer { freeaddrinfo(result) }
        let info = first.pointee
        let fd = try retryingBlocking("socket") {
            socket(info.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        do {
            var one: Int32 = 1
            _ = try retryingBlocking("setsockopt(SO_REUSEADDR)") {
                setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            }
            if info.ai_family == AF_INET6 {
                _ = try retryingBlocking("setsockopt(IPV6_V6ONLY)") {
                    setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size))
                }
            }
            _ = try retryingBlocking("bind") { bind(fd, info.ai_addr, info.ai_addrlen) }
            _ = try retryingBlocking("listen") { Glibc.listen(fd, Int32(backlog)) }
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            _ = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
            let bound = describe(&storage).port
            return ListeningSocket(fd: fd, family: info.ai_family == AF_INET6 ? .inet6 : .inet,
                                   serverName: host, serverPort: bound, displayName: url(host: host, port: bound))
        } catch {
            closeDescriptor(fd)
            throw error
        }
    }
}
