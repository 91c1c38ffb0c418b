import Testing
@testable import WSGIServer

extension ReadBuffer {
    /// Copies `bytes` into the free space, as recv(2) would; returns how many fitted.
    @discardableResult
    fileprivate mutating func receive(_ bytes: [UInt8]) -> Int {
        let free = self.free
        let n = min(free.count, bytes.count)
        bytes.withUnsafeBytes { free.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: n) }
        commit(n)
        return n
    }

    fileprivate var contents: [UInt8] { Array(readable) }
}

/// `#expect(buffer.reserveFree(n))` does not compile: the macro calls the method on an immutable copy.
private func reserve(_ buffer: inout ReadBuffer, _ minimum: Int) -> Bool {
    buffer.reserveFree(minimum)
}

private func receive(_ buffer: inout ReadBuffer, _ bytes: [UInt8]) -> Int {
    buffer.receive(bytes)
}

private func pattern(_ count: Int, from start: Int = 0) -> [UInt8] {
    (start..<start + count).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
}

struct ReadBufferTests {
    @Test func startsEmptyWithoutStorage() {
        var buffer = ReadBuffer(maximumCapacity: 1 << 16)
        defer { buffer.deallocate() }
        #expect(buffer.isEmpty && buffer.count == 0 && buffer.capacity == 0)
        #expect(buffer.readable.count == 0)
        #expect(buffer.free.count == 0)
    }

    @Test func firstReservationAllocatesAndDataReadsBack() {
        var buffer = ReadBuffer(maximumCapacity: 1 << 16)
        defer { buffer.deallocate() }
        #expect(reserve(&buffer, 1))
        #expect(buffer.capacity == 4096)
        #expect(receive(&buffer, pattern(100)) == 100)
        #expect(buffer.count == 100 && !buffer.isEmpty)
        #expect(buffer.contents == pattern(100))
        #expect(buffer.free.count == 4096 - 100)
    }

    @Test func growsByDoublingAndKeepsTheData() {
        var buffer = ReadBuffer(maximumCapacity: 1 << 20)
        defer { buffer.deallocate() }
        var written: [UInt8] = []
        var capacities: [Int] = []
        while written.count < 40_000 {
            #expect(reserve(&buffer, 4096))
            if capacities.last != buffer.capacity { capacities.append(buffer.capacity) }
            let chunk = pattern(min(buffer.free.count, 3000), from: written.count)
            buffer.receive(chunk)
            written += chunk
        }
        #expect(capacities == [4096, 8192, 16384, 32768, 65536])
        #expect(buffer.contents == written)
    }

    @Test func oneLargeReservationGrowsEnoughAtOnce() {
        var buffer = ReadBuffer(maximumCapacity: 1 << 20)
        defer { buffer.deallocate() }
        #expect(reserve(&buffer, 20_000))
        #expect(buffer.capacity == 32768)
        #expect(buffer.free.count >= 20_000)
    }

    @Test func consumeAdvancesAndEmptyingResetsToTheStart() {
        var buffer = ReadBuffer(maximumCapacity: 1 << 16)
        defer { buffer.deallocate() }
        _ = buffer.reserveFree(1)
        buffer.receive(pattern(10))
        buffer.consume(4)
        #expect(buffer.contents == Array(pattern(10)[4...]))
        #expect(buffer.free.count == 4096 - 10)
        buffer.consume(6)
        #expect(buffer.isEmpty)
        #expect(buffer.free.count == 4096)  // back at the start, no copy needed
    }

    @Test func compactsInPlaceBeforeGrowing() {
        var buffer = ReadBuffer(maximumCapacity: 1 << 16)
        defer { buffer.deallocate() }
        _ = buffer.reserveFree(1)
        buffer.receive(pattern(4000))
        buffer.consume(1000)  // 3000 unread bytes, overlapping their new place
        #expect(reserve(&buffer, 1000))
        #expect(buffer.capacity == 4096)
        #expect(buffer.free.count == 4096 - 3000)
        #expect(buffer.contents == Array(pattern(4000)[1000...]))
        buffer.receive(pattern(1000, from: 4000))
        #expect(buffer.contents == Array(pattern(5000)[1000...]))
    }

