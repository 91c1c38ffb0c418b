#if canImport(Glibc)
import Glibc
#endif

extension SourceWatcher {
    /// The watcher for `--reload` with the application given by the command line's words, or
    /// nil (after a warning) when there is nothing to watch: the built-in demo page and
    /// `--static-response` run no code of the user's. Logs at NOTICE which directory is watched.
    ///
    /// The directory is the one MODULE is imported from (see `ModuleLocator`): for `app` or
    /// `project.wsgi`, the directory holding `app.py` or `project/`, so sibling packages of a
    /// project are watched too. When MODULE is not found there (an installed package), the
    /// working directory is watched.
    public static func forApplication(_ words: [String], staticResponse: Bool) -> SourceWatcher? {
        if staticResponse {
            Log.warning("--reload: --static-response runs no application; nothing to watch")
            return nil
        }
        if words.isEmpty {
            Log.warning("--reload: the built-in demo app has no source files; nothing to watch (give MODULE:APP)")
            return nil
        }
        // A malformed MODULE:APP is reported by the workers, which then stop the server.
        guard let spec = try? AppSpec.parse(words) else { return nil }
        let workingDirectory = currentDirectory()
        let locator = ModuleLocator(
            currentDirectory: workingDirectory, pythonPath: getenv("PYTHONPATH").map { String(cString: $0) })
        let found = locator.locate(module: spec.module)
        let directory = realPath(found ?? workingDirectory)
        let watcher = SourceWatcher(directory: directory)
        let origin = found != nil
            ? "where \(spec.module) is imported from"
            : "the working directory: \(spec.module) is not in it or on PYTHONPATH"
        Log.notice("--reload: watching \(directory) (\(origin)) for changed *.py files (\(watcher.summary)); a development aid, not for production")
        return watcher
    }

    private static func currentDirectory() -> String {
        guard let path = getcwd(nil, 0) else { return "/" }
        defer { free(path) }
        return String(cString: path)
    }

    private static func realPath(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
