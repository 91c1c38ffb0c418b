import Testing

@testable import WSGIServer

/// What decoding a whole input gives, however it arrived.
struct DecodeResult: Equatable, CustomStringConvertible {
    var body: [UInt8] = []
    var consumed = 0
    var done = false
    var error: HTTPParseError? = nil

    var description: String {
        "body=\(latin1String(body).debugDescription) consumed=\(consumed) done=\(done) error=\(error.map(String.init(describing:)) ?? "nil")"
    }
}

/// Feeds `input` to a fresh decoder as it would arrive in pieces ending at `cuts`, keeping the
/// bytes the decoder leaves unconsumed for the next call, as a connection would.
func decodeArriving(
    _ input: [UInt8], cuts: [Int], makeDecoder: () -> ChunkedDecoder = { ChunkedDecoder() }
) -> DecodeResult {
    var decoder = makeDecoder()
    var result = DecodeResult()
    var pending: [UInt8] = []
    var start = 0
    for end in cuts + [input.count] where end >= start {
        pending += input[start..<end]
        start = end
        let step: Result<(consumed: Int, done: Bool), HTTPParseError> = pending.withUnsafeBytes { buffer in
            // Safe: both pointers are only compared, to prove the sink gets slices of the input.
            let lower = buffer.baseAddress
            let upper = unsafe buffer.baseAddress.map { unsafe $0 + buffer.count }
            do throws(HTTPParseError) {
                return .success(try decoder.decode(buffer) { run in
                    #expect(run.count > 0, "empty run")
                    // Safe: comparisons only.
                    #expect(unsafe run.baseAddress! >= lower! && run.baseAddress! + run.count <= upper!, "run is not a slice of the input")
                    result.body.append(contentsOf: run)
                })
            } catch {
                return .failure(error)
            }
        }
        switch step {
        case .failure(let error):
            // What earlier calls consumed depends on where the input was cut; the error does not.
            result.error = error
            result.consumed = 0
            return result
        case .success(let (consumed, done)):
            #expect(consumed <= pending.count)
            pending.removeFirst(consumed)
            result.consumed += consumed
            if done {
                result.done = true
                return result
            }
        }
    }
    return result
}

/// Decodes in one piece, at every split point, and one byte at a time; records an issue where the
/// answers disagree and returns the one-piece answer.
@discardableResult
func decodeEverySplit(
    _ input: [UInt8], makeDecoder: () -> ChunkedDecoder = { ChunkedDecoder() },
    sourceLocation: SourceLocation = #_sourceLocation
) -> DecodeResult {
    let expected = decodeArriving(input, cuts: [], makeDecoder: makeDecoder)
    for k in 0...input.count {
        let split = decodeArriving(input, cuts: [k], makeDecoder: makeDecoder)
        if split != expected {
            Issue.record("split at \(k): \(split), whole: \(expected)", sourceLocation: sourceLocation)
            return expected
        }
    }
    let bytewise = decodeArriving(input, cuts: Array(0..<input.count), makeDecoder: makeDecoder)
    #expect(bytewise == expected, "byte at a time", sourceLocation: sourceLocation)
    return expected
}

struct ChunkCase: Sendable, CustomTestStringConvertible {
    var name: String
    var input: String
    var body = ""
    /// Bytes consumed; nil means the whole input.
    var consumed: Int? = nil
    var done = true
    var error: HTTPParseError? = nil
    var maxLineLength = 4096
    var maxTrailerBytes = 8192

    var testDescription: String { name }

    func check(sourceLocation: SourceLocation = #_sourceLocation) {
        let bytes = latin1(input)
        let result = decodeEverySplit(bytes, makeDecoder: {
            ChunkedDecoder(maxLineLength: maxLineLength, maxTrailerBytes: maxTrailerBytes)
        }, sourceLocation: sourceLocation)
        if let error {
            #expect(result.error == error, sourceLocation: sourceLocation)
            return
        }
        #expect(result.error == nil, sourceLocation: sourceLocation)
        #expect(result.body == latin1(body), sourceLocation: sourceLocation)
        #expect(result.done == done, sourceLocation: sourceLocation)
        #expect(result.consumed == consumed ?? bytes.count, sourceLocation: sourceLocation)
    }
}

