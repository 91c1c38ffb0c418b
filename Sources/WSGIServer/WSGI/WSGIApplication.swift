/// The entry point the executable uses:
///
///     let handler = try WSGIApplication.load(spec: arguments, configuration: configuration)
///     // serve with `handler` as the RequestHandler; on shutdown: handler.shutdown()
///
/// Errors are `PythonRuntimeError` (interpreter or virtualenv) and `AppLoadError` (the app);
/// both print as a summary line followed by details, for a FATAL log line and a non-zero exit.
public enum WSGIApplication {
    /// Starts Python (once per process, in the process that will serve), loads the application
    /// named by `spec` — `[]` (the built-in demo), `["module"]`, `["module", "app"]`,
    /// `["module:app"]`, `["module:factory()"]`, `["module:factory(literal, key=literal)"]` — and
    /// starts `configuration.threads` worker threads.
    public static func load(spec: [String], configuration: WSGIConfiguration) throws -> WSGIHandler {
        try PythonRuntime.initialize(virtualenv: configuration.virtualenv)
        let application = try PythonRuntime.withGIL {
            try AppLoader.load(spec: spec, configuration: configuration)
        }
        return WSGIHandler(application: application, configuration: configuration)
    }
}
