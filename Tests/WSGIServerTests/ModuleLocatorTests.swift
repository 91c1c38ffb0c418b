import Testing
@testable import WSGIServer

@Suite struct ModuleLocatorTests {
    /// A file system made of `files`; every parent of a file is a directory, and so is each
    /// entry of `directories`.
    private func locator(cwd: String = "/work/proj", pythonPath: String?, files: [String], directories: [String] = []) -> ModuleLocator {
        var folders = Set(directories)
        for file in files {
            var parts = file.split(separator: "/").dropLast()
            while !parts.isEmpty {
                folders.insert("/" + parts.joined(separator: "/"))
                parts = parts.dropLast()
            }
        }
        let fileSet = Set(files)
        let folderSet = folders
        return ModuleLocator(
            currentDirectory: cwd, pythonPath: pythonPath,
            probe: FileProbe(isFile: { fileSet.contains($0) }, isDirectory: { folderSet.contains($0) }))
    }

    @Test(arguments: [
        // (PYTHONPATH, files, module, expected directory)
        (nil, ["/work/proj/app.py"], "app", "/work/proj"),
        ("/src", ["/src/app.py"], "app", "/src"),
        ("/src", ["/src/app.py", "/work/proj/app.py"], "app", "/work/proj"),  // the working directory comes first
        ("/src:/work/proj", ["/src/app.py", "/work/proj/app.py"], "app", "/src"),  // unless PYTHONPATH places it
        ("/src", ["/src/proj/__init__.py", "/src/proj/wsgi.py"], "proj.wsgi", "/src"),
        ("/a:/b", ["/a/pkg/other.py", "/b/pkg/__init__.py", "/b/pkg/mod.py"], "pkg.mod", "/b"),  // regular beats namespace
        ("/a:/b", ["/a/pkg/other.py", "/b/pkg.py"], "pkg", "/b"),
        ("/a:/b", ["/a/pkg/other.py", "/b/pkg/mod.py"], "pkg.mod", "/b"),  // namespace: the portion with the module
        ("/a:/b", ["/a/pkg/sub/x.py", "/b/pkg/sub/mod/__init__.py"], "pkg.sub.mod", "/b"),
        ("/a:/b", ["/a/pkg/other.py", "/b/pkg/more.py"], "pkg.mod", "/a"),  // nowhere whole: the first portion
        ("/a", ["/a/pkg/mod.py"], "pkg", "/a"),
        ("src", ["/work/proj/src/app.py"], "app", "/work/proj/src"),
        ("../lib", ["/work/lib/app.py"], "app", "/work/lib"),
        ("/elsewhere", ["/elsewhere/other.py"], "app", nil),
        (nil, [], "app", nil),
        (nil, ["/work/proj/app.txt", "/work/proj/app/x.txt"], "app", "/work/proj"),  // a namespace dir, as Python sees it
    ] as [(String?, [String], String, String?)])
    func locates(pythonPath: String?, files: [String], module: String, expected: String?) {
        #expect(locator(pythonPath: pythonPath, files: files).locate(module: module) == expected)
    }

    @Test(arguments: [
        // (PYTHONPATH, search path) with the working directory /w
        (nil, ["/w"]),
        ("", ["/w"]),
        ("/a:/b", ["/w", "/a", "/b"]),
        ("/a:/w/", ["/a", "/w"]),
        ("/a::/b", ["/a", "/w", "/b"]),  // an empty entry is the working directory
        ("x/../y:/a//b/", ["/w", "/w/y", "/a/b"]),
        ("/a:/a/.", ["/w", "/a"]),
    ] as [(String?, [String])])
    func searchPath(pythonPath: String?, expected: [String]) {
        #expect(ModuleLocator(currentDirectory: "/w", pythonPath: pythonPath).searchPath == expected)
    }
}
