/// Finds the directory an application module is imported from, without Python: the supervisor
/// must never start an interpreter (it forks), so it repeats the part of the import system that
/// matters here over the same search path the workers' sys.path starts with.
///
/// That search path is the PYTHONPATH entries with the working directory in front, unless it is
/// already one of them (`PythonRuntime` prepends it that way). An empty entry is the working
/// directory and a relative one is relative to it, as in Python.
struct ModuleLocator {
    var currentDirectory: String
    var pythonPath: String?
    var probe = FileProbe.system

    /// The directories searched, in order, as absolute paths.
    var searchPath: [String] {
        let workingDirectory = Self.normalized(currentDirectory)
        var entries: [String] = []
        if let pythonPath, !pythonPath.isEmpty {
            for part in pythonPath.split(separator: ":", omittingEmptySubsequences: false) {
                let entry = Self.absolute(String(part), in: workingDirectory)
                if !entries.contains(entry) { entries.append(entry) }
            }
        }
        if !entries.contains(workingDirectory) { entries.insert(workingDirectory, at: 0) }
        return entries
    }

    /// The search-path entry that provides `module`'s top-level name (for `pkg.sub.wsgi`, the
    /// directory holding `pkg`), or nil when no entry does (an installed package, or a typo).
    ///
    /// As in Python, the first entry with a regular package (`pkg/__init__.py`) or a module
    /// (`pkg.py`) wins; a directory without `__init__.py` is a namespace package portion and
    /// counts only when no entry has a regular one. Among portions, the first one that holds the
    /// whole dotted path is taken. Compiled extension modules are not looked for.
    func locate(module: String) -> String? {
        let parts = module.split(separator: ".").map(String.init)
        guard let top = parts.first else { return nil }
        var portions: [String] = []
        for entry in searchPath {
            let base = Self.join(entry, top)
            if probe.isFile(base + "/__init__.py") || probe.isFile(base + ".py") {
                return entry
            }
            if probe.isDirectory(base) { portions.append(entry) }
        }
        let rest = parts.dropFirst().joined(separator: "/")
        let whole = portions.first { entry in
            let path = Self.join(Self.join(entry, top), rest)
            return rest.isEmpty || probe.isFile(path + ".py") || probe.isDirectory(path)
        }
        return whole ?? portions.first
    }

    private static func absolute(_ entry: String, in directory: String) -> String {
        normalized(entry.hasPrefix("/") ? entry : join(directory, entry))
    }

    /// Resolves `.` and `..` and drops repeated and trailing slashes, as os.path.abspath does,
    /// so equal directories compare equal.
    static func normalized(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/") where part != "." {
            if part == ".." {
                _ = parts.popLast()
            } else {
                parts.append(part)
            }
        }
        return "/" + parts.joined(separator: "/")
    }

    private static func join(_ directory: String, _ name: String) -> String {
        if name.isEmpty { return directory }
        return directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }
}
