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
            exclude: ["symbol-order.txt"],
            linkerSettings: linkSettings
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

// Linux link options, each measured (bench app, idle after one request):
// - lld with a link order (Sources/yimmo-wsgi/symbol-order.txt, written by
//   ci/symbol_order.py): the functions the processes run are placed together, so the kernel's
//   64 KiB fault-around maps fewer unused neighbours. RSS: supervisor 12.8 -> 11.3 MiB, worker
//   17.3 -> 16.5 MiB. A stale list only costs memory: names that no longer exist are skipped.
// - Full RELRO (-z now): imported functions are bound at start and the GOT is read-only; a forked
//   worker no longer runs the lazy binder.
// - No exported symbols: the static runtime's link arguments export all 2,179 of them and
//   nothing resolves against them.
var linkSettings: [LinkerSetting] {
    let order = "\(Context.packageDirectory)/Sources/yimmo-wsgi/symbol-order.txt"
    return [.unsafeFlags([
        "-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "now", "-Xlinker", "--no-export-dynamic",
        "-Xlinker", "--symbol-ordering-file=\(order)", "-Xlinker", "--no-warn-symbol-ordering",
    ], .when(platforms: [.linux]))]
}