    @Test func compactsAndGrowsWhenCompactingIsNotEnough() {
        var buffer = ReadBuffer(maximumCapacity: 1 << 16)
        defer { buffer.deallocate() }
        _ = buffer.reserveFree(1)
        buffer.receive(pattern(4000))
        buffer.consume(500)
        #expect(reserve(&buffer, 2000))
        #expect(buffer.capacity == 8192)
        #expect(buffer.contents == Array(pattern(4000)[500...]))
    }

    @Test func neverGrowsPastTheMaximum() {
        var buffer = ReadBuffer(maximumCapacity: 10_000)
        defer { buffer.deallocate() }
        #expect(reserve(&buffer, 9000))
        #expect(buffer.capacity == 10_000)
        #expect(receive(&buffer, pattern(9_900)) == 9_900)
        // At the maximum, whatever room is left is offered...
        #expect(reserve(&buffer, 4096))
        #expect(buffer.free.count == 100)
        buffer.receive(pattern(100, from: 9_900))
        // ...and a full buffer at the maximum refuses.
        #expect(!reserve(&buffer, 1))
        #expect(buffer.capacity == 10_000)
        #expect(buffer.contents == pattern(10_000))
        // Consuming makes room again, by compacting.
        buffer.consume(5000)
        #expect(reserve(&buffer, 4096))
        #expect(buffer.contents == Array(pattern(10_000)[5000...]))
    }

    @Test func removeAllAndDeallocate() {
        var buffer = ReadBuffer(maximumCapacity: 1 << 16)
        _ = buffer.reserveFree(1)
        buffer.receive(pattern(10))
        buffer.removeAll()
        #expect(buffer.isEmpty && buffer.capacity == 4096)
        buffer.deallocate()
        #expect(buffer.capacity == 0 && buffer.isEmpty)
        #expect(reserve(&buffer, 1))  // usable again
        buffer.deallocate()
    }

    @Test func firstBlocksComeFromTheCacheAndGoBack() {
        let cache = ReadBlockCache(limit: 2)
        var first = ReadBuffer(maximumCapacity: 1 << 16, blockCache: cache)
        #expect(reserve(&first, 1))
        #expect(receive(&first, pattern(300)) == 300)
        let block = first.readable.baseAddress
        first.deallocate()
        #expect(cache.cachedCount == 1)
        // The next connection's buffer gets the same block, and reads its own bytes from it.
        var second = ReadBuffer(maximumCapacity: 1 << 16, blockCache: cache)
        #expect(reserve(&second, 1))
        #expect(cache.cachedCount == 0)
        #expect(second.capacity == 4096)
        #expect(receive(&second, pattern(50, from: 9)) == 50)
        #expect(second.readable.baseAddress == block)
        #expect(second.contents == pattern(50, from: 9))
        second.deallocate()
        #expect(cache.cachedCount == 1)
    }

    @Test func grownBuffersAreFreedAndTheCacheStaysBounded() {
        let cache = ReadBlockCache(limit: 2)
        var grown = ReadBuffer(maximumCapacity: 1 << 16, blockCache: cache)
        #expect(reserve(&grown, 1))
        #expect(receive(&grown, pattern(4096)) == 4096)
        #expect(reserve(&grown, 4096))
        #expect(grown.capacity == 8192)
        #expect(grown.contents == pattern(4096))
        grown.deallocate()
        #expect(cache.cachedCount == 0)  // not a 4 KiB block any more
        var buffers = (0..<3).map { _ in ReadBuffer(maximumCapacity: 1 << 16, blockCache: cache) }
        for index in buffers.indices { #expect(reserve(&buffers[index], 1)) }
        for index in buffers.indices { buffers[index].deallocate() }
        #expect(cache.cachedCount == 2)
    }

    @Test func aLargeFirstReservationBypassesTheCache() {
        let cache = ReadBlockCache(limit: 2)
        var buffer = ReadBuffer(maximumCapacity: 1 << 20, blockCache: cache)
        #expect(reserve(&buffer, 20_000))
        #expect(buffer.capacity >= 20_000)
        buffer.deallocate()
        #expect(cache.cachedCount == 0)
    }

    @Test func anUncachedReleaseLeavesTheCacheAlone() {
        let cache = ReadBlockCache(limit: 2)
        var buffer = ReadBuffer(maximumCapacity: 1 << 16, blockCache: cache)
        #expect(reserve(&buffer, 1))
        #expect(receive(&buffer, pattern(10)) == 10)
        buffer.deallocateUncached()
        #expect(cache.cachedCount == 0)
        #expect(buffer.capacity == 0 && buffer.isEmpty)
    }
}
