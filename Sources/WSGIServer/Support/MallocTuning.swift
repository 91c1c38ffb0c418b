#if canImport(Glibc)
import Glibc
#endif
import CProcessShim

/// glibc's allocator, set for a server's pattern of large short-lived buffers.
///
/// A response body of a few hundred KiB to a few MiB is copied into a buffer that lives only
/// until it is written. With glibc's defaults each such buffer is given back to the kernel
/// when freed (madvise of the trimmed heap top, or munmap) and faulted in again, zeroed, for
/// the next response: for 1 MiB responses that was ~240 µs of page faults per request on the
/// worker thread, more than the copy itself. Keeping up to 32 MiB of freed memory per arena,
/// and serving allocations below 4 MiB from the heap, removes them; the cost is RSS that stays
/// at its high-water mark after a burst of large responses.
public enum MallocTuning {
    static let trimThreshold: Int32 = 32 << 20
    static let mmapThreshold: Int32 = 4 << 20

    /// Call once per process before its threads start. Leaves the allocator alone when the
    /// operator tuned it through the environment.
    public static func apply() {
        #if canImport(Glibc)
        if let tunables = getenv("GLIBC_TUNABLES"), String(cString: tunables).contains("glibc.malloc.") { return }
        if getenv("MALLOC_TRIM_THRESHOLD_") != nil || getenv("MALLOC_MMAP_THRESHOLD_") != nil { return }
        _ = CProc_tune_malloc(trimThreshold, mmapThreshold)
        #endif
    }
}
