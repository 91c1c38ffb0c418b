#if canImport(Glibc)
import Glibc
#endif
import Reactor

/// Address helpers for listening sockets and the peer names handlers report.
enum SocketAddress {
    /// Numeric host and port of an IPv4 or IPv6 socket address. Runs once per accepted
    /// connection: IPv4 is formatted by hand into a small string (no allocation), as
    /// inet_ntop's sprintf was half the cost of accepting a connection.
    static func describe(_ storage: UnsafePointer<sockaddr_storage>) -> (host: String, port: Int) {
        switch Int32(storage.pointee.ss_family) {
        case AF_INET:
            return storage.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                (dottedQuad(UInt32(bigEndian: sin.pointee.sin_addr.s_addr)), Int(UInt16(bigEndian: sin.pointee.sin_port)))
            }
        case AF_INET6:
            return storage.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin6 in
                var addr = sin6.pointee.sin6_addr
                let host = withUnsafeTemporaryAllocation(of: CChar.self, capacity: Int(INET6_ADDRSTRLEN) + 1) { buffer in
                    inet_ntop(AF_INET6, &addr, buffer.baseAddress, socklen_t(buffer.count)) == nil
                        ? "" : String(cString: buffer.baseAddress!)
                }
                return (host, Int(UInt16(bigEndian: sin6.pointee.sin6_port)))
            }
        default:
            return ("", 0)
        }
    }

    /// "a.b.c.d" of a host-order IPv4 address; at most 15 bytes, so a small (inline) string.
    static func dottedQuad(_ address: UInt32) -> String {
        String(unsafeUninitializedCapacity: 15) { out in
            var at = 0
            for shift in stride(from: 24, through: 0, by: -8) {
                let octet = Int((address >> UInt32(shift)) & 0xFF)
                if octet >= 100 { out[at] = UInt8(48 + octet / 100); at += 1 }
                if octet >= 10 { out[at] = UInt8(48 + octet / 10 % 10); at += 1 }
                out[at] = UInt8(48 + octet % 10); at += 1
                if shift > 0 { out[at] = UInt8(ascii: "."); at += 1 }
            }
            return at
        }
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
