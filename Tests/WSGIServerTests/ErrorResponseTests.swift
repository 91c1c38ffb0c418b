import Testing
@testable import WSGIServer

struct ErrorResponseTests {
    @Test(arguments: [
        (400, "", "400 Bad Request", "Bad Request\n"),
        (408, "request head not received in time", "408 Request Timeout", "Request Timeout: request head not received in time\n"),
        (413, "body exceeds 10 bytes", "413 Content Too Large", "Content Too Large: body exceeds 10 bytes\n"),
        (431, "", "431 Request Header Fields Too Large", "Request Header Fields Too Large\n"),
        (599, "", "599 Error", "Error\n"),
    ] as [(Int, String, String, String)])
    func isACompleteClosingResponse(status: Int, detail: String, statusText: String, body: String) throws {
        var out: [UInt8] = []
        ErrorResponse.append(status: status, detail: detail, to: &out)
        let response = try #require(TestResponse(out))
        #expect(response.statusLine == "HTTP/1.1 \(statusText)")
        #expect(response.bodyText == body)
        #expect(response.values("Content-Length") == ["\(body.utf8.count)"])
        #expect(response.values("Connection") == ["close"])
        #expect(response.values("Server") == [YimmoVersion.serverHeader])
        #expect(response.value("Date").map(looksLikeIMFDate) == true)
        #expect(response.value("Content-Type") == "text/plain; charset=utf-8")
    }
}
