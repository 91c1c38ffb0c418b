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
