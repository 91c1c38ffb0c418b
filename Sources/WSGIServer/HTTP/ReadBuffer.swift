/// A connection's input bytes: one manual allocation that grows by doubling and compacts in
/// place, so reading never allocates per request once it has the size the traffic needs.
struct ReadBuffer {
    // unsafe: raw storage owned by this buffer; the owning connection calls `deallocate()`.
    private var storage: UnsafeMutableRawPointer?
    private(set) var capacity = 0
    private var start = 0
    private var end = 0
    let maximumCapacity: Int
    /// Where first blocks come from and go back to; nil: plain malloc and free.
    private let blockCache: ReadBlockCache?

    init(maximumCapacity: Int, blockCache: ReadBlockCache? = nil) {
        self.maximumCapacity = maximumCapacity
        self.blockCache = blockCache
    }

    var count: Int { end - start }
    var isEmpty: Bool { start == end }

    /// The unconsumed bytes; valid until the next mutation.
    var readable: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: storage.map { $0 + start }, count: end - start)
    }

    mutating func consume(_ n: Int) {
        start += n
        if start == end {
            start = 0
            end = 0
        }
    }

    mutating func removeAll() {
        start = 0
        end = 0
    }

    /// Makes room for at least `minimum` bytes after the data if it can; false only when there
    /// is no room at all (at the maximum size, full).
    mutating func reserveFree(_ minimum: Int) -> Bool {
        if capacity - end >= minimum { return true }
        if start > 0 {
            if end > start, let storage {
                (storage).copyMemory(from: storage + start, byteCount: end - start)
            }
            end -= start
            start = 0
            if capacity - end >= minimum { return true }
        }
        guard capacity < maximumCapacity else { return capacity - end > 0 }
        if storage == nil, let blockCache, minimum <= ReadBlockCache.blockSize, maximumCapacity >= ReadBlockCache.blockSize {
            guard let block = blockCache.take() else { return false }
            storage = block
            capacity = ReadBlockCache.blockSize
            return true
        }
        var newCapacity = max(capacity * 2, 4096)
        while newCapacity - end < minimum && newCapacity < maximumCapacity { newCapacity *= 2 }
        newCapacity = min(newCapacity, maximumCapacity)
        // malloc/realloc/free throughout: realloc may grow in place, saving the copy.
        guard let grown = realloc(storage, newCapacity) else { return capacity - end > 0 }
        storage = grown
        capacity = newCapacity
        return true
    }

    /// The free space after the data, for recv(2) to fill.
    var free: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: storage.map { $0 + end }, count: capacity - end)
    }

    mutating func commit(_ n: Int) {
        end += n
    }

    /// Frees the storage (a first block back to the block cache, if there is one).
    mutating func deallocate() {
        deallocate(toCache: true)
    }

    /// Frees the storage without the block cache: for an owner going away on whatever thread
    /// drops its last reference (the cache belongs to the server thread).
    mutating func deallocateUncached() {
        deallocate(toCache: false)
    }

    private mutating func deallocate(toCache: Bool) {
        if toCache, let storage, let blockCache, capacity == ReadBlockCache.blockSize {
            blockCache.give(storage)
        } else {
            Glibc.free(storage)
        }
        storage = nil
        capacity = 0
        start = 0
        end = 0
    }
}

#if canImport(Glibc)
import Glibc
#endif
