import CPythonShim
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Why the interpreter could not be started.
public enum PythonRuntimeError: Error, CustomStringConvertible {
    case virtualenv(String)
    case initialization(String)

    public var description: String {
        switch self {
        case .virtualenv(let message): return message
        case .initialization(let message): return "cannot initialise Python: \(message)"
        }
    }
}

/// The embedded interpreter: initialised once per process (finalising and re-initialising breaks
/// extension modules), after which no thread holds the GIL until it asks for it.
public enum PythonRuntime {
    private static let initialized = Mutex(false)

    /// The embedded interpreter's "major.minor".
    public static var version: String { "\(YPy_VersionMajor()).\(YPy_VersionMinor())" }

    /// Starts Python unless already started. `virtualenv` (or else $VIRTUAL_ENV) must have been
    /// made for this Python version; its site-packages become importable. The working directory
    /// goes first on sys.path and PYTHONPATH is honoured. Returns with the GIL released.
    /// Call it in each worker process after forking, never before.
    public static func initialize(virtualenv: String?) throws(PythonRuntimeError) {
        try initialized.withLock { (done: inout Bool) throws(PythonRuntimeError) in
            guard !done else { return }
            try start(virtualenv: virtualenv)
            done = true
        }
    }

    private static func start(virtualenv: String?) throws(PythonRuntimeError) {
        let requested = virtualenv ?? environment("VIRTUAL_ENV")
        var executable: String?
        if let requested, !requested.isEmpty {
            let venv = try VirtualEnvironment(
                path: requested, major: Int(YPy_VersionMajor()), minor: Int(YPy_VersionMinor()))
            executable = venv.executable
        }
        // Without a venv, anchor sys.prefix to where libpython lives: left to itself, Python
        // searches upward from the executable's folder and may settle on "/" (via /lib -> usr/lib).
        var home: String?
        if executable == nil && environment("PYTHONHOME") == nil, let prefix = YPy_LibraryPrefix() {
            home = String(cString: prefix)
            free(prefix)
        }
        // sys.executable would otherwise be whatever `python3` is first on PATH (maybe another
        // Python entirely); subprocesses and multiprocessing must get this interpreter.
        if executable == nil, let home {
            let interpreter = home + "/bin/python" + version
            if access(interpreter, X_OK) == 0 { executable = interpreter }
        }
        var message: UnsafeMutablePointer<CChar>?
        if YPy_Initialize(executable, home, &message) != 0 {
            defer { free(message) }
            throw .initialization(message.map { String(cString: $0) } ?? "unknown error")
        }
        YPy_SetCallbacks(ShimCallbacks.table)
        guard YPy_PrepareTypes() == 0 else {
            throw .initialization("cannot prepare the WSGI types:\n" + PythonException.take())
        }
        var directory = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        if getcwd(&directory, directory.count) != nil, YPy_PrependSysPath(directory) != 0 {
            throw .initialization("cannot extend sys.path:\n" + PythonException.take())
        }
        _ = YPy_SaveThread()  // the initialising thread keeps its state for withGIL
    }

    /// Runs body holding the GIL, on any thread (PyGILState_Ensure); for start-up work, not for
    /// requests (workers keep their own thread states).
    static func withGIL<R>(_ body: () throws -> R) rethrows -> R {
        let token = YPy_GILEnsure()
        defer { YPy_GILRelease(token) }
        return try body()
    }

    private static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}

/// The pending Python exception as text for the log.
enum PythonException {
    /// Formats the pending exception with its traceback and clears it. Needs the GIL.
    static func take() -> String {
        guard let text = YPy_FormatException() else { return "(no traceback)" }
        defer { free(text) }
        return String(cString: text)
    }
}

extension PythonRuntime {
    /// Runs body with the calling worker's GIL released (for exchange calls that may block or
    /// write), re-acquiring it before returning.
    @inline(__always)
    static func withoutGIL<R>(_ body: () -> R) -> R {
        let state = YPy_SaveThread()
        defer { YPy_RestoreThread(state) }
        return body()
    }
}
