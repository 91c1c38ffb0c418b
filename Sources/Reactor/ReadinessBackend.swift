/// Readiness bits, independent of the backend that reports them.
public struct IOEvents: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let readable = IOEvents(rawValue: 1 << 0)
    public static let writable = IOEvents(rawValue: 1 << 1)
    /// The peer closed its side (or the connection hung up entirely).
    public static let hangup = IOEvents(rawValue: 1 << 2)
    public static let error = IOEvents(rawValue: 1 << 3)
    /// A registration hint, never reported: the descriptor (a listening socket) is shared with
    /// other processes, so wake only one of the waiters per event (epoll's EPOLLEXCLUSIVE).
    /// Backends without such a mode ignore it; every waiter then wakes and all but one get EAGAIN.
    public static let exclusive = IOEvents(rawValue: 1 << 4)
}

/// One readiness report: which descriptor, under which registration, and what changed.
public struct ReadyEvent: Sendable, Equatable {
    public var fd: Int32
    public var registrationID: UInt32
    public var events: IOEvents

    public init(fd: Int32, registrationID: UInt32, events: IOEvents) {
        self.fd = fd
        self.registrationID = registrationID
        self.events = events
    }
}

/// The contract every readiness backend (epoll, select, kqueue) implements.
///
/// Delivery is edge-triggered: an event is reported when readiness *changes*, so the caller reads
/// and writes until EAGAIN before waiting again. Backends that are level-triggered underneath
/// (select) emulate this. Each registration carries an id chosen by the caller; a report for an
/// fd whose id no longer matches is stale (the fd was closed and reused) and the loop drops it.
public protocol ReadinessBackend: AnyObject {
    /// The name logged at start ("epoll", "select", "kqueue").
    var name: String { get }

    func register(fd: Int32, id: UInt32, interest: IOEvents) throws(SyscallError)
    func reregister(fd: Int32, id: UInt32, interest: IOEvents) throws(SyscallError)
    /// Must be called before the fd is closed.
    func deregister(fd: Int32) throws(SyscallError)
    /// Like `deregister`, for an fd about to be closed that no other descriptor or process
    /// shares: a backend whose kernel forgets a closed fd by itself (epoll) may skip the call.
    func deregisterBeforeClose(fd: Int32) throws(SyscallError)

    /// The consumer drained `events` to EAGAIN (or a short read): a backend that emulates edges
    /// starts watching for them again. Edge-triggered kernels need nothing here.
    func rearm(fd: Int32, events: IOEvents)

    /// Waits up to `timeoutMilliseconds` (-1: forever) and appends what became ready to `events`.
    func poll(timeoutMilliseconds: Int32, into events: inout [ReadyEvent]) throws(SyscallError)

    func close()
}

extension ReadinessBackend {
    public func deregisterBeforeClose(fd: Int32) throws(SyscallError) {
        try deregister(fd: fd)
    }
}
