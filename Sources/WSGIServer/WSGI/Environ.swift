import CPythonShim

#if canImport(Glibc)
import Glibc
#endif

/// Builds each request's environ (PEP 3333) on a worker thread holding the GIL: a copy of the
/// worker's prebuilt base dict, plus the per-request values. Keys are interned once in the shim;
/// strs that rarely change between requests (server name and port, client address, scheme) are
/// kept and reused while they stay the same.
struct Environ {
    private let base: OpaquePointer
    private let scriptName: [UInt8]
    /// Reused buffer for the percent-decoded path.
    private var decodedPath: [UInt8] = []
    private var serverName = CachedStr<String>(strFromText)
    private var serverPort = CachedStr<Int>(YPy_StrFromLong)
    private var remoteAddress = CachedStr<String>(strFromText)
    private var urlScheme = CachedStr<String>(strFromText)

    /// base: the worker's YPy_EnvironBase (owned for the worker's life).
    init(base: OpaquePointer, scriptName: String) {
        self.base = base
        self.scriptName = Array(scriptName.utf8)
        decodedPath.reserveCapacity(1024)
    }

    /// The environ for the exchange's request, or nil with a Python exception set.
    mutating func build(for exchange: HTTPExchange, input: OpaquePointer) -> OpaquePointer? {
        guard refreshBase(exchange.connection), let environ = YPy_EnvironCopy(base) else { return nil }
        if fillRequest(environ, exchange) && fillConnection(environ, exchange.connection)
            && (exchange.forwarded.isEmpty || fillForwarded(environ, exchange))
            && YPy_EnvironSet(environ, YPY_KEY_WSGI_INPUT, input) == 0
        {
            return environ
        }
        YPy_DecRef(environ)
        return nil
    }

    private mutating func fillRequest(_ environ: OpaquePointer, _ exchange: HTTPExchange) -> Bool {
        let request = exchange.request
        return exchange.withHeadBytes { head -> Bool in
            guard let start = head.baseAddress else { return false }
            func slice(_ range: Range<Int>) -> UnsafeRawBufferPointer {
                UnsafeRawBufferPointer(start: start + range.lowerBound, count: range.count)
            }
            let method = slice(request.method)
            guard YPy_EnvironSetMethod(environ, method.baseAddress, method.count) == 0,
                setPathInfo(environ, slice(request.path)),
                YPy_EnvironSetProtocol(environ, Int32(request.versionMinor)) == 0
            else { return false }
            if let query = request.query {
                let bytes = slice(query)
                guard YPy_EnvironSetLatin1(environ, YPY_KEY_QUERY_STRING, bytes.baseAddress, bytes.count) == 0
                else { return false }
            }
            for field in request.headers {
                let name = slice(field.name)
                let value = slice(field.value)
                guard YPy_EnvironAddHeader(environ, name.baseAddress, name.count, value.baseAddress, value.count) == 0
                else { return false }
            }
            return true
        }
    }

    /// PATH_INFO: the path percent-decoded, as latin-1, without the SCRIPT_NAME prefix.
    private mutating func setPathInfo(_ environ: OpaquePointer, _ raw: UnsafeRawBufferPointer) -> Bool {
        if raw.isEmpty || memchr(raw.baseAddress!, Int32(UInt8(ascii: "%")), raw.count) == nil {
            return setPath(environ, raw)
        }
        Self.percentDecode(raw, into: &decodedPath)
        return decodedPath.withUnsafeBytes { setPath(environ, $0) }
    }

    private func setPath(_ environ: OpaquePointer, _ path: UnsafeRawBufferPointer) -> Bool {
        var path = path
        if !scriptName.isEmpty && path.count >= scriptName.count
            && (path.count == scriptName.count || path[scriptName.count] == UInt8(ascii: "/"))
            && scriptName.withUnsafeBytes({ memcmp($0.baseAddress!, path.baseAddress!, $0.count) == 0 })
        {
            path = UnsafeRawBufferPointer(rebasing: path[scriptName.count...])
        }
        return YPy_EnvironSetLatin1(environ, YPY_KEY_PATH_INFO, path.baseAddress, path.count) == 0
    }

    /// %XX becomes the byte XX; a '%' not followed by two hex digits stays as it is.
    static func percentDecode(_ source: UnsafeRawBufferPointer, into output: inout [UInt8]) {
        output.removeAll(keepingCapacity: true)
        var index = 0
        while index < source.count {
            let byte = source[index]
            if byte == UInt8(ascii: "%"), index + 2 < source.count,
                let high = hexValue(source[index + 1]), let low = hexValue(source[index + 2])
            {
                output.append(high << 4 | low)
                index += 3
            } else {
                output.append(byte)
                index += 1
            }
        }
    }

