// libFuzzer target for RequestParser and ChunkedDecoder; built by fuzz/run.sh together with the
// parser's sources as one module, so it can read internal state.
//
// Each input is parsed whole, at a split point taken from its first byte, and one byte at a
// time; the answers must agree and every reported offset must lie inside the head. The body
// after a complete head, and the whole input as well, go through the chunked decoder whole and
// split, and must agree too. Any disagreement traps, which libFuzzer reports as a crash.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    // Safe: libFuzzer guarantees `count` readable bytes at `data` for this call.
    let input = unsafe UnsafeRawBufferPointer(start: data, count: count)
    let selector = count > 0 ? Int(unsafe data[0]) : 0  // Safe: count > 0 checked.
    // Small limits on odd selectors so short inputs reach the 414/431 paths.
    let limits = selector & 1 == 1 ? ParserLimits(requestLine: 64, headerCount: 4, fieldLength: 32) : ParserLimits()
    let split = count == 0 ? 0 : selector % (count + 1)

    var whole = RequestParser(limits: limits)
    let status = unsafe whole.parse(input)  // Safe: `input` is valid for this call.
    checkRanges(status, whole.request, count)

    var parted = RequestParser(limits: limits)
    let first = unsafe parted.parse(prefix(input, split))  // Safe: as above.
    require(first == .partial || same(first, parted.request, status, whole.request), "split first part")
    require(unsafe same(parted.parse(input), parted.request, status, whole.request), "split")  // Safe: as above.

    var bytewise = RequestParser(limits: limits)
    var settled = ParseStatus.partial
    for n in stride(from: 0, through: count, by: 1) {
        let step = unsafe bytewise.parse(prefix(input, n))  // Safe: as above.
        if settled != .partial { require(step == settled, "byte at a time changed its answer") }
        settled = step
    }
    require(same(settled, bytewise.request, status, whole.request), "byte at a time")

    if case .complete(let headLength) = status {
        require(whole.request.headers.count <= limits.headerCount, "header count")
        let body = unsafe UnsafeRawBufferPointer(rebasing: input[headLength...])  // Safe: headLength <= count checked.
        unsafe checkDecoder(body, split: split % (body.count + 1))  // Safe: as above.
    }
    unsafe checkDecoder(input, split: split)  // Safe: as above.
    return 0
}

/// The message is an autoclosure: building it on every check would dominate the run time.
private func require(_ condition: Bool, _ what: @autoclosure () -> String) {
    if !condition { fatalError("fuzz invariant failed: \(what())") }
}

private func prefix(_ input: UnsafeRawBufferPointer, _ n: Int) -> UnsafeRawBufferPointer {
    unsafe UnsafeRawBufferPointer(rebasing: input[0..<n])  // Safe: n <= input.count at every call.
}

/// Same status, and for a complete parse the same offsets and semantics.
private func same(_ a: ParseStatus, _ ra: ParsedRequest, _ b: ParseStatus, _ rb: ParsedRequest) -> Bool {
    guard a == b else { return false }
    guard case .complete = a else { return true }
    return ra.method == rb.method && ra.target == rb.target && ra.path == rb.path && ra.query == rb.query
        && ra.authority == rb.authority && ra.versionMinor == rb.versionMinor && ra.headers == rb.headers
        && ra.framing == rb.framing && ra.keepAlive == rb.keepAlive && ra.expectContinue == rb.expectContinue
        && ra.methodIsHead == rb.methodIsHead && ra.headLength == rb.headLength
}

/// Every offset of a complete parse lies within the head, which lies within the input.
private func checkRanges(_ status: ParseStatus, _ r: ParsedRequest, _ count: Int) {
    guard case .complete(let n) = status else { return }
    require(n == r.headLength && n <= count && n >= 4, "head length")
    func inside(_ range: Range<Int>?, _ outer: Range<Int>) {
        guard let range else { return }
        require(range.lowerBound >= outer.lowerBound && range.upperBound <= outer.upperBound, "range \(range) outside \(outer)")
    }
    let head = 0..<n
    inside(r.method, head)
    inside(r.target, head)
    inside(r.path, r.target)
    inside(r.query, r.target)
    inside(r.authority, r.target)
    require(!r.method.isEmpty && !r.target.isEmpty, "empty method or target")
    require(r.versionMinor == 0 || r.versionMinor == 1, "version")
    for field in r.headers {
        inside(field.name, head)
        inside(field.value, head)
        require(!field.name.isEmpty && field.name.upperBound < field.value.lowerBound + 1, "field layout")
    }
    if case .length(let length) = r.framing { require(length >= 0, "negative length") }
}

private struct Decoded: Equatable {
    var body: [UInt8] = []
    var consumed = 0
    var done = false
    var error: HTTPParseError? = nil
}

/// Decodes `input` whole and in two pieces (keeping unconsumed bytes); the results must agree.
private func checkDecoder(_ input: UnsafeRawBufferPointer, split: Int) {
    // Safe: the views are of the caller's live input.
    let whole = unsafe decode([input])
    let parts = unsafe decode([prefix(input, split), input])
    require(whole == parts, "decoder split at \(split)")
}

/// Feeds growing views of the same bytes; each call sees what the last one left unconsumed.
private func decode(_ views: [UnsafeRawBufferPointer]) -> Decoded {
    var decoder = ChunkedDecoder(maxLineLength: 64, maxTrailerBytes: 64)
    var result = Decoded()
    for unsafe view in unsafe views {  // Safe: views of the caller's live input.
        let pending = unsafe UnsafeRawBufferPointer(rebasing: view[result.consumed...])  // Safe: consumed <= view.count.
        do throws(HTTPParseError) {
            let (consumed, done) = try unsafe decoder.decode(pending) { run in  // Safe: as above.
                // Safe: pointer comparisons only, to prove runs are slices of the input.
                require(unsafe run.count > 0 && run.baseAddress! >= pending.baseAddress!
                    && run.baseAddress! + run.count <= pending.baseAddress! + pending.count, "run outside input")
                unsafe result.body.append(contentsOf: run)  // Safe: run is a live slice of the input.
            }
            require(consumed <= pending.count, "consumed more than given")
            result.consumed += consumed
            if done {
                result.done = true
                return result
            }
        } catch {
            result.error = error
            result.consumed = 0
            return result
        }
    }
    return result
}
