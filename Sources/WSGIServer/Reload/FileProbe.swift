#if canImport(Glibc)
import Glibc
#endif

/// The two questions module resolution asks of the file system, as closures so unit tests can
/// answer them from a table instead of a real tree.
struct FileProbe: Sendable {
    var isFile: @Sendable (String) -> Bool
    var isDirectory: @Sendable (String) -> Bool

    /// The real file system (following symbolic links, as Python's import does).
    static let system = FileProbe(
        isFile: { kind(of: $0) == S_IFREG },
        isDirectory: { kind(of: $0) == S_IFDIR })

    private static func kind(of path: String) -> mode_t? {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        return status.st_mode & S_IFMT
    }
}
