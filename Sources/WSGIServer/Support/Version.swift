/// The server's version, reported by `--version`, the `Server` header and the demo page.
public enum YimmoVersion {
    public static let string = "0.1.0"
    public static let serverHeader = "yimmo-wsgi/\(string)"
}
