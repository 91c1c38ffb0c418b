#if canImport(Glibc)
import Glibc
#endif

/// First blocks of connections' read buffers, kept for reuse on the server thread.
///
/// A connection gives its read buffer back whenever it goes idle (so idle keep-alive
/// connections hold no input memory) and when it closes; at 4 KiB a block is past glibc's
/// per-thread cache, and malloc and free of one cost ~400 instructions per request. Here
/// they are a pointer push and pop. Bounded, so a burst of connections leaves at most
/// `limit` blocks behind.
final class ReadBlockCache {
    static let blockSize = 4096
    private var blocks: [UnsafeMutableRawPointer] = []
    private let limit: Int

    init(limit: Int = 64) {
        self.limit = limit
        blocks.reserveCapacity(limit)
    }

    deinit {
        for block in blocks { Glibc.free(block) }
    }

    /// A `blockSize`-byte block (malloc'd: the buffer may realloc it to grow).
    func take() -> UnsafeMutableRawPointer? {
        blocks.popLast() ?? malloc(Self.blockSize)
    }

    /// Keeps `block` (exactly `blockSize` bytes, from `take` or malloc) or frees it.
    func give(_ block: UnsafeMutableRawPointer) {
        if blocks.count < limit {
            blocks.append(block)
        } else {
            Glibc.free(block)
        }
    }

    var cachedCount: Int { blocks.count }
}
