#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import WSGIServer

/// The peer address a handler sees (REMOTE_ADDR, the access log) must read as inet_ntop writes it.
struct SocketAddressTests {
    @Test(arguments: ["0.0.0.0", "127.0.0.1", "10.0.9.99", "192.168.100.1", "255.255.255.255", "1.20.100.200", "8.8.4.4"])
    func ipv4MatchesInetNtop(_ text: String) {
        expectDescribed(text, family: AF_INET, port: 54321)
    }

    @Test(arguments: ["::1", "::", "2001:db8::8a2e:370:7334", "fe80::1", "::ffff:127.0.0.1"])
    func ipv6MatchesInetNtop(_ text: String) {
        expectDescribed(text, family: AF_INET6, port: 8080)
    }

    /// Builds the socket address inet_pton makes of `text` and expects it described as `text`.
    private func expectDescribed(_ text: String, family: Int32, port: UInt16) {
        var storage = sockaddr_storage()
        withUnsafeMutablePointer(to: &storage) { pointer in
            if family == AF_INET {
                pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                    sin.pointee.sin_family = sa_family_t(AF_INET)
                    sin.pointee.sin_port = port.bigEndian
                    #expect(inet_pton(AF_INET, text, &sin.pointee.sin_addr) == 1)
                }
            } else {
                pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin6 in
                    sin6.pointee.sin6_family = sa_family_t(AF_INET6)
                    sin6.pointee.sin6_port = port.bigEndian
                    #expect(inet_pton(AF_INET6, text, &sin6.pointee.sin6_addr) == 1)
                }
            }
        }
        let described = SocketAddress.describe(&storage)
        #expect(described.host == text)
        #expect(described.port == Int(port))
    }

    @Test func everyOctetValueFormatsLikeInetNtop() {
        for octet in UInt32(0)...255 {
            let address = (octet << 24) | (octet << 16) | (3 << 8) | octet
            var raw = in_addr(s_addr: address.bigEndian)
            var buffer = [CChar](repeating: 0, count: 16)
            inet_ntop(AF_INET, &raw, &buffer, 16)
            #expect(SocketAddress.dottedQuad(address) == String(cString: buffer))
        }
    }
}
