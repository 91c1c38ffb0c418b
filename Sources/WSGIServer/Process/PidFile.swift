#if canImport(Glibc)
import Glibc
#endif

/// `--pid FILE`: the supervisor's pid, written when it starts and removed when it stops.
struct PidFile {
    let path: String
    private let pid: pid_t

    /// Refuses a file that names another live process (a second server with the same
    /// configuration); a stale file from a crashed run is replaced. Written via a temporary file
    /// and rename, so a reader never sees it half-written.
    init(path: String) throws(SupervisorError) {
        self.path = path
        pid = getpid()
        if let old = Self.readPID(path), old != pid, old > 0, kill(old, 0) == 0 || errno == EPERM {
            throw SupervisorError("pid file \(path) names pid \(old), which is running: is another server using it?")
        }
        let temporary = "\(path).\(pid).tmp"
        let text = Array("\(pid)\n".utf8)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SupervisorError("cannot write pid file \(path): \(String(cString: strerror(errno)))") }
        let written = text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        guard written == text.count, rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw SupervisorError("cannot write pid file \(path): \(reason)")
        }
    }

    /// Removes the file if it still names this process (a successor may have taken it over).
    func remove() {
        if Self.readPID(path) == pid { unlink(path) }
    }

    private static func readPID(_ path: String) -> pid_t? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return nil }
        let digits = buffer[0..<n].filter { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
        return pid_t(String(decoding: digits, as: UTF8.self))
    }
}
