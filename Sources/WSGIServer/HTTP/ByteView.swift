/// Read-only access to the caller's bytes for the length of one `parse` or `decode` call.
///
/// The one place the HTTP layer dereferences a raw pointer, so the scanners themselves contain no
/// unsafe code. Bounds are asserted in debug builds; in release the scanners' own `i < count` loop
/// conditions are the only check, as in picohttpparser.
@safe
struct ByteView {
    private let base: UnsafePointer<UInt8>
    let count: Int

    /// Runs `body` over `buffer`; an empty buffer (which may have no base address) reads as zero bytes.
    static func with<R>(_ buffer: UnsafeRawBufferPointer, _ body: (ByteView) -> R) -> R {
        // Safe: the view is built from a live buffer and does not outlive `body`; rebinding to
        // UInt8 is valid for any initialised bytes.
        unsafe buffer.withMemoryRebound(to: UInt8.self) { typed in
            let view = unsafe ByteView(base: typed.baseAddress ?? UnsafePointer(bitPattern: 1)!, count: typed.count)
            return body(view)
        }
    }

    private init(base: UnsafePointer<UInt8>, count: Int) {
        unsafe self.base = base
        self.count = count
    }

    /// Transparent so debug builds inline it as well (see `HTTPByte`).
    subscript(_ i: Int) -> UInt8 {
        @_transparent get {
            assert(i >= 0 && i < count, "byte index out of range")
            // Safe: every caller loops with `i < count`; asserted above in debug builds.
            return unsafe base[i]
        }
    }

    /// True if the bytes at `range` equal `lowercase` ignoring ASCII case; `lowercase` must be
    /// lowercase ASCII.
    func equalsIgnoringCase(_ range: Range<Int>, _ lowercase: String) -> Bool {
        guard range.count == lowercase.utf8.count else { return false }
        var i = range.lowerBound
        for expected in lowercase.utf8 {
            if HTTPByte.lowercased(self[i]) != expected { return false }
            i += 1
        }
        return true
    }

    func equals(_ range: Range<Int>, _ string: String) -> Bool {
        guard range.count == string.utf8.count else { return false }
        var i = range.lowerBound
        for expected in string.utf8 {
            if self[i] != expected { return false }
            i += 1
        }
        return true
    }
}
