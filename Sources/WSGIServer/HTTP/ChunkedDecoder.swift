/// Decodes a `Transfer-Encoding: chunked` request body (RFC 9112 §7.1) in place: data runs are
/// handed to the sink as slices of the input, never copied.
///
/// Usage: call `decode` with the body bytes received so far that have not been consumed yet. It
/// consumes what it can and returns how much; bytes of a chunk-size or trailer line that is not
/// complete yet are left unconsumed, so the caller keeps them and calls again with more appended
/// (the decoder remembers how far it already validated them). When `done` is true the body has
/// ended and `consumed` stops right after the final CRLF: the remaining input belongs to the next
/// request. After an error, every call throws that error again until `reset()`.
///
/// Trailer fields follow the same field-line rules as headers and are then discarded; framing and
/// routing fields (Content-Length, Transfer-Encoding, Host) are refused there, since an
/// intermediary that merged them into the head would see a different message.
public struct ChunkedDecoder: Sendable {
    private enum State: Sendable {
        case sizeLine
        case data
        case dataCR
        case dataLF
        case trailers
        case done
        case failed(HTTPParseError)
    }

    /// Longest chunk-size line (size and extensions) before its CRLF.
    public let maxLineLength: Int
    /// Most bytes of trailer field lines (not counting line endings) after the last chunk.
    public let maxTrailerBytes: Int

    private var state = State.sizeLine
    /// Data bytes of the current chunk not yet handed to the sink.
    private var remaining = 0
    private var sizeLine = ChunkSizeLineScanner()
    private var trailerLine = FieldLineScanner()
    private var trailerBytes = 0

    public init(maxLineLength: Int = 4096, maxTrailerBytes: Int = 8192) {
        precondition(maxLineLength > 0 && maxTrailerBytes >= 0, "limits must be positive")
        self.maxLineLength = maxLineLength
        self.maxTrailerBytes = maxTrailerBytes
    }

    /// Ready for the next body.
    public mutating func reset() {
        state = .sizeLine
        remaining = 0
        sizeLine.reset()
        trailerLine.reset()
        trailerBytes = 0
    }

    /// Consumes as much of `input` as possible, calling `sink` with each run of decoded data.
    public mutating func decode(
        _ input: UnsafeRawBufferPointer, into sink: (UnsafeRawBufferPointer) -> Void
    ) throws(HTTPParseError) -> (consumed: Int, done: Bool) {
        if case .failed(let error) = state { throw error }
        let consumed = ByteView.with(input) { bytes in
            run(bytes) { range in
                // Safe: `range` lies within `input`, which the caller keeps alive for this call.
                sink(unsafe UnsafeRawBufferPointer(rebasing: input[range]))
            }
        }
        switch state {
        case .failed(let error): throw error
        case .done: return (consumed, true)
        default: return (consumed, false)
        }
    }

    /// Returns the bytes consumed; records `.done` or `.failed` in `state`.
    private mutating func run(_ bytes: ByteView, _ emit: (Range<Int>) -> Void) -> Int {
        var i = 0
        while true {
            switch state {
            case .sizeLine:
                switch sizeLine.scan(bytes, lineStart: i, maxLength: maxLineLength) {
                case .needMore:
                    return i
                case .tooLong:
                    return fail(.chunkLineTooLong, at: i)
                case .invalid(let error):
                    return fail(error, at: i)
                case .complete(let size, let length):
                    i += length
                    if size == 0 {
                        state = .trailers
                    } else {
                        remaining = size
                        state = .data
                    }
                }

            case .data:
                let n = min(remaining, bytes.count - i)
                guard n > 0 else { return i }
                emit(i..<i + n)
                i += n
                remaining -= n
                if remaining == 0 { state = .dataCR }

            case .dataCR, .dataLF:
                guard i < bytes.count else { return i }
                let isCR: Bool
                if case .dataCR = state { isCR = true } else { isCR = false }
                guard bytes[i] == (isCR ? HTTPByte.cr : HTTPByte.lf) else {
                    return fail(.missingChunkCRLF, at: i)
                }
                i += 1
                state = isCR ? .dataLF : .sizeLine

            case .trailers:
                let budget = maxTrailerBytes - trailerBytes
                switch trailerLine.scan(bytes, lineStart: i, maxLength: budget) {
                case .needMore:
                    return i
                case .tooLong:
                    return fail(.trailerTooLarge, at: i)
                case .invalid(let error):
                    return fail(error, at: i)
                case .field(let name, _, let length):
                    let absolute = i + name.lowerBound..<i + name.upperBound
                    if Self.isForbiddenTrailer(bytes, absolute) { return fail(.forbiddenTrailer, at: i) }
                    trailerBytes += length - 2
                    i += length
                case .end:
                    state = .done
                    return i + 2
                }

            case .done:
                return i

            case .failed:
                return i
            }
        }
    }

    private mutating func fail(_ error: HTTPParseError, at i: Int) -> Int {
        state = .failed(error)
        return i
    }

    private static func isForbiddenTrailer(_ bytes: ByteView, _ name: Range<Int>) -> Bool {
        bytes.equalsIgnoringCase(name, "content-length")
            || bytes.equalsIgnoringCase(name, "transfer-encoding")
            || bytes.equalsIgnoringCase(name, "host")
    }
}
