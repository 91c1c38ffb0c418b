/// The server's own short responses to requests it refuses (never produced by an app).
enum ErrorResponse {
    static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 400: "Bad Request"
        case 408: "Request Timeout"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 503: "Service Unavailable"
        case 505: "HTTP Version Not Supported"
        default: "Error"
        }
    }

    /// Appends a complete `Connection: close` response with a one-line plain-text body; returns
    /// the body's length (for the access log).
    @discardableResult
    static func append(status: Int, detail: String, to buffer: inout [UInt8]) -> Int {
        let phrase = reasonPhrase(status)
        let body = detail.isEmpty ? "\(phrase)\n" : "\(phrase): \(detail)\n"
        ResponseHeadBuilder.append("HTTP/1.1 \(status) \(phrase)\r\nServer: \(YimmoVersion.serverHeader)\r\nDate: ", to: &buffer)
        HTTPDate.append(to: &buffer)
        ResponseHeadBuilder.append(
            "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n",
            to: &buffer)
        ResponseHeadBuilder.append(body, to: &buffer)
        return body.utf8.count
    }
}