@Suite struct ChunkedDecoderTests {
    static let valid: [ChunkCase] = [
        ChunkCase(name: "one chunk", input: "5\r\nhello\r\n0\r\n\r\n", body: "hello"),
        ChunkCase(name: "two chunks", input: "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", body: "hello world"),
        ChunkCase(name: "empty body", input: "0\r\n\r\n"),
        ChunkCase(name: "multi-digit zero", input: "5\r\nhello\r\n000\r\n\r\n", body: "hello"),
        ChunkCase(name: "upper and lower hex", input: "A\r\n0123456789\r\na\r\nabcdefghij\r\n0\r\n\r\n",
                  body: "0123456789abcdefghij"),
        ChunkCase(name: "leading zeros", input: "0005\r\nhello\r\n0\r\n\r\n", body: "hello"),
        ChunkCase(name: "binary data with CRLFs", input: "6\r\n\r\n\0\r\n\u{FF}\r\n0\r\n\r\n", body: "\r\n\0\r\n\u{FF}"),
        ChunkCase(name: "stops before the next request", input: "5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n",
                  body: "hello", consumed: 15),
        ChunkCase(name: "extension name", input: "5;ext\r\nhello\r\n0\r\n\r\n", body: "hello"),
        ChunkCase(name: "extensions with BWS", input: "5; some; parameters=stuff\r\nhello\r\n6; blahblah; blah\r\n world\r\n0\r\n\r\n",
                  body: "hello world"),
        ChunkCase(name: "extension BWS around =", input: "5;a \t= b ;c\r\nhello\r\n0\r\n\r\n", body: "hello"),
        ChunkCase(name: "quoted extension", input: "5;foo=\"bar baz\"\r\nhello\r\n0;x=\"\"\r\n\r\n", body: "hello"),
        ChunkCase(name: "quoted-pair and obs-text", input: "5;q=\"a\\\"b\\\\\u{E9}\"\r\nhello\r\n0\r\n\r\n", body: "hello"),
        ChunkCase(name: "trailers", input: "5\r\nhello\r\n0\r\nVary: *\r\nContent-Type: text/plain\r\n\r\n", body: "hello"),
        ChunkCase(name: "trailer with empty value", input: "0\r\nX:\r\n\r\nnext", consumed: 9),
        ChunkCase(name: "chunk size at the cap", input: "4000000000000000\r\nab", body: "ab", consumed: 20, done: false),
        ChunkCase(name: "size line not finished", input: "5", consumed: 0, done: false),
        ChunkCase(name: "CR of size line only", input: "5;a=b\r", consumed: 0, done: false),
        ChunkCase(name: "data not finished", input: "5\r\nhel", body: "hel", consumed: 6, done: false),
        ChunkCase(name: "CRLF after data not finished", input: "5\r\nhello\r", body: "hello", consumed: 9, done: false),
        ChunkCase(name: "final CRLF missing", input: "5\r\nhello\r\n0\r\n", body: "hello", consumed: 13, done: false),
        ChunkCase(name: "trailer line not finished", input: "0\r\nVary: *", consumed: 3, done: false),
        ChunkCase(name: "line at maxLineLength", input: "05;a\r\nhello\r\n0\r\n\r\n", body: "hello", maxLineLength: 4),
        ChunkCase(name: "trailers at maxTrailerBytes", input: "0\r\nA: 1\r\nB: 2\r\n\r\n", maxTrailerBytes: 8),
    ]

    @Test(arguments: valid)
    func decodes(_ c: ChunkCase) { c.check() }