    private static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return digit - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// SERVER_NAME, SERVER_PORT and REMOTE_ADDR rarely change from one request to the next (one
    /// listener; clients behind one address): they live in the worker's base dict, which every
    /// environ is copied from, and are stored there only when they change. Three dict stores
    /// less per request (callgrind: ~650 instructions).
    private mutating func refreshBase(_ connection: ConnectionInfo) -> Bool {
        let name = serverName.update(connection.serverName)
        let port = serverPort.update(connection.serverPort)
        let address = remoteAddress.update(connection.remoteAddress)
        if let nameObject = name.object, let portObject = port.object, let addressObject = address.object,
            !name.changed || YPy_EnvironSet(base, YPY_KEY_SERVER_NAME, nameObject) == 0,
            !port.changed || YPy_EnvironSet(base, YPY_KEY_SERVER_PORT, portObject) == 0,
            !address.changed || YPy_EnvironSet(base, YPY_KEY_REMOTE_ADDR, addressObject) == 0
        {
            return true
        }
        // The base may now hold other values than the caches say: start both afresh.
        serverName.forget()
        serverPort.forget()
        remoteAddress.forget()
        return false
    }

    private mutating func fillConnection(_ environ: OpaquePointer, _ connection: ConnectionInfo) -> Bool {
        guard let remotePort = YPy_StrFromLong(connection.remotePort) else { return false }
        defer { YPy_DecRef(remotePort) }
        guard YPy_EnvironSet(environ, YPY_KEY_REMOTE_PORT, remotePort) == 0 else { return false }
        // The base says "http"; only other schemes cost a dict store.
        if connection.urlScheme != "http" {
            guard let scheme = urlScheme.object(connection.urlScheme),
                YPy_EnvironSet(environ, YPY_KEY_WSGI_URL_SCHEME, scheme) == 0
            else { return false }
        }
        return true
    }
}

extension Environ {
    /// A trusted proxy's word replaces what the socket said: REMOTE_ADDR (REMOTE_PORT becomes
    /// "0", the client's port being unknown), wsgi.url_scheme, and HTTP_HOST with SERVER_NAME
    /// and SERVER_PORT taken from it (the port defaulting to the scheme's).
    private func fillForwarded(_ environ: OpaquePointer, _ exchange: HTTPExchange) -> Bool {
        let forwarded = exchange.forwarded
        return exchange.withHeadBytes { head -> Bool in
            func set(_ key: YPyEnvironKey, _ range: Range<Int>) -> Bool {
                let bytes = UnsafeRawBufferPointer(rebasing: head[range])
                return YPy_EnvironSetLatin1(environ, key, bytes.baseAddress, bytes.count) == 0
            }
            func set(_ key: YPyEnvironKey, _ text: StaticString) -> Bool {
                YPy_EnvironSetLatin1(environ, key, text.utf8Start, text.utf8CodeUnitCount) == 0
            }
            if let client = forwarded.client {
                guard set(YPY_KEY_REMOTE_ADDR, client), set(YPY_KEY_REMOTE_PORT, "0") else { return false }
            }
            if let https = forwarded.https {
                guard set(YPY_KEY_WSGI_URL_SCHEME, https ? "https" : "http") else { return false }
            }
            if let host = forwarded.host {
                // "name", "name:port", "[v6]" or "[v6]:port"
                var nameEnd = host.upperBound
                var portStart: Int?
                let bracketed = head[host.lowerBound] == UInt8(ascii: "[")
                for index in host where head[index] == UInt8(ascii: bracketed ? "]" : ":") {
                    if bracketed {
                        nameEnd = index + 1
                        if index + 1 < host.upperBound && head[index + 1] == UInt8(ascii: ":") { portStart = index + 2 }
                    } else {
                        nameEnd = index
                        portStart = index + 1
                    }
                    break
                }
                let https = forwarded.https ?? (exchange.connection.urlScheme == "https")
                guard set(YPY_KEY_HTTP_HOST, host), set(YPY_KEY_SERVER_NAME, host.lowerBound..<nameEnd) else { return false }
                if let portStart, portStart < host.upperBound {
                    guard set(YPY_KEY_SERVER_PORT, portStart..<host.upperBound) else { return false }
                } else {
                    guard set(YPY_KEY_SERVER_PORT, https ? "443" : "80") else { return false }
                }
            }
            return true
        }
    }
}

/// One str kept while the value it was made from (a Swift string or a port number) stays
/// the same.
private struct CachedStr<Value: Equatable> {
    private var value: Value?
    private var cached: OpaquePointer?
    /// Makes the str, or nil with a Python exception set.
    private let make: (Value) -> OpaquePointer?

    init(_ make: @escaping (Value) -> OpaquePointer?) {
        self.make = make
    }

    /// A borrowed str for value (owned by the cache), or nil with a Python exception set.
    mutating func object(_ value: Value) -> OpaquePointer? {
        update(value).object
    }

    mutating func forget() {
        if let cached { YPy_DecRef(cached) }
        cached = nil
        value = nil
    }

    /// The str for `value`, and whether it differs from the previous call's.
    mutating func update(_ value: Value) -> (object: OpaquePointer?, changed: Bool) {
        if let cached, self.value == value { return (cached, false) }
        guard let made = make(value) else { return (nil, true) }
        if let cached { YPy_DecRef(cached) }
        cached = made
        self.value = value
        return (made, true)
    }
}

private func strFromText(_ text: String) -> OpaquePointer? {
    var copy = text
    return copy.withUTF8 { YPy_StrFromLatin1($0.baseAddress, $0.count) }
}
