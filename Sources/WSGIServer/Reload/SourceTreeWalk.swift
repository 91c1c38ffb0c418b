#if canImport(Glibc)
import Glibc
#endif

/// One breadth-first pass over the watched tree: the directories `SourceFilter` keeps and the
/// source files in them, both bounded, so a project that turns out to be a home directory (or
/// `/`) costs a warning instead of minutes of scanning and every inotify watch the user has.
/// Symbolic links to directories are not followed (a link back up would loop); symbolic links
/// to files are source files like any other.
struct SourceTreeWalk {
    struct Limits: Sendable, Equatable {
        var directories = 4096
        var files = 10_000
    }

    private(set) var directories: [String] = []
    private(set) var files: [String] = []
    /// Whether a limit cut the walk short.
    private(set) var truncated = false

    init(root: String, limits: Limits = Limits()) {
        var queue = [root]
        var next = 0
        while next < queue.count {
            let directory = queue[next]
            next += 1
            guard let handle = opendir(directory) else { continue }
            defer { closedir(handle) }
            directories.append(directory)
            while let entry = readdir(handle) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                if name == "." || name == ".." { continue }
                let path = directory == "/" ? "/" + name : directory + "/" + name
                switch Self.kind(Int32(entry.pointee.d_type), path: path) {
                case .directory where !SourceFilter.skipsDirectory(name):
                    if directories.count + (queue.count - next) >= limits.directories {
                        truncated = true
                    } else {
                        queue.append(path)
                    }
                case .file where SourceFilter.isSourceFile(name):
                    if files.count >= limits.files {
                        truncated = true
                    } else {
                        files.append(path)
                    }
                default:
                    break
                }
            }
        }
    }

    private enum Kind { case directory, file, other }

    /// What readdir says, or lstat when the file system does not say (DT_UNKNOWN).
    private static func kind(_ type: Int32, path: String) -> Kind {
        switch type {
        case Int32(DT_DIR): return .directory
        case Int32(DT_REG), Int32(DT_LNK): return .file
        case Int32(DT_UNKNOWN):
            var status = stat()
            guard lstat(path, &status) == 0 else { return .other }
            switch status.st_mode & S_IFMT {
            case S_IFDIR: return .directory
            case S_IFREG, S_IFLNK: return .file
            default: return .other
            }
        default:
            return .other
        }
    }
}
