import Reactor
import WSGIServer
#if canImport(Glibc)
import Glibc
#endif

/// The life of one worker process, after the supervisor forked it: load the application (Python
/// starts here, in the child, never in the supervisor), build the server, accept on the
/// inherited sockets, serve until SIGTERM/SIGINT (or --max-requests), exit. Threads (the signal
/// watcher, the WSGI worker threads) start only here too.
func runWorker(settings: Settings, wsgi: WSGIConfiguration, accessLog: AccessLog?, context: WorkerContext) -> Never {
    MallocTuning.apply()
    let handler: RequestHandler
    if settings.staticResponse {
        handler = StaticResponder()
    } else {
        do {
            handler = try WSGIApplication.load(spec: settings.application, configuration: wsgi)
        } catch {
            // The supervisor stops with this status if no worker ever started (a bad
            // application is a configuration error), and retries with back-off otherwise.
            Log.fatal("\(error)")
            exit(Supervisor.applicationLoadFailedStatus)
        }
    }
    let server: HTTPServer
    do {
        server = try HTTPServer(configuration: settings.server, handler: handler, backend: settings.poller.makeBackend())
        server.accessLog = accessLog
        // Python requests block worker threads: with all of them busy, leave new connections
        // to the other workers. The static page never blocks.
        try context.attach(server, busyThreshold: settings.staticResponse ? 0 : settings.server.threads)
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
    (handler as? WSGIHandler)?.shutdown()
    Log.info("worker \(context.number) stopped")
    exit(0)
}
