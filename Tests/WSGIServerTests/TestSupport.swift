#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import Testing
import TestSupport
@testable import WSGIServer

// MARK: Requests

/// A request as a client would send it; `exchange()` builds the head bytes and the parsed
/// offsets into them, as the parser would.
struct TestRequest {
    var method = "GET"
    var target = "/"
    var versionMinor = 1
    var headers: [(String, String)] = []
    var framing: BodyFraming = .none
    var keepAlive: Bool?
    var expectContinue = false

    func parsed() -> (request: ParsedRequest, head: [UInt8]) {
        var head: [UInt8] = []
        var request = ParsedRequest()
        head += Array(method.utf8)
        request.method = 0..<head.count
        head.append(32)
        let targetStart = head.count
        head += Array(target.utf8)
        request.target = targetStart..<head.count
        if let q = target.utf8.firstIndex(of: UInt8(ascii: "?")) {
            let offset = target.utf8.distance(from: target.utf8.startIndex, to: q)
            request.path = targetStart..<(targetStart + offset)
            request.query = (targetStart + offset + 1)..<head.count
        } else {
            request.path = request.target
        }
        head += Array(" HTTP/1.\(versionMinor)\r\n".utf8)
        for (name, value) in headers {
            let nameStart = head.count
            head += Array(name.utf8)
            let nameRange = nameStart..<head.count
            head += Array(": ".utf8)
            let valueStart = head.count
            head += Array(value.utf8)
            request.headers.append(HeaderField(name: nameRange, value: valueStart..<head.count))
            head += [13, 10]
        }
        head += [13, 10]
        request.versionMinor = versionMinor
        request.framing = framing
        request.keepAlive = keepAlive ?? (versionMinor == 1)
        request.expectContinue = expectContinue
        request.methodIsHead = method == "HEAD"
        request.headLength = head.count
        return (request, head)
    }

    func exchange() -> HTTPExchange {
        let (request, head) = parsed()
        return HTTPExchange.forTesting(request: request, head: head, connection: testConnection)
    }
}

let testConnection = ConnectionInfo(remoteAddress: "127.0.0.1", remotePort: 40000, serverName: "localhost", serverPort: 8000)

// MARK: Driving an exchange

extension HTTPExchange {
    func begin(_ status: String) throws {
        try Array(status.utf8).withUnsafeBytes { raw in try beginResponse(status: raw) }
    }

    func header(_ name: String, _ value: String) throws {
        try Array(name.utf8).withUnsafeBytes { name in
            try Array(value.utf8).withUnsafeBytes { value in try addHeader(name: name, value: value) }
        }
    }

    @discardableResult
    func send(_ text: String, final: Bool = false) -> SendResult {
        send(Array(text.utf8), final: final)
    }

    @discardableResult
    func send(_ bytes: [UInt8], final: Bool = false) -> SendResult {
        bytes.withUnsafeBytes { send($0, final: final) }
    }

    /// What the server thread would take now.
    func take() -> (bytes: [UInt8], output: ExchangeOutput) {
        var buffer: [UInt8] = []
        let output = collect(into: &buffer)
        return (buffer, output)
    }

    @discardableResult
    func deliver(_ text: String) -> Bool {
        deliver(Array(text.utf8))
    }

    @discardableResult
    func deliver(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { deliverBody($0) }
    }

    /// One readBody call with a buffer of `size`; the bytes read (nil for -1).
    func read(_ size: Int) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: size)
        let n = buffer.withUnsafeMutableBytes { readBody(into: $0) }
        return n < 0 ? nil : Array(buffer[0..<n])
    }
}

// MARK: Responses

/// A response split the way a client reads it.
struct TestResponse {
    var statusLine: String
    var headers: [(name: String, value: String)]
    var body: [UInt8]

    init?(_ bytes: [UInt8]) {
        guard let end = bytes.firstRange(of: [13, 10, 13, 10]) else { return nil }
        let lines = String(decoding: bytes[..<end.lowerBound], as: UTF8.self)
            .split(separator: "\r\n", omittingEmptySubsequences: false)
        statusLine = String(lines[0])
        headers = lines.dropFirst().map { line in
            let colon = line.firstIndex(of: ":")!
            return (String(line[..<colon]), String(line[line.index(after: colon)...].drop { $0 == " " }))
        }
        body = Array(bytes[end.upperBound...])
    }

    func values(_ name: String) -> [String] {
        headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
    }

    func value(_ name: String) -> String? { values(name).first }

    var bodyText: String { String(decoding: body, as: UTF8.self) }

    /// Header names in order, without Date (whose value changes every second).
    var headerNamesAndValuesWithoutDate: [String] {
        headers.filter { $0.name.lowercased() != "date" }.map { "\($0.name): \($0.value)" }
    }
}

/// Records an issue unless `body` throws a ResponseHeadError.
func expectHeadError(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) {
    do {
        try body()
        Issue.record("accepted", sourceLocation: sourceLocation)
    } catch is ResponseHeadError {
    } catch {
        Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
    }
}

/// The server's own `Date` format: `Sun, 06 Nov 1994 08:49:37 GMT`.
func looksLikeIMFDate(_ text: String) -> Bool {
    let bytes = Array(text.utf8)
    guard bytes.count == 29, text.hasSuffix(" GMT") else { return false }
    let digits = [5, 6, 12, 13, 14, 15, 17, 18, 20, 21, 23, 24]
    return digits.allSatisfy { bytes[$0] >= 48 && bytes[$0] <= 57 } && bytes[3] == 44
}
