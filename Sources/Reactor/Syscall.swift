#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed system call, carrying the call's name so a log line says what failed.
public struct SyscallError: Error, CustomStringConvertible, Sendable {
    public let call: String
    public let errno: Int32

    public init(_ call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }

    public var description: String {
        "\(call): \(String(cString: strerror(errno))) (errno \(errno))"
    }
}

/// The result of a non-blocking call: done with a value, or EAGAIN.
public enum IOResult<Value> {
    case done(Value)
    case wouldBlock
}

/// Runs a syscall that returns -1 and sets errno on failure. EINTR is retried, EAGAIN becomes
/// `.wouldBlock`, EBADF/EFAULT are programmer errors, anything else is thrown with the call name.
@inline(__always)
public func retrying<T: BinaryInteger>(_ call: String, _ body: () -> T) throws(SyscallError) -> IOResult<T> {
    while true {
        let result = body()
        if result >= 0 { return .done(result) }
        let err = errno
        switch err {
        case EINTR:
            continue
        case EAGAIN, EWOULDBLOCK:
            return .wouldBlock
        case EBADF, EFAULT:
            preconditionFailure("\(call) on a bad descriptor or address: errno \(err)")
        default:
            throw SyscallError(call, errno: err)
        }
    }
}

/// Like `retrying`, for calls that never return EAGAIN (setup calls, blocking calls).
@inline(__always)
public func retryingBlocking<T: BinaryInteger>(_ call: String, _ body: () -> T) throws(SyscallError) -> T {
    while true {
        let result = body()
        if result >= 0 { return result }
        let err = errno
        if err == EINTR { continue }
        throw SyscallError(call, errno: err)
    }
}

/// close(2) that ignores EINTR: on Linux the descriptor is released even when close is
/// interrupted, so retrying could close a descriptor another thread just received.
public func closeDescriptor(_ fd: Int32) {
    _ = close(fd)
}

/// Milliseconds on the monotonic clock, which never jumps with wall-clock changes.
@inline(__always)
public func monotonicMilliseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}
