// swift-tools-version:6.0
import PackageDescription

// Dependencies point one way: C shims <- Reactor <- WSGIServer <- yimmo-wsgi.
// The reactor knows no HTTP and no Python; only WSGIServer/WSGI touches CPythonShim.
let package = Package(
    name: "yimmo-wsgi",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "yimmo-wsgi", targets: ["yimmo-wsgi"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .target(name: "CEpollShim"),
        // fork, prctl, sigtimedwait, wait-status macros and the shared scoreboard slot.
        .target(name: "CProcessShim"),
        // Debian's libpython through pkg-config; only CPythonShim's .c file includes Python.h.
        .systemLibrary(
            name: "CPython",
            pkgConfig: "python3-embed",
            providers: [.apt(["python3-dev"])]
        ),
        .target(name: "CPythonShim", dependencies: ["CPython"]),
        .target(name: "Reactor", dependencies: ["CEpollShim"], swiftSettings: hotPathSettings),
        .target(
            name: "WSGIServer",
            dependencies: ["Reactor", "CEpollShim", "CPythonShim", "CProcessShim"],
            swiftSettings: verboseLogSettings + hotPathSettings
        ),
        .executableTarget(
            name: "yimmo-wsgi",
            dependencies: [
                "WSGIServer",
                "Reactor",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            linkerSettings: bindNowSettings
        ),
        // Thread and wait helpers shared by the Swift test targets; no product depends on it.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "ReactorTests", dependencies: ["Reactor", "CEpollShim", "TestSupport"]),
        .testTarget(name: "WSGIServerTests", dependencies: ["WSGIServer", "Reactor", "TestSupport", "CProcessShim"]),
    ]
)

// DEBUG and TRACE log statements exist only in debug builds, or in a release build made with
// `YIMMO_VERBOSE_LOG=1 swift build -c release`; otherwise they compile to nothing.
var verboseLogSettings: [SwiftSetting] {
    var settings: [SwiftSetting] = [.define("YIMMO_VERBOSE_LOG", .when(configuration: .debug))]
    if Context.environment["YIMMO_VERBOSE_LOG"] == "1" {
        settings.append(.define("YIMMO_VERBOSE_LOG"))
    }
    return settings
}

// Release builds skip the run-time exclusivity checks (swift_beginAccess on every access to a
// class's stored property: ~3% of the server thread's time per request in a perf profile).
// Debug builds, which `swift test` runs, keep them, so an overlapping access still traps there.
var hotPathSettings: [SwiftSetting] {
    [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]
}

// Full RELRO: every dynamic symbol is bound when the supervisor starts, and the GOT is then
// read-only. Besides the hardening, a forked worker no longer runs the lazy binder on its first
// call of each imported function, which faulted in the symbol tables of the executable (64 KiB
// at a time) in every worker process.
var bindNowSettings: [LinkerSetting] {
    [.unsafeFlags(["-Xlinker", "-z", "-Xlinker", "now", "-Xlinker", "--no-export-dynamic"], .when(platforms: [.linux]))]
}
