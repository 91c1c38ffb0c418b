import Testing
@testable import WSGIServer

@Suite struct SourceFilterTests {
    @Test(arguments: [
        ("app.py", true),
        ("__init__.py", true),
        ("settings_local.py", true),
        ("app.pyc", false),
        ("app.pyi", false),
        ("app.py~", false),        // backup copies
        (".#app.py", false),       // emacs lock file
        (".app.py.swp", false),    // vim swap file
        ("#app.py#", false),       // emacs auto-save
        ("4913", false),           // vim's write test
        ("notes.txt", false),
        (".py", false),
        ("py", false),
    ])
    func sourceFiles(name: String, watched: Bool) {
        #expect(SourceFilter.isSourceFile(name) == watched)
    }

    @Test(arguments: [
        ("__pycache__", true),
        (".git", true),
        (".venv", true),
        (".tox", true),
        ("venv", true),
        ("site-packages", true),
        ("dist-packages", true),
        ("node_modules", true),
        ("myapp", false),
        ("templates", false),
        ("venvs_docs", false),
        ("env", false),
    ])
    func skippedDirectories(name: String, skipped: Bool) {
        #expect(SourceFilter.skipsDirectory(name) == skipped)
    }
}
