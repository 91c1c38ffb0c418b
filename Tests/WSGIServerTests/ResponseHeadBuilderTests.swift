import Testing
@testable import WSGIServer

extension ResponseHeadBuilder {
    fileprivate mutating func begin(_ status: String) throws {
        try Array(status.utf8).withUnsafeBytes { raw in try begin(status: raw) }
    }

    fileprivate mutating func add(_ name: String, _ value: String) throws {
        let name = Array(name.utf8), value = Array(value.utf8)
        try name.withUnsafeBytes { name in
            try value.withUnsafeBytes { value in try add(name: name, value: value) }
        }
    }

    fileprivate var text: String { String(decoding: bytes, as: UTF8.self) }
}

struct ResponseHeadBuilderTests {
    @Test func composesTheHeadByteForByte() throws {
        var builder = ResponseHeadBuilder()
        try builder.begin("200 OK")
        try builder.add("Content-Type", "text/plain")
        try builder.add("Server", "s")
        try builder.add("Date", "d")
        builder.complete(framing: .contentLength(5), keepAlive: true, http10: false)
        #expect(builder.text == "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nServer: s\r\nDate: d\r\nContent-Length: 5\r\n\r\n")
    }

    @Test func bareStatusCodeGetsAnEmptyReason() throws {
        var builder = ResponseHeadBuilder()
        try builder.begin("200")
        #expect(builder.text == "HTTP/1.1 200 \r\n")
        #expect(builder.statusCode == 200)
    }

    @Test func addsServerAndDateWhenMissing() throws {
        var builder = ResponseHeadBuilder()
        try builder.begin("200 OK")
        builder.complete(framing: .noBody, keepAlive: true, http10: false)
        let lines = builder.text.split(separator: "\r\n", omittingEmptySubsequences: false)
        #expect(lines.count == 5)
        #expect(lines[0] == "HTTP/1.1 200 OK")
        #expect(lines[1] == "Server: \(YimmoVersion.serverHeader)")
        #expect(lines[2].hasPrefix("Date: ") && looksLikeIMFDate(String(lines[2].dropFirst(6))), "\(lines[2])")
        #expect(lines[3] == "" && lines[4] == "")
    }

    struct CompleteCase: Sendable, CustomTestStringConvertible {
        let framing: ResponseFraming
        let keepAlive: Bool
        let http10: Bool
        let tail: String
        var testDescription: String { "\(framing) keepAlive=\(keepAlive) http10=\(http10)" }
    }

    @Test(arguments: [
        CompleteCase(framing: .contentLength(0), keepAlive: true, http10: false, tail: "Content-Length: 0\r\n\r\n"),
        CompleteCase(framing: .contentLength(1234567), keepAlive: true, http10: false, tail: "Content-Length: 1234567\r\n\r\n"),
        CompleteCase(framing: .chunked, keepAlive: true, http10: false, tail: "Transfer-Encoding: chunked\r\n\r\n"),
        CompleteCase(framing: .chunked, keepAlive: false, http10: false, tail: "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"),
        CompleteCase(framing: .closeDelimited, keepAlive: false, http10: false, tail: "Connection: close\r\n\r\n"),
        CompleteCase(framing: .closeDelimited, keepAlive: false, http10: true, tail: "Connection: close\r\n\r\n"),
        CompleteCase(framing: .noBody, keepAlive: true, http10: false, tail: "\r\n"),
        CompleteCase(framing: .noBody, keepAlive: false, http10: false, tail: "Connection: close\r\n\r\n"),
        CompleteCase(framing: .contentLength(12), keepAlive: true, http10: true, tail: "Content-Length: 12\r\nConnection: keep-alive\r\n\r\n"),
        CompleteCase(framing: .contentLength(12), keepAlive: false, http10: true, tail: "Content-Length: 12\r\nConnection: close\r\n\r\n"),
    ])
    func completeAddsFramingAndConnectionHeaders(_ c: CompleteCase) throws {
        var builder = ResponseHeadBuilder()
        try builder.begin("200 OK")
        try builder.add("Server", "s")
        try builder.add("Date", "d")
        builder.complete(framing: c.framing, keepAlive: c.keepAlive, http10: c.http10)
        #expect(builder.text == "HTTP/1.1 200 OK\r\nServer: s\r\nDate: d\r\n" + c.tail)
    }

