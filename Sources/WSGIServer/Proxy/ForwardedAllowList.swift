#if canImport(Glibc)
import Glibc
#endif

/// The peers whose X-Forwarded-* / Forwarded headers are believed (`--forwarded-allow-ips`):
/// IPv4 and IPv6 literals, CIDR blocks, or `*` for every peer. IPv4 is kept as IPv4-mapped IPv6
/// so one 128-bit comparison serves both families (and `::ffff:10.0.0.1` matches `10.0.0.1`).
public struct ForwardedAllowList: Sendable, Equatable {
    struct Network: Sendable, Equatable {
        var high: UInt64
        var low: UInt64
        var prefix: Int  // 0...128, over the mapped address

        func contains(high h: UInt64, low l: UInt64) -> Bool {
            if prefix <= 64 {
                let mask: UInt64 = prefix == 0 ? 0 : ~0 << UInt64(64 - prefix)
                return (h & mask) == (high & mask)
            }
            let mask: UInt64 = prefix == 128 ? ~0 : ~0 << UInt64(128 - prefix)
            return h == high && (l & mask) == (low & mask)
        }
    }

    public private(set) var allowsAll = false
    var networks: [Network] = []
    /// As given, for logs and the demo page.
    public private(set) var text = ""

    /// Trusts nobody.
    public static let none = ForwardedAllowList()
    /// The default: a proxy on the same host.
    public static let loopback = try! ForwardedAllowList(parsing: "127.0.0.1")  // try!: a constant literal that parses

    public init() {}

    /// Parses a comma-separated list; throws a message naming the first bad entry.
    public init(parsing list: String) throws(ForwardedAllowListError) {
        text = list
        for raw in list.split(separator: ",") {
            let entry = raw.trimmingWhitespace()
            if entry.isEmpty { continue }
            if entry == "*" {
                allowsAll = true
                continue
            }
            guard let network = Self.network(entry) else { throw ForwardedAllowListError(entry: entry) }
            networks.append(network)
        }
    }

    /// Whether a connection from this peer address may set the forwarded values. A Unix socket
    /// peer always may (as in gunicorn): only local processes allowed to open the socket file
    /// reach it, and a proxy is what normally sits there.
    func contains(_ storage: UnsafePointer<sockaddr_storage>) -> Bool {
        if allowsAll || Int32(storage.pointee.ss_family) == AF_UNIX { return true }
        guard let (h, l) = Self.mapped(storage) else { return false }
        return networks.contains { $0.contains(high: h, low: l) }
    }

    /// Whether the textual address (an X-Forwarded-For entry) is a trusted proxy. No allocation.
    func contains(text bytes: UnsafeRawBufferPointer) -> Bool {
        if allowsAll { return true }
        guard let (h, l) = Self.parseAddress(bytes) else { return false }
        return networks.contains { $0.contains(high: h, low: l) }
    }

    private static func network(_ entry: String) -> Network? {
        var address = Substring(entry)
        var prefix: Int?
        if let slash = entry.firstIndex(of: "/") {
            address = entry[..<slash]
            guard let bits = Int(entry[entry.index(after: slash)...]), bits >= 0 else { return nil }
            prefix = bits
        }
        let isV4 = !address.contains(":")
        var copy = String(address)
        guard let (h, l) = copy.withUTF8({ parseAddress(UnsafeRawBufferPointer($0)) }) else { return nil }
        let limit = isV4 ? 32 : 128
        let bits = prefix ?? limit
        guard bits <= limit else { return nil }
        return Network(high: h, low: l, prefix: isV4 ? bits + 96 : bits)
    }

    /// A numeric IPv4 or IPv6 address as 128 bits (IPv4 mapped into ::ffff:0:0/96).
    static func parseAddress(_ bytes: UnsafeRawBufferPointer) -> (UInt64, UInt64)? {
        guard bytes.count > 0, bytes.count < 64 else { return nil }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { text -> (UInt64, UInt64)? in
            for i in 0..<bytes.count { text[i] = CChar(bitPattern: bytes[i]) }
            text[bytes.count] = 0
            var v6 = in6_addr()
            if inet_pton(AF_INET6, text.baseAddress, &v6) == 1 { return split(v6) }
            var v4 = in_addr()
            if inet_pton(AF_INET, text.baseAddress, &v4) == 1 { return (0, 0xFFFF_0000_0000 | UInt64(UInt32(bigEndian: v4.s_addr))) }
            return nil
        }
    }

    private static func mapped(_ storage: UnsafePointer<sockaddr_storage>) -> (UInt64, UInt64)? {
        switch Int32(storage.pointee.ss_family) {
        case AF_INET:
            return storage.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                (0, 0xFFFF_0000_0000 | UInt64(UInt32(bigEndian: $0.pointee.sin_addr.s_addr)))
            }
        case AF_INET6:
            return storage.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { split($0.pointee.sin6_addr) }
        default:
            return nil
        }
    }

    private static func split(_ address: in6_addr) -> (UInt64, UInt64) {
        withUnsafeBytes(of: address) { raw in
            var h: UInt64 = 0
            var l: UInt64 = 0
            for i in 0..<8 { h = h << 8 | UInt64(raw[i]) }
            for i in 8..<16 { l = l << 8 | UInt64(raw[i]) }
            return (h, l)
        }
    }
}

public struct ForwardedAllowListError: Error {
    public let entry: String
}

extension StringProtocol {
    func trimmingWhitespace() -> String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
