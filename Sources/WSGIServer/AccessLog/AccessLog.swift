#if canImport(Glibc)
import Glibc
#endif
import Reactor

/// The access log: written by the server thread only, never by the Python workers and never
/// with the GIL. Lines are formatted into one reused buffer and written with write(2) when it
/// passes `flushThreshold`, at least once a second (a loop timer) and at shutdown.
public final class AccessLog: TimerTarget {
    public let format: AccessLogFormat
    private let fd: Int32
    private let ownsDescriptor: Bool
    private var buffer: [UInt8] = []
    private var loop: EventLoop?
    private let timer = Timer()
    private var failed = false
    /// Writes to a pipe are atomic only up to PIPE_BUF: with several processes on one stdout
    /// pipe, a larger write could interleave with another's mid-line. Files opened with O_APPEND
    /// take each write whole.
    private let isPipe: Bool
    /// The formatted time stamp of `stampSecond`, reused for every line in the same second.
    private var stampSecond = -1
    private var stamp: [UInt8] = []

    static let flushThreshold = 32 * 1024
    static let flushIntervalMilliseconds: Int64 = 1000

    /// `path` "-" is stdout; anything else is opened for appending (created 0644 if missing).
    public init(path: String, format: AccessLogFormat) throws(SyscallError) {
        self.format = format
        if path == "-" {
            fd = STDOUT_FILENO
            ownsDescriptor = false
        } else {
            let opened = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
            guard opened >= 0 else { throw SyscallError("open(\(path))", errno: errno) }
            fd = opened
            ownsDescriptor = true
        }
        var info = stat()
        isPipe = fstat(fd, &info) == 0 && (info.st_mode & S_IFMT) == S_IFIFO
        buffer.reserveCapacity(Self.flushThreshold + 4096)
        timer.target = self
    }

    deinit {
        timer.target = nil  // see Timer.target
        flush()
        if ownsDescriptor { close(fd) }
    }

    /// Called once by the server, on its thread, before the loop runs.
    func attach(to loop: EventLoop) {
        self.loop = loop
    }

    /// One line for a completed response.
    func record(_ exchange: HTTPExchange, _ entry: AccessLogEntry) {
        let request = exchange.request
        exchange.withHeadBytes { head in
            var referer = UnsafeRawBufferPointer(start: nil, count: 0)
            var userAgent = UnsafeRawBufferPointer(start: nil, count: 0)
            if format != .common {
                for field in request.headers {
                    if ForwardedRequest.equalsLower(head, field.name, "referer") {
                        referer = UnsafeRawBufferPointer(rebasing: head[field.value])
                    } else if ForwardedRequest.equalsLower(head, field.name, "user-agent") {
                        userAgent = UnsafeRawBufferPointer(rebasing: head[field.value])
                    }
                }
            }
            let method = UnsafeRawBufferPointer(rebasing: head[request.method])
            let target = UnsafeRawBufferPointer(rebasing: head[request.target])
            let client = exchange.forwarded.client.map { UnsafeRawBufferPointer(rebasing: head[$0]) }
            switch format {
            case .common, .combined:
                if let client {
                    AccessLogLine.appendText(client, to: &buffer)
                } else {
                    AccessLogLine.appendString(exchange.connection.remoteAddress, to: &buffer)
                }
                buffer.append(contentsOf: " - - [".utf8)
                appendStamp(json: false)
                buffer.append(contentsOf: "] \"".utf8)
                AccessLogLine.appendText(method, to: &buffer)
                buffer.append(UInt8(ascii: " "))
                AccessLogLine.appendText(target, to: &buffer)
                buffer.append(contentsOf: (request.versionMinor == 0 ? " HTTP/1.0\" " : " HTTP/1.1\" ").utf8)
                AccessLogLine.appendDecimal(entry.status, to: &buffer)
                buffer.append(UInt8(ascii: " "))
                AccessLogLine.appendDecimal(entry.bodyBytes, to: &buffer)
                if format == .combined {
                    buffer.append(contentsOf: " \"".utf8)
                    AccessLogLine.appendText(referer, to: &buffer)
                    buffer.append(contentsOf: "\" \"".utf8)
                    AccessLogLine.appendText(userAgent, to: &buffer)
                    buffer.append(UInt8(ascii: "\""))
                }
            case .json:
                buffer.append(contentsOf: "{\"time\":\"".utf8)
                appendStamp(json: true)
                buffer.append(contentsOf: "\",\"remote_addr\":".utf8)
                if let client {
                    AccessLogLine.appendJSONString(client, to: &buffer)
                } else {
                    var address = exchange.connection.remoteAddress
                    address.withUTF8 { AccessLogLine.appendJSONString(UnsafeRawBufferPointer($0), to: &buffer) }
                }
                buffer.append(contentsOf: ",\"method\":".utf8)
                AccessLogLine.appendJSONString(method, to: &buffer)
                buffer.append(contentsOf: ",\"target\":".utf8)
                AccessLogLine.appendJSONString(target, to: &buffer)
                buffer.append(contentsOf: (request.versionMinor == 0 ? ",\"protocol\":\"HTTP/1.0\"" : ",\"protocol\":\"HTTP/1.1\"").utf8)
                buffer.append(contentsOf: ",\"status\":".utf8)
                AccessLogLine.appendDecimal(entry.status, to: &buffer)
                buffer.append(contentsOf: ",\"bytes\":".utf8)
                AccessLogLine.appendDecimal(entry.bodyBytes, to: &buffer)
                buffer.append(contentsOf: ",\"referer\":".utf8)
                AccessLogLine.appendJSONString(referer, to: &buffer)
                buffer.append(contentsOf: ",\"user_agent\":".utf8)
                AccessLogLine.appendJSONString(userAgent, to: &buffer)
                buffer.append(contentsOf: ",\"duration_us\":".utf8)
                AccessLogLine.appendDecimal(entry.durationMicroseconds, to: &buffer)
                buffer.append(UInt8(ascii: "}"))
            }
        }
        lineEnded()
    }

