/// One address to listen on, as given to `--bind` / `YIMMO_WSGI_BIND`.
///
///     HOST:PORT         0.0.0.0:8000, localhost:8000, :8000 (all IPv4 interfaces)
///     [IPV6]:PORT       [::]:8000 (IPv6 only, so it can sit next to 0.0.0.0:8000), [::1]:8000
///     unix:PATH[:MODE]  unix:/run/app.sock, unix:/run/app.sock:660 (octal file mode)
///     fd://N            an inherited descriptor that is already a listening socket
///     systemd           the sockets passed by systemd socket activation (LISTEN_FDS)
public enum BindSpec: Equatable, Sendable, CustomStringConvertible {
    case tcp(host: String, port: Int)
    case unix(path: String, mode: UInt32?)
    case fd(Int32)
    case systemd

    /// sun_path holds 108 bytes including the terminating NUL.
    public static let maximumUnixPathLength = 107

    public var description: String {
        switch self {
        case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unix(let path, nil): "unix:\(path)"
        case .unix(let path, let mode?): "unix:\(path):\(String(mode, radix: 8))"
        case .fd(let fd): "fd://\(fd)"
        case .systemd: "systemd"
        }
    }

    public static func parse(_ text: String) throws(BindSpecError) -> BindSpec {
        let usage = "expected HOST:PORT, [IPV6]:PORT, unix:PATH[:MODE], fd://N or systemd"
        if text.lowercased() == "systemd" { return .systemd }
        if text.hasPrefix("fd://") {
            guard let fd = Int32(text.dropFirst(5)), fd >= 0 else {
                throw BindSpecError("'\(text)': fd:// needs a descriptor number")
            }
            return .fd(fd)
        }
        if text.hasPrefix("unix:") {
            var path = Substring(text.dropFirst(5))
            var mode: UInt32?
            // A trailing ":NNN" of octal digits is the mode; a path rarely ends like that.
            if let colon = path.lastIndex(of: ":") {
                let suffix = path[path.index(after: colon)...]
                if (3...4).contains(suffix.count), let value = UInt32(suffix, radix: 8) {
                    mode = value  // at most 0o7777 with four octal digits
                    path = path[..<colon]
                }
            }
            guard !path.isEmpty else { throw BindSpecError("'\(text)': unix: needs a socket path") }
            guard path.utf8.count <= maximumUnixPathLength else {
                throw BindSpecError("'\(text)': a unix socket path may be at most \(maximumUnixPathLength) bytes")
            }
            guard !path.utf8.contains(0) else { throw BindSpecError("'\(text)': the path contains a NUL byte") }
            return .unix(path: String(path), mode: mode)
        }
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw BindSpecError("'\(text)': missing ']' after the IPv6 address") }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw BindSpecError("'\(text)': \(usage)") }
            portText = rest.dropFirst()
            guard host.contains(":") else { throw BindSpecError("'\(text)': only IPv6 addresses go in brackets") }
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw BindSpecError("'\(text)': \(usage)") }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            guard !host.contains(":") else {
                throw BindSpecError("'\(text)': put an IPv6 address in brackets, as in [::1]:8000")
            }
        }
        guard let port = Int(portText), (0...65535).contains(port) else {
            throw BindSpecError("'\(text)': the port must be a whole number in 0...65535")
        }
        return .tcp(host: host.isEmpty ? "0.0.0.0" : String(host), port: port)
    }
}

public struct BindSpecError: Error, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension BindSpec {
    /// Whether systemd passed this process listening sockets (LISTEN_PID is ours, LISTEN_FDS > 0).
    public static var socketActivationAvailable: Bool {
        Listener.systemdDescriptorCount() != nil
    }
}
