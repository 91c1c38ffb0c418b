#if os(Linux)
import CEpollShim
import Glibc

/// Edge-triggered epoll. The 64-bit user data packs the registration id next to the fd.
public final class EpollBackend: ReadinessBackend {
    public let name = "epoll"
    private let epfd: Int32
    /// A second close would close whatever descriptor reused the number.
    private var closed = false
    /// Grows by doubling when a poll fills it, so a busy server drains more per call.
    private var buffer: UnsafeMutableBufferPointer<CEpollEvent>

    public init(initialCapacity: Int = 256) throws(SyscallError) {
        epfd = try retryingBlocking("epoll_create1") { CEpoll_create() }
        // unsafe: a raw event array handed to epoll_wait; freed in deinit.
        buffer = .allocate(capacity: initialCapacity)
    }

    deinit {
        buffer.deallocate()
    }

    public func close() {
        guard !closed else { return }
        closed = true
        closeDescriptor(epfd)
    }

    private static func mask(_ interest: IOEvents) -> UInt32 {
        if interest.contains(.exclusive) {
            // The kernel allows only IN, OUT, ET (and WAKEUP) next to EXCLUSIVE; RDHUP is EINVAL.
            var mask = CEpoll_ET | CEpoll_EXCLUSIVE
            if interest.contains(.readable) { mask |= CEpoll_IN }
            if interest.contains(.writable) { mask |= CEpoll_OUT }
            return mask
        }
        var mask = CEpoll_ET | CEpoll_RDHUP
        if interest.contains(.readable) { mask |= CEpoll_IN }
        if interest.contains(.writable) { mask |= CEpoll_OUT }
        return mask
    }

    private static func pack(fd: Int32, id: UInt32) -> UInt64 {
        UInt64(id) << 32 | UInt64(UInt32(bitPattern: fd))
    }

    public func register(fd: Int32, id: UInt32, interest: IOEvents) throws(SyscallError) {
        _ = try retryingBlocking("epoll_ctl(ADD)") {
            CEpoll_ctl(epfd, CEpoll_CTL_ADD, fd, Self.mask(interest), Self.pack(fd: fd, id: id))
        }
    }

    /// Not for `.exclusive` registrations: EPOLL_CTL_MOD refuses EPOLLEXCLUSIVE.
    public func reregister(fd: Int32, id: UInt32, interest: IOEvents) throws(SyscallError) {
        _ = try retryingBlocking("epoll_ctl(MOD)") {
            CEpoll_ctl(epfd, CEpoll_CTL_MOD, fd, Self.mask(interest), Self.pack(fd: fd, id: id))
        }
    }

    public func deregister(fd: Int32) throws(SyscallError) {
        _ = try retryingBlocking("epoll_ctl(DEL)") { CEpoll_ctl(epfd, CEpoll_CTL_DEL, fd, 0, 0) }
    }

    /// Closing the last descriptor of an open file removes it from every epoll set: one
    /// epoll_ctl per connection saved (events already fetched are dropped by registration id).
    public func deregisterBeforeClose(fd: Int32) throws(SyscallError) {}

    /// The kernel delivers the next edge by itself.
    @inline(__always)
    public func rearm(fd: Int32, events: IOEvents) {}

    public func poll(timeoutMilliseconds: Int32, into events: inout [ReadyEvent]) throws(SyscallError) {
        let count: Int32
        switch try retrying("epoll_wait", {
            CEpoll_wait(epfd, buffer.baseAddress, Int32(buffer.count), timeoutMilliseconds)
        }) {
        case .done(let n): count = n
        case .wouldBlock: count = 0
        }
        for i in 0..<Int(count) {
            let raw = buffer[i]
            var bits: IOEvents = []
            if raw.events & CEpoll_IN != 0 { bits.insert(.readable) }
            if raw.events & CEpoll_OUT != 0 { bits.insert(.writable) }
            if raw.events & (CEpoll_RDHUP | CEpoll_HUP) != 0 { bits.insert(.hangup) }
            if raw.events & CEpoll_ERR != 0 { bits.insert(.error) }
            events.append(ReadyEvent(
                fd: Int32(bitPattern: UInt32(truncatingIfNeeded: raw.data)),
                registrationID: UInt32(truncatingIfNeeded: raw.data >> 32),
                events: bits))
        }
        if Int(count) == buffer.count {
            let bigger = UnsafeMutableBufferPointer<CEpollEvent>.allocate(capacity: buffer.count * 2)
            buffer.deallocate()
            buffer = bigger
        }
    }
}
#endif
