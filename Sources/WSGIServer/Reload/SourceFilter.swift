/// Which names under the watched directory `--reload` cares about. A Python project's tree also
/// holds virtualenvs, byte-code caches, VCS metadata and JavaScript dependencies: their churn
/// (pip installs, Python writing .pyc files, git checkouts of unrelated files) must not restart
/// the workers, and their size must not eat the watch budget.
enum SourceFilter {
    /// Directory names never descended into. Hidden directories (`.git`, `.venv`, `.tox`...) are
    /// skipped too; see `skipsDirectory`.
    static let skippedDirectories: Set<String> = [
        "__pycache__", "venv", "site-packages", "dist-packages", "node_modules",
    ]

    /// Whether a directory called `name`, below the watched root, is left out with everything in
    /// it. The root itself is never tested: a project may live in a hidden directory.
    static func skipsDirectory(_ name: String) -> Bool {
        name.hasPrefix(".") || skippedDirectories.contains(name)
    }

    /// Whether a change to the file `name` means the application's code changed: `*.py`, but
    /// not hidden files, which editors use for swap and lock files (emacs' `.#app.py`).
    static func isSourceFile(_ name: String) -> Bool {
        name.hasSuffix(".py") && name.count > 3 && !name.hasPrefix(".")
    }
}
