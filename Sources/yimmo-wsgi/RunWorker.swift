import Reactor
import WSGIServer
#if canImport(Glibc)
import Glibc
#endif

/// The life of one worker process, after the supervisor forked it: build the handler and the
/// server, accept on the inherited sockets, serve until SIGTERM/SIGINT (or --max-requests),
/// exit. Threads (the signal watcher, the handler's workers) start only here, in the child.
func runWorker(settings: Settings, context: WorkerContext) -> Never {
    let handler: RequestHandler = StaticResponder()
    if !settings.staticResponse && context.number == 1 && context.generation == 1 {
        Log.warning("the Python bridge is not built in yet; serving the static page")
    }
    let server: HTTPServer
    do {
        server = try HTTPServer(configuration: settings.server, handler: handler, backend: settings.poller.makeBackend())
        try context.attach(server, busyThreshold: 0)  // the static page never blocks a thread
    } catch {
        Log.fatal("worker \(context.number): cannot start its server: \(error)")
        exit(1)
    }
    SignalWatcher.start { sig in
        if sig == SIGINT || sig == SIGTERM {
            server.requestShutdown()
        }
    }
    context.reportReady()
    do {
        try server.run()
    } catch {
        Log.fatal("worker \(context.number): event loop failed: \(error)")
        exit(1)
    }
    Log.info("worker \(context.number) stopped")
    exit(0)
}
