#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CEpollShim

/// The portable fallback: select(2), with edge-triggered delivery emulated on top of its level
/// triggering so the connection code is the same as with epoll.
///
/// A direction is *armed* when registered or re-armed by the consumer (after it hit EAGAIN).
/// Only armed directions go into the fd_sets; once reported, a direction is disarmed until the
/// next `rearm`. A paused reader therefore costs nothing instead of making select spin.
/// Descriptors at or above FD_SETSIZE cannot be watched and are refused at registration.
public final class SelectBackend: ReadinessBackend {
    public let name = "select"
    public static var descriptorLimit: Int { Int(CEpoll_FD_SETSIZE()) }

    private struct Watch {
        var id: UInt32 = 0
        var registered = false
        var interest: IOEvents = []
        var armed: IOEvents = []
    }

    private var watches: [Watch] = []
    private var highest: Int32 = -1
    private var readSet = fd_set()
    private var writeSet = fd_set()

    public init() {}

    public func close() {}

    public func register(fd: Int32, id: UInt32, interest: IOEvents) throws(SyscallError) {
        guard fd >= 0, Int(fd) < Self.descriptorLimit else {
            throw SyscallError("select: fd \(fd) is at or above FD_SETSIZE (\(Self.descriptorLimit))", errno: EMFILE)
        }
        if Int(fd) >= watches.count {
            watches.append(contentsOf: repeatElement(Watch(), count: Int(fd) + 1 - watches.count))
        }
        watches[Int(fd)] = Watch(id: id, registered: true, interest: interest, armed: interest)
        highest = max(highest, fd)
    }

    public func reregister(fd: Int32, id: UInt32, interest: IOEvents) throws(SyscallError) {
        guard Int(fd) < watches.count, watches[Int(fd)].registered else {
            throw SyscallError("select: reregister of unknown fd \(fd)", errno: ENOENT)
        }
        watches[Int(fd)] = Watch(id: id, registered: true, interest: interest, armed: interest)
    }

    public func deregister(fd: Int32) throws(SyscallError) {
        guard Int(fd) < watches.count, watches[Int(fd)].registered else {
            throw SyscallError("select: deregister of unknown fd \(fd)", errno: ENOENT)
        }
        watches[Int(fd)] = Watch()
        while highest >= 0 && !watches[Int(highest)].registered { highest -= 1 }
    }

    public func rearm(fd: Int32, events: IOEvents) {
        guard Int(fd) < watches.count, watches[Int(fd)].registered else { return }
        watches[Int(fd)].armed.formUnion(events.intersection(watches[Int(fd)].interest))
    }

    public func poll(timeoutMilliseconds: Int32, into events: inout [ReadyEvent]) throws(SyscallError) {
        // The sets are rebuilt every call: select overwrites them with its results.
        CEpoll_FD_ZERO(&readSet)
        CEpoll_FD_ZERO(&writeSet)
        var top: Int32 = -1
        if highest >= 0 {
            for fd in 0...highest {
                let watch = watches[Int(fd)]
                guard watch.registered else { continue }
                if watch.armed.contains(.readable) { CEpoll_FD_SET(fd, &readSet); top = fd }
                if watch.armed.contains(.writable) { CEpoll_FD_SET(fd, &writeSet); top = fd }
            }
        }
        var timeout = timeval(tv_sec: Int(timeoutMilliseconds / 1000), tv_usec: Int(timeoutMilliseconds % 1000) * 1000)
        let count: Int32
        switch try retrying("select", {
            timeoutMilliseconds < 0
                ? select(top + 1, &readSet, &writeSet, nil, nil)
                : select(top + 1, &readSet, &writeSet, nil, &timeout)
        }) {
        case .done(let n): count = n
        case .wouldBlock: count = 0
        }
        guard count > 0 else { return }
        for fd in 0...top {
            var bits: IOEvents = []
            if CEpoll_FD_ISSET(fd, &readSet) != 0 { bits.insert(.readable) }
            if CEpoll_FD_ISSET(fd, &writeSet) != 0 { bits.insert(.writable) }
            guard !bits.isEmpty else { continue }
            watches[Int(fd)].armed.subtract(bits)
            events.append(ReadyEvent(fd: fd, registrationID: watches[Int(fd)].id, events: bits))
        }
    }
}
