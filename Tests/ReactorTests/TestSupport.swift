#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A connected, non-blocking AF_UNIX stream pair; `close()` closes whichever ends are still open.
final class SocketPair {
    private(set) var a: Int32
    private(set) var b: Int32

    init() {
        var fds: [Int32] = [-1, -1]
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        let rc = socketpair(AF_UNIX, type, 0, &fds)
        precondition(rc == 0, "socketpair: errno \(errno)")
        a = fds[0]
        b = fds[1]
    }

    deinit { close() }

    /// Writes `count` bytes to end `b`, so that `a` becomes readable.
    func writeToA(_ count: Int = 1) {
        let bytes = [UInt8](repeating: 120, count: count)
        let n = bytes.withUnsafeBytes { Glibc.write(b, $0.baseAddress, count) }
        precondition(n == count, "write: \(n), errno \(errno)")
    }

    /// Reads from `a` until EAGAIN or EOF; returns the number of bytes read.
    @discardableResult
    func drainA() -> Int {
        var total = 0
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(a, $0.baseAddress, $0.count) }
            if n <= 0 { return total }
            total += n
        }
    }

    func closeB() {
        if b >= 0 { _ = Glibc.close(b); b = -1 }
    }

    func close() {
        if a >= 0 { _ = Glibc.close(a); a = -1 }
        closeB()
    }
}

/// A flag shared with another thread.
final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .acquiring) }
    func set() { value.store(true, ordering: .releasing) }
}

/// A counter shared between threads.
final class Counter: Sendable {
    private let value = Atomic<Int>(0)
    var current: Int { value.load(ordering: .acquiring) }
    func increment() { value.add(1, ordering: .acquiringAndReleasing) }
}

/// A plain pthread, so a test can block a real thread without starving Swift's cooperative pool.
final class TestThread: Sendable {
    private final class Start {
        let body: @Sendable () -> Void
        let finished: Flag
        init(body: @escaping @Sendable () -> Void, finished: Flag) {
            self.body = body
            self.finished = finished
        }
    }

    private let finished = Flag()
    private let thread: pthread_t

    init(_ body: @escaping @Sendable () -> Void) {
        // Unmanaged: the start context crosses pthread_create as a void*; the thread releases it.
        let context = Unmanaged.passRetained(Start(body: body, finished: finished)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            let start = Unmanaged<Start>.fromOpaque(raw!).takeRetainedValue()
            start.body()
            start.finished.set()
            return nil
        }, context)
        precondition(rc == 0, "pthread_create: \(rc)")
        self.thread = thread
    }

    var isFinished: Bool { finished.isSet }

    /// Waits at most `timeoutMilliseconds` for the thread to end; false if it is still running
    /// (it is then left behind, and the test that asked has failed).
    func join(timeoutMilliseconds: Int64 = 5000) -> Bool {
        guard waitUntil(timeoutMilliseconds: timeoutMilliseconds, { finished.isSet }) else { return false }
        pthread_join(thread, nil)
        return true
    }
}

/// Polls `condition` every millisecond for at most `timeoutMilliseconds`; true once it holds.
func waitUntil(timeoutMilliseconds: Int64, _ condition: () -> Bool) -> Bool {
    let deadline = monotonicNow() + timeoutMilliseconds
    while !condition() {
        if monotonicNow() >= deadline { return condition() }
        usleep(1000)
    }
    return true
}

func monotonicNow() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}

func sleepMilliseconds(_ ms: Int) {
    usleep(UInt32(ms * 1000))
}
