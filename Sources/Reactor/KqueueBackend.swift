#if canImport(Darwin) || os(FreeBSD) || os(OpenBSD)
#if canImport(Darwin)
import Darwin
#else
import Glibc
#endif

/// kqueue with EV_CLEAR, which gives epoll's edge-triggered delivery on BSD-like systems. The
/// registration id travels in `udata` next to the fd in `ident`.
public final class KqueueBackend: ReadinessBackend {
    public let name = "kqueue"
    private let kq: Int32
    private var buffer: UnsafeMutableBufferPointer<kevent>

    public init(initialCapacity: Int = 256) throws(SyscallError) {
        kq = try retryingBlocking("kqueue") { kqueue() }
        // unsafe: a raw event array handed to kevent; freed in deinit.
        buffer = .allocate(capacity: initialCapacity)
    }

    deinit {
        buffer.deallocate()
    }

    public func close() {
        closeDescriptor(kq)
    }

    private func change(fd: Int32, filter: Int16, flags: UInt16, id: UInt32) throws(SyscallError) {
        var event = kevent()
        event.ident = UInt(fd)
        event.filter = filter
        event.flags = flags
        event.udata = UnsafeMutableRawPointer(bitPattern: UInt(id))
        _ = try retryingBlocking("kevent(change)") { kevent(kq, &event, 1, nil, 0, nil) }
    }

    private func apply(fd: Int32, id: UInt32, interest: IOEvents) throws(SyscallError) {
        let read = interest.contains(.readable) ? UInt16(EV_ADD | EV_CLEAR | EV_ENABLE) : UInt16(EV_ADD | EV_DISABLE)
        let write = interest.contains(.writable) ? UInt16(EV_ADD | EV_CLEAR | EV_ENABLE) : UInt16(EV_ADD | EV_DISABLE)
        try change(fd: fd, filter: Int16(EVFILT_READ), flags: read, id: id)
        try change(fd: fd, filter: Int16(EVFILT_WRITE), flags: write, id: id)
    }

    public func register(fd: Int32, id: UInt32, interest: IOEvents) throws(SyscallError) {
        try apply(fd: fd, id: id, interest: interest)
    }

    public func reregister(fd: Int32, id: UInt32, interest: IOEvents) throws(SyscallError) {
        try apply(fd: fd, id: id, interest: interest)
    }

    public func deregister(fd: Int32) throws(SyscallError) {
        // One of the two filters may never have been added; ENOENT there is expected.
        try? change(fd: fd, filter: Int16(EVFILT_READ), flags: UInt16(EV_DELETE), id: 0)
        try? change(fd: fd, filter: Int16(EVFILT_WRITE), flags: UInt16(EV_DELETE), id: 0)
    }

    /// EV_CLEAR delivers the next edge by itself.
    public func rearm(fd: Int32, events: IOEvents) {}

    public func poll(timeoutMilliseconds: Int32, into events: inout [ReadyEvent]) throws(SyscallError) {
        var timeout = timespec(tv_sec: Int(timeoutMilliseconds / 1000), tv_nsec: Int(timeoutMilliseconds % 1000) * 1_000_000)
        let count: Int32
        switch try retrying("kevent(wait)", {
            timeoutMilliseconds < 0
                ? kevent(kq, nil, 0, buffer.baseAddress, Int32(buffer.count), nil)
                : kevent(kq, nil, 0, buffer.baseAddress, Int32(buffer.count), &timeout)
        }) {
        case .done(let n): count = n
        case .wouldBlock: count = 0
        }
        for i in 0..<Int(count) {
            let raw = buffer[i]
            var bits: IOEvents = []
            if raw.filter == Int16(EVFILT_READ) { bits.insert(.readable) }
            if raw.filter == Int16(EVFILT_WRITE) { bits.insert(.writable) }
            if raw.flags & UInt16(EV_EOF) != 0 { bits.insert(.hangup) }
            if raw.flags & UInt16(EV_ERROR) != 0 { bits.insert(.error) }
            events.append(ReadyEvent(
                fd: Int32(raw.ident),
                registrationID: UInt32(UInt(bitPattern: raw.udata)),
                events: bits))
        }
        if Int(count) == buffer.count {
            let bigger = UnsafeMutableBufferPointer<kevent>.allocate(capacity: buffer.count * 2)
            buffer.deallocate()
            buffer = bigger
        }
    }
}
#endif
