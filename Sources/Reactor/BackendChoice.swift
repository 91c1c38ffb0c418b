/// Which readiness backend to run, as named by `--poller` / `YIMMO_WSGI_POLLER`.
public enum BackendChoice: String, CaseIterable, Sendable {
    case epoll, select, kqueue

    /// The best backend this platform has.
    public static var platformDefault: BackendChoice {
        #if os(Linux)
        return .epoll
        #elseif canImport(Darwin) || os(FreeBSD) || os(OpenBSD)
        return .kqueue
        #else
        return .select
        #endif
    }

    /// Whether this build can run the backend.
    public var isAvailable: Bool {
        switch self {
        case .select: return true
        case .epoll:
            #if os(Linux)
            return true
            #else
            return false
            #endif
        case .kqueue:
            #if canImport(Darwin) || os(FreeBSD) || os(OpenBSD)
            return true
            #else
            return false
            #endif
        }
    }

    public func makeBackend() throws(SyscallError) -> any ReadinessBackend {
        switch self {
        case .select:
            return SelectBackend()
        case .epoll:
            #if os(Linux)
            return try EpollBackend()
            #else
            throw SyscallError("epoll is not available on this platform", errno: 38)
            #endif
        case .kqueue:
            #if canImport(Darwin) || os(FreeBSD) || os(OpenBSD)
            return try KqueueBackend()
            #else
            throw SyscallError("kqueue is not available on this platform", errno: 38)
            #endif
        }
    }
}
