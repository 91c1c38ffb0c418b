#if canImport(Glibc)
import Glibc
#endif

/// Turns SIGINT/SIGTERM (and SIGHUP) into calls on a normal thread. The signals are blocked in
/// every thread (the mask is inherited, so `blockSignals()` must run before any thread starts)
/// and a dedicated thread takes them with sigwait, where any code may run safely.
public enum SignalWatcher {
    nonisolated(unsafe) private static var handler: (@Sendable (Int32) -> Void)?
    // nonisolated(unsafe): written once before the watcher thread starts, then only read by it.

    public static let watched: [Int32] = [SIGINT, SIGTERM, SIGHUP]

    /// Blocks the watched signals for this thread and every thread it starts; ignores SIGPIPE.
    public static func blockSignals() {
        signal(SIGPIPE, SIG_IGN)
        var set = sigset_t()
        sigemptyset(&set)
        for sig in watched { sigaddset(&set, sig) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// Starts the watcher thread; `onSignal` runs on it for every watched signal.
    public static func start(_ onSignal: @escaping @Sendable (Int32) -> Void) {
        handler = onSignal
        var thread = pthread_t()
        pthread_create(&thread, nil, watcherMain, nil)
        pthread_detach(thread)
    }
}

/// A named function, not a closure literal: see PLATFORM.md on closures handed to pthread_create.
private func watcherMain(_: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    var set = sigset_t()
    sigemptyset(&set)
    for sig in SignalWatcher.watched { sigaddset(&set, sig) }
    while true {
        var sig: Int32 = 0
        if sigwait(&set, &sig) == 0 {
            SignalWatcher.deliver(sig)
        }
    }
}

extension SignalWatcher {
    fileprivate static func deliver(_ sig: Int32) {
        handler?(sig)
    }
}
