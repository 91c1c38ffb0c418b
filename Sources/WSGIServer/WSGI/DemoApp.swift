import CPythonShim

/// The app served when none is named: one HTML page showing the server, its configuration and
/// the request's environ, with a form that posts back and shows what was posted. Compiled from
/// the source below at start, like any module.
enum DemoApp {
    static func load(configuration: WSGIConfiguration) throws(AppLoadError) -> PythonApplication {
        guard let globals = YPy_RunModuleSource(source, "yimmo_demo") else {
            throw AppLoadError(summary: "the built-in demo app does not compile", traceback: PythonException.take())
        }
        defer { YPy_DecRef(globals) }
        let settings = YPy_DictNew()
        var stored = settings != nil
        if let settings {
            for (name, value) in [("Python", PythonRuntime.version)] + configuration.summary.map({ ($0.name, $0.value) }) {
                stored = stored && setString(settings, name, value)
            }
            stored = stored && YPy_DictSetString(globals, "CONFIGURATION", settings) == 0
            YPy_DecRef(settings)
        }
        stored = stored && setString(globals, "SERVER_VERSION", configuration.serverVersion)
        guard stored, let application = YPy_DictGetString(globals, "application") else {
            throw AppLoadError(summary: "cannot set up the built-in demo app", traceback: PythonException.take())
        }
        return PythonApplication(owning: application)
    }

    private static func setString(_ dict: OpaquePointer, _ key: String, _ value: String) -> Bool {
        var text = value
        guard let object = text.withUTF8({ YPy_StrFromUTF8($0.baseAddress, $0.count) }) else { return false }
        defer { YPy_DecRef(object) }
        return YPy_DictSetString(dict, key, object) == 0
    }

    static let source = #"""
        import html
        import sys

        SERVER_VERSION = "yimmo-wsgi"
        CONFIGURATION = {}
        MAX_SHOWN_BODY = 64 * 1024

        PAGE = """<!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>{title}</title>
        <style>
        body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 60em; color: #222; }}
        table {{ border-collapse: collapse; width: 100%; }}
        td, th {{ border-bottom: 1px solid #ddd; padding: .25em .5em; text-align: left;
                  vertical-align: top; font-family: ui-monospace, monospace; font-size: 90%; }}
        th {{ width: 30%; }}
        textarea {{ width: 100%; height: 6em; }}
        pre {{ background: #f4f4f4; padding: .5em; white-space: pre-wrap; }}
        </style></head><body>
        <h1>{title}</h1>
        <p>It works: this page is the built-in demo application. Start the server with
        <code>MODULE:APP</code> to serve your own WSGI application.</p>
        <h2>Configuration</h2>
        {configuration}
        {posted}
        <h2>Post something</h2>
        <form method="post" action="{action}">
        <textarea name="message">Hello, yimmo!</textarea>
        <p><button type="submit">Send</button></p>
        </form>
        <h2>Request environ</h2>
        {environ}
        </body></html>
        """


        def _table(items):
            rows = "".join(
                "<tr><th>{}</th><td>{}</td></tr>".format(html.escape(str(k)), html.escape(repr(v) if not isinstance(v, str) else v))
                for k, v in items
            )
            return "<table>" + rows + "</table>"


        def application(environ, start_response):
            posted = ""
            if environ["REQUEST_METHOD"] == "POST":
                body = environ["wsgi.input"].read(MAX_SHOWN_BODY + 1)
                shown = body[:MAX_SHOWN_BODY].decode("utf-8", "replace")
                note = " (truncated)" if len(body) > MAX_SHOWN_BODY else ""
                posted = "<h2>You posted {} bytes{}</h2><pre>{}</pre>".format(
                    len(body[:MAX_SHOWN_BODY]), note, html.escape(shown))
            action = (environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")) or "/"
            page = PAGE.format(
                title=html.escape(SERVER_VERSION),
                configuration=_table(CONFIGURATION.items()),
                posted=posted,
                action=html.escape(action, quote=True),
                environ=_table(sorted(environ.items())),
            ).encode("utf-8")
            start_response("200 OK", [
                ("Content-Type", "text/html; charset=utf-8"),
                ("Content-Length", str(len(page))),
            ])
            return [page]
        """#
}
