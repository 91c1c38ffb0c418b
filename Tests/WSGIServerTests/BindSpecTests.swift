import Testing
@testable import WSGIServer

/// `--bind` parsing, one row per accepted or refused form.
struct BindSpecTests {
    static let valid: [(String, BindSpec)] = [
        ("127.0.0.1:8000", .tcp(host: "127.0.0.1", port: 8000)),
        ("0.0.0.0:80", .tcp(host: "0.0.0.0", port: 80)),
        ("localhost:0", .tcp(host: "localhost", port: 0)),
        (":8081", .tcp(host: "0.0.0.0", port: 8081)),
        ("[::]:8000", .tcp(host: "::", port: 8000)),
        ("[::1]:65535", .tcp(host: "::1", port: 65535)),
        ("[fe80::1%eth0]:9000", .tcp(host: "fe80::1%eth0", port: 9000)),
        ("unix:/run/app.sock", .unix(path: "/run/app.sock", mode: nil)),
        ("unix:/run/app.sock:660", .unix(path: "/run/app.sock", mode: 0o660)),
        ("unix:/run/app.sock:0600", .unix(path: "/run/app.sock", mode: 0o600)),
        ("unix:/run/app.sock:7777", .unix(path: "/run/app.sock", mode: 0o7777)),
        ("unix:relative.sock", .unix(path: "relative.sock", mode: nil)),
        // Not an octal mode (9 is no octal digit, 5 digits is too long): part of the path.
        ("unix:/tmp/a:99", .unix(path: "/tmp/a:99", mode: nil)),
        ("unix:/tmp/a:12345", .unix(path: "/tmp/a:12345", mode: nil)),
        ("fd://3", .fd(3)),
        ("fd://0", .fd(0)),
        ("systemd", .systemd),
        ("SYSTEMD", .systemd),
    ]

    @Test(arguments: valid)
    func parses(_ text: String, _ expected: BindSpec) throws {
        #expect(try BindSpec.parse(text) == expected)
    }

    static let invalid: [(String, String)] = [
        ("", "expected HOST:PORT"),
        ("localhost", "expected HOST:PORT"),
        ("127.0.0.1:", "port"),
        ("127.0.0.1:http", "port"),
        ("127.0.0.1:65536", "port"),
        ("127.0.0.1:-1", "port"),
        ("::1:8000", "brackets"),
        ("[::1]8000", "expected HOST:PORT"),
        ("[::1:8000", "missing ']'"),
        ("[127.0.0.1]:80", "only IPv6"),
        ("unix:", "socket path"),
        ("unix::660", "socket path"),
        ("unix:/" + String(repeating: "x", count: 107), "at most 107 bytes"),
        ("fd://", "descriptor number"),
        ("fd://-1", "descriptor number"),
        ("fd://three", "descriptor number"),
    ]

    @Test(arguments: invalid)
    func refuses(_ text: String, _ messagePart: String) {
        #expect {
            try BindSpec.parse(text)
        } throws: { error in
            (error as? BindSpecError)?.message.contains(messagePart) == true
        }
    }

    @Test(arguments: valid.map(\.1))
    func descriptionParsesBack(_ spec: BindSpec) throws {
        #expect(try BindSpec.parse(spec.description) == spec)
    }

    @Test func longestUnixPathIsAccepted() throws {
        let path = "/" + String(repeating: "x", count: BindSpec.maximumUnixPathLength - 1)
        #expect(try BindSpec.parse("unix:" + path) == .unix(path: path, mode: nil))
    }
}