    /// One line for a request the server refused itself (400, 408, 413, 414, 431...): its head
    /// was not, or not wholly, understood, so the request fields are `-` (null in JSON).
    func recordRejected(remoteAddress: String, status: Int, bodyBytes: Int) {
        switch format {
        case .common, .combined:
            AccessLogLine.appendString(remoteAddress, to: &buffer)
            buffer.append(contentsOf: " - - [".utf8)
            appendStamp(json: false)
            buffer.append(contentsOf: "] \"-\" ".utf8)
            AccessLogLine.appendDecimal(status, to: &buffer)
            buffer.append(UInt8(ascii: " "))
            AccessLogLine.appendDecimal(bodyBytes, to: &buffer)
            if format == .combined { buffer.append(contentsOf: " \"-\" \"-\"".utf8) }
        case .json:
            buffer.append(contentsOf: "{\"time\":\"".utf8)
            appendStamp(json: true)
            buffer.append(contentsOf: "\",\"remote_addr\":".utf8)
            var address = remoteAddress
            address.withUTF8 { AccessLogLine.appendJSONString(UnsafeRawBufferPointer($0), to: &buffer) }
            buffer.append(contentsOf: ",\"method\":null,\"target\":null,\"protocol\":null,\"status\":".utf8)
            AccessLogLine.appendDecimal(status, to: &buffer)
            buffer.append(contentsOf: ",\"bytes\":".utf8)
            AccessLogLine.appendDecimal(bodyBytes, to: &buffer)
            buffer.append(contentsOf: ",\"referer\":null,\"user_agent\":null,\"duration_us\":null}".utf8)
        }
        lineEnded()
    }

    private func lineEnded() {
        buffer.append(UInt8(ascii: "\n"))
        if buffer.count >= Self.flushThreshold {
            flush()
        } else if let loop, !timer.isArmed {
            loop.timers.arm(timer, deadline: loop.now + Self.flushIntervalMilliseconds)
        }
    }

    public func timerFired(_ timer: Timer) {
        flush()
    }

    /// Writes everything buffered. A failing log is reported once and then dropped: the server
    /// keeps serving (a full disk must not take the site down).
    public func flush() {
        var offset = 0
        while offset < buffer.count {
            let end = isPipe ? pipeChunkEnd(from: offset) : buffer.count
            let n = buffer.withUnsafeBytes { write(fd, $0.baseAddress! + offset, end - offset) }
            if n > 0 {
                offset += n
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                if !failed {
                    failed = true
                    Log.error("access log write failed: \(String(cString: strerror(errno))); dropping lines")
                }
                break
            }
        }
        buffer.removeAll(keepingCapacity: true)
        if let loop { loop.timers.cancel(timer) }
    }

    /// Whole lines totalling at most PIPE_BUF bytes from `offset` (one longer line alone).
    private func pipeChunkEnd(from offset: Int) -> Int {
        let limit = min(buffer.count, offset + Int(PIPE_BUF))
        if limit == buffer.count { return limit }
        var end = limit
        while end > offset && buffer[end - 1] != UInt8(ascii: "\n") { end -= 1 }
        if end > offset { return end }
        end = limit
        while end < buffer.count && buffer[end - 1] != UInt8(ascii: "\n") { end += 1 }
        return end
    }

    /// `29/Nov/2026:09:26:49 +0000` (text) or `2026-11-29T09:26:49Z` (JSON), in UTC, formatted
    /// once per second.
    private func appendStamp(json: Bool) {
        let now = time(nil)
        if Int(now) != stampSecond {
            stampSecond = Int(now)
            var seconds = now
            var parts = tm()
            gmtime_r(&seconds, &parts)
            var text = [CChar](repeating: 0, count: 64)
            let count = strftime(&text, text.count, json ? "%Y-%m-%dT%H:%M:%SZ" : "%d/%b/%Y:%H:%M:%S +0000", &parts)
            stamp = text.prefix(count).map { UInt8(bitPattern: $0) }
        }
        buffer.append(contentsOf: stamp)
    }
}
