/// What the WSGI bridge needs from the server's configuration.
public struct WSGIConfiguration: Sendable {
    /// Worker threads running Python (wsgi.multithread is true when more than one).
    public var threads: Int
    /// SCRIPT_NAME: the URL prefix the app is mounted at ("" or "/prefix", no trailing slash).
    /// A request path starting with it has it stripped from PATH_INFO.
    public var scriptName: String
    /// wsgi.multiprocess: true when the server runs several worker processes.
    public var multiprocess: Bool
    /// A virtualenv to use; nil means the VIRTUAL_ENV environment variable, if any.
    public var virtualenv: String?
    /// The server's name and version, shown by the demo app.
    public var serverVersion: String
    /// Settings shown by the demo app, in display order.
    public var summary: [(name: String, value: String)]

    public init(
        threads: Int = 1,
        scriptName: String = "",
        multiprocess: Bool = false,
        virtualenv: String? = nil,
        serverVersion: String = "yimmo-wsgi",
        summary: [(name: String, value: String)] = []
    ) {
        self.threads = max(1, threads)
        self.scriptName = scriptName.hasSuffix("/") ? String(scriptName.dropLast()) : scriptName
        self.multiprocess = multiprocess
        self.virtualenv = virtualenv
        self.serverVersion = serverVersion
        self.summary = summary
    }
}
