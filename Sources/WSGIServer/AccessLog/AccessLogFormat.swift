/// The line formats of `--access-log-format`.
public enum AccessLogFormat: String, Sendable {
    /// `addr - - [time] "request line" status bytes` (NCSA common log format).
    case common
    /// common + ` "referer" "user-agent"` (the Apache/nginx "combined" format).
    case combined
    /// One JSON object per line, with the duration.
    case json
}