    static let invalid: [ChunkCase] = [
        ChunkCase(name: "empty size line", input: "\r\nhello\r\n0\r\n\r\n", error: .invalidChunkSize),
        ChunkCase(name: "SP before size", input: " 5\r\nhello\r\n0\r\n\r\n", error: .invalidChunkSize),
        ChunkCase(name: "SP after size", input: "5 \r\nhello\r\n0\r\n\r\n", error: .invalidChunkSize),
        ChunkCase(name: "SP after zero size", input: "5\r\nhello\r\n0 \r\n\r\n", body: "hello", error: .invalidChunkSize),
        ChunkCase(name: "SP before extension", input: "5 ;a\r\nhello\r\n0\r\n\r\n", error: .invalidChunkSize),
        ChunkCase(name: "HTAB after size", input: "5\t\r\nhello\r\n0\r\n\r\n", error: .invalidChunkSize),
        ChunkCase(name: "plus sign", input: "+5\r\nhello\r\n0\r\n\r\n", error: .invalidChunkSize),
        ChunkCase(name: "minus sign", input: "-5\r\nhello\r\n0\r\n\r\n", error: .invalidChunkSize),
        ChunkCase(name: "0x prefix", input: "0x5\r\nhello\r\n0\r\n\r\n", error: .invalidChunkSize),
        ChunkCase(name: "underscore", input: "6_0\r\n", error: .invalidChunkSize),
        ChunkCase(name: "non-hex", input: "5g\r\n", error: .invalidChunkSize),
        ChunkCase(name: "extension without size", input: ";foo=bar\r\nhello\r\n", error: .invalidChunkSize),
        ChunkCase(name: "size over the cap", input: "4000000000000001\r\n", error: .chunkSizeTooLarge),
        ChunkCase(name: "size overflowing Int", input: "FFFFFFFFFFFFFFFFFFFF\r\n", error: .chunkSizeTooLarge),
        ChunkCase(name: "bare LF after size", input: "5\nhello\r\n0\r\n\r\n", error: .invalidLineEnding),
        ChunkCase(name: "bare LF then semicolon", input: "5\n;\r\nhello\r\n", error: .invalidLineEnding),
        ChunkCase(name: "bare CR after size", input: "5\rhello\r\n", error: .invalidLineEnding),
        ChunkCase(name: "bare CR in extension", input: "5;ext=val\rue\r\nhello\r\n0\r\n\r\n", error: .invalidLineEnding),
        ChunkCase(name: "bare LF in extension", input: "5;ext\nhello\r\n", error: .invalidChunkExtension),
        ChunkCase(name: "semicolon without name", input: "5;\r\nhello\r\n", error: .invalidChunkExtension),
        ChunkCase(name: "empty name", input: "5;=a\r\nhello\r\n", error: .invalidChunkExtension),
        ChunkCase(name: "empty value", input: "5;a=\r\nhello\r\n", error: .invalidChunkExtension),
        ChunkCase(name: "trailing BWS", input: "5;a \r\nhello\r\n", error: .invalidChunkExtension),
        ChunkCase(name: "trailing BWS after value", input: "5;a=b \r\nhello\r\n", error: .invalidChunkExtension),
        ChunkCase(name: "non-token name", input: "5;a(b)\r\nhello\r\n", error: .invalidChunkExtension),
        ChunkCase(name: "CTL in extension", input: "5;a=b\u{01}\r\nhello\r\n", error: .invalidChunkExtension),
        ChunkCase(name: "NUL in extension", input: "5;a\0\r\nhello\r\n", error: .invalidChunkExtension),
        ChunkCase(name: "unterminated quote", input: "5;a=\"b\r\nhello\r\n", error: .invalidChunkExtension),
        ChunkCase(name: "CTL in quoted string", input: "5;a=\"b\u{7F}\"\r\nhello\r\n", error: .invalidChunkExtension),
        ChunkCase(name: "token right after quoted", input: "5;a=\"b\"c\r\nhello\r\n", error: .invalidChunkExtension),
        ChunkCase(name: "data too long", input: "5\r\nhelloX\r\n0\r\n\r\n", body: "hello", error: .missingChunkCRLF),
        ChunkCase(name: "data too short", input: "5\r\nhell\r\n0\r\n\r\n", body: "hell\r", error: .missingChunkCRLF),
        ChunkCase(name: "LF only after data", input: "5\r\nhello\n0\r\n\r\n", body: "hello", error: .missingChunkCRLF),
        ChunkCase(name: "CR without LF after data", input: "5\r\nhello\rX", body: "hello", error: .missingChunkCRLF),
        ChunkCase(name: "line too long", input: "000005\r\nhello\r\n0\r\n\r\n", error: .chunkLineTooLong, maxLineLength: 4),
        ChunkCase(name: "line too long without CRLF", input: String(repeating: "0", count: 4097), error: .chunkLineTooLong),
        ChunkCase(name: "trailer Content-Length", input: "5\r\nhello\r\n0\r\nContent-Length: 99\r\n\r\n", error: .forbiddenTrailer),
        ChunkCase(name: "trailer Transfer-Encoding", input: "0\r\ntransfer-encoding: chunked\r\n\r\n", error: .forbiddenTrailer),
        ChunkCase(name: "trailer Host", input: "0\r\nHOST: evil.example.com\r\n\r\n", error: .forbiddenTrailer),
        ChunkCase(name: "trailer obs-fold", input: "0\r\nA: b\r\n c\r\n\r\n", error: .obsoleteFolding),
        ChunkCase(name: "trailer space before colon", input: "0\r\nA : b\r\n\r\n", error: .whitespaceBeforeColon),
        ChunkCase(name: "trailer without colon", input: "0\r\nAb\r\n\r\n", error: .missingColon),
        ChunkCase(name: "trailer NUL in value", input: "0\r\nA: b\0c\r\n\r\n", error: .invalidHeaderValue),
        ChunkCase(name: "trailer bad name", input: "0\r\nA\"b: c\r\n\r\n", error: .invalidHeaderName),
        ChunkCase(name: "trailer bare LF", input: "0\r\nA: b\n\r\n", error: .invalidLineEnding),
        ChunkCase(name: "bare LF as final line", input: "0\r\n\n", error: .invalidLineEnding),
        ChunkCase(name: "bare CR as final line", input: "0\r\n\rX", error: .invalidLineEnding),
        ChunkCase(name: "trailers over maxTrailerBytes", input: "0\r\nA: 1\r\nB: 22\r\n\r\n", error: .trailerTooLarge,
                  maxTrailerBytes: 8),
        ChunkCase(name: "endless trailer line", input: "0\r\nX: " + String(repeating: "y", count: 8190), error: .trailerTooLarge),
    ]

    @Test(arguments: invalid)
    func refuses(_ c: ChunkCase) { c.check() }

    @Test func errorRepeatsUntilReset() throws {
        var decoder = ChunkedDecoder()
        let bad = latin1("x\r\n")
        let good = latin1("3\r\nabc\r\n0\r\n\r\n")
        for _ in 0..<2 {
            #expect(throws: HTTPParseError.invalidChunkSize) {
                try bad.withUnsafeBytes { buffer in _ = try decoder.decode(buffer) { _ in } }
            }
        }
        decoder.reset()
        var body: [UInt8] = []
        let (consumed, done) = try good.withUnsafeBytes { buffer in try decoder.decode(buffer) { body += $0 } }
        #expect(consumed == good.count && done && body == latin1("abc"))
        // Once done, nothing more is consumed.
        let again = try good.withUnsafeBytes { buffer in try decoder.decode(buffer) { _ in Issue.record("data after done") } }
        #expect(again.consumed == 0 && again.done)
    }
}