    @Test func reportsWhatTheAppSet() throws {
        var builder = ResponseHeadBuilder()
        try builder.begin("404 Not Found")
        #expect(builder.began && builder.statusCode == 404)
        #expect(builder.contentLength == nil && !builder.connectionClose && !builder.hasDate && !builder.hasServer)
        try builder.add("content-length", "42")
        try builder.add("CONNECTION", "Upgrade, close")
        try builder.add("dAtE", "x")
        try builder.add("Server", "y")
        #expect(builder.contentLength == 42)
        #expect(builder.connectionClose)
        #expect(builder.hasDate && builder.hasServer)
        #expect(!builder.text.lowercased().contains("connection"))
    }

    @Test func resetForgetsEverything() throws {
        var builder = ResponseHeadBuilder()
        try builder.begin("500 Oops")
        try builder.add("Content-Length", "3")
        try builder.add("Connection", "close")
        builder.reset()
        #expect(builder.bytes.isEmpty)
        #expect(!builder.began && builder.statusCode == 0 && builder.contentLength == nil && !builder.connectionClose)
        expectHeadError { try builder.add("X-A", "1") }
    }

    /// Every byte value at every position of a 20-byte value, name and status (the checks take
    /// eight bytes at a time): refused exactly when RFC 9110 does not allow the byte there.
    @Test func everyByteAtEveryPositionIsCheckedLikeTheRFCSays() throws {
        for position in 0..<20 {
            for byte in UInt8(0)...255 {
                var value = [UInt8](repeating: UInt8(ascii: "v"), count: 20)
                value[position] = byte
                var builder = ResponseHeadBuilder()
                try builder.begin("200 OK")
                let valueAllowed = (byte >= 0x20 && byte != 0x7F) || byte == 0x09
                let accepted = (try? value.withUnsafeBytes { raw in
                    try Array("X-Test".utf8).withUnsafeBytes { name in try builder.add(name: name, value: raw) }
                }) != nil
                #expect(accepted == valueAllowed, "value byte \(byte) at \(position)")

                var name = [UInt8](repeating: UInt8(ascii: "n"), count: 20)
                name[position] = byte
                let nameAccepted = (try? name.withUnsafeBytes { raw in
                    try Array("1".utf8).withUnsafeBytes { one in try builder.add(name: raw, value: one) }
                }) != nil
                #expect(nameAccepted == HTTPByte.isTchar(byte), "name byte \(byte) at \(position)")

                var status = Array("200 ".utf8) + [UInt8](repeating: UInt8(ascii: "r"), count: 20)
                status[4 + position] = byte
                var statusBuilder = ResponseHeadBuilder()
                let statusAccepted = (try? status.withUnsafeBytes { raw in try statusBuilder.begin(status: raw) }) != nil
                #expect(statusAccepted == valueAllowed, "status byte \(byte) at \(position)")
            }
        }
    }

    @Test func refusedHeaderLeavesTheHeadUnchanged() throws {
        var builder = ResponseHeadBuilder()
        try builder.begin("200 OK")
        try builder.add("X-A", "1")
        let before = builder.bytes
        expectHeadError { try builder.add("X-B", "2\r\nX-C: 3") }
        expectHeadError { try builder.begin("200 OK\r\nX-C: 3") }
        #expect(builder.bytes == before)
        #expect(builder.statusCode == 200)
    }

    /// Names one letter away from a hop-by-hop or framing name, at the same length, are the
    /// application's own headers and pass through.
    @Test(arguments: [
        "Tf", "Data", "Serve1", "Trailex", "Upgradz", "Trailerz", "Connectiox", "Keep-Alivx",
        "Content-Lengtx", "Transfer-Encodinx", "Proxy-Authenticatx", "Proxy-Authorizatiox",
    ])
    func nearMissNamesAreKept(name: String) throws {
        var builder = ResponseHeadBuilder()
        try builder.begin("200 OK")
        try builder.add(name, "v")
        #expect(builder.text == "HTTP/1.1 200 OK\r\n\(name): v\r\n")
        #expect(builder.contentLength == nil && !builder.connectionClose && !builder.hasDate && !builder.hasServer)
    }

    @Test(arguments: ["tE", "tRaIlEr", "UPGRADE", "TRAILERS", "KEEP-ALIVE", "transfer-ENCODING",
                      "Proxy-AUTHENTICATE", "proxy-authorization"])
    func hopByHopNamesAreDroppedInAnyCase(name: String) throws {
        var builder = ResponseHeadBuilder()
        try builder.begin("200 OK")
        try builder.add(name, "v")
        #expect(builder.text == "HTTP/1.1 200 OK\r\n")
    }
}
