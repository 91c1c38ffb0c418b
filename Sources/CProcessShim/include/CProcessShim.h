#ifndef C_PROCESS_SHIM_H
#define C_PROCESS_SHIM_H

// What the supervisor and its workers need from the C library that Swift's Glibc module does not
// export (prctl is variadic; fork, the wait-status macros, sigabbrev_np, signalfd), plus the
// shared-memory scoreboard slot, whose fields are touched with C11 atomics from two processes at
// once.

#include <stdint.h>
#include <stddef.h>
#include <signal.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

// MARK: Processes

/// fork(2), wrapped because Swift marks it unavailable on some platforms.
pid_t CProc_fork(void);

/// Sets the calling thread's name (what `ps -e`, `top` and /proc/PID/comm show; 15 bytes max).
void CProc_set_name(const char *name);

/// Overwrites the process's argv area so `ps` shows `title` as its command line. The original
/// argv is captured by a constructor at load time; the title is cut to the area's size.
/// Returns the number of bytes available (0 when argv could not be captured).
size_t CProc_set_title(const char *title);

/// Asks the kernel to send `sig` to the calling process when its parent exits (PR_SET_PDEATHSIG).
int CProc_set_parent_death_signal(int sig);

/// Waits up to `timeout_ms` for one of the (blocked) signals in `set`. Returns the signal,
/// 0 on time-out, -1 with errno on failure (EINTR included).
int CProc_wait_signal(const sigset_t *set, int timeout_ms);

/// A non-blocking, close-on-exec signalfd(2) for the (blocked) signals in `set`, or -1 with errno.
int CProc_signalfd(const sigset_t *set);

/// Takes one pending signal from a signalfd: the signal, 0 when none is pending, -1 with errno.
int CProc_read_signal(int fd);

// Wait-status decoding (the W* macros).
int CProc_exited(int status);
int CProc_exit_status(int status);
int CProc_signaled(int status);
int CProc_term_signal(int status);
int CProc_core_dumped(int status);

/// "KILL" for SIGKILL (sigabbrev_np), or NULL for an unknown number.
const char *CProc_signal_abbrev(int sig);

// MARK: Scoreboard

/// Longest request description a slot keeps ("GET /path?query", cut).
#define CPROC_DESCRIPTION_MAX 200

/// Response status classes counted: 1xx, 2xx, 3xx, 4xx, 5xx, and any other code (600-999).
#define CPROC_STATUS_CLASSES 6
/// Upper bounds of the request duration histogram's buckets, plus one for +Inf.
#define CPROC_DURATION_BOUNDS 13
#define CPROC_DURATION_BUCKETS (CPROC_DURATION_BOUNDS + 1)

/// The `--metrics-bind` figures of one worker. Counters only grow while the slot belongs to one
/// worker process; the supervisor folds them into its own totals when it reaps the worker.
typedef struct CProcMetrics {
    /// Written by the server thread only (a load and a store each, no read-modify-write).
    uint64_t responses[CPROC_STATUS_CLASSES];
    /// Observations per bucket, not cumulative: bucket i counts durations in
    /// (bound[i-1], bound[i]] microseconds; the last one everything above the last bound.
    uint64_t duration_buckets[CPROC_DURATION_BUCKETS];
    uint64_t duration_sum_us;
    /// Gauges written by the server thread.
    int64_t connections_open;
    int64_t requests_in_flight;
    uint64_t padding1;
    /// Requests queued for a worker thread: written by whichever thread changed the queue,
    /// under the queue's mutex, so the last store is the current length. On a cache line of its
    /// own, away from the server thread's counters.
    int64_t queue_depth;
    uint64_t padding2[7];
} CProcMetrics;

/// One worker's entry in the scoreboard, in memory shared by the supervisor and all workers.
/// The worker's server thread is the only writer of `start`, `description` and `served`; it
/// brackets each update with `sequence` (odd while writing) so the supervisor can read a
/// consistent pair without a lock. `state` is written by the worker and read by the supervisor.
/// Slots are a whole number of cache lines (explicit padding: no alignment attributes for Swift
/// to import), so workers on different cores never write the same line.
typedef struct CProcSlot {
    uint32_t sequence;
    uint32_t state;
    /// CLOCK_MONOTONIC milliseconds when the oldest request in flight started; 0 when none.
    int64_t start;
    uint64_t served;
    uint32_t description_length;
    uint32_t reserved;
    char description[CPROC_DESCRIPTION_MAX];
    uint64_t padding[3];
    CProcMetrics metrics;
} CProcSlot;

/// `count` zeroed slots in a MAP_SHARED|MAP_ANONYMOUS mapping (inherited across fork), or NULL.
CProcSlot *CProc_scoreboard_create(int count);

/// Before a new worker takes the slot: state, counters, metrics and request all cleared.
void CProc_slot_reset(CProcSlot *slot);
void CProc_slot_set_state(CProcSlot *slot, uint32_t state);
uint32_t CProc_slot_state(const CProcSlot *slot);
/// Records the oldest request in flight (start 0 and an empty description: none).
void CProc_slot_set_request(CProcSlot *slot, int64_t start, const void *description, size_t length);
void CProc_slot_add_served(CProcSlot *slot, uint64_t count);
uint64_t CProc_slot_served(const CProcSlot *slot);
/// Copies a consistent (start, description) pair; returns the description's length (<= cap).
size_t CProc_slot_read_request(const CProcSlot *slot, int64_t *start, char *description, size_t cap);

/// sizeof(CProcSlot), for checking that Swift lays out the slot array as C does.
size_t CProc_slot_size(void);
/// Slot `index` of a scoreboard.
CProcSlot *CProc_scoreboard_slot(CProcSlot *base, int index);

// MARK: Metrics (written by the worker's server thread unless said otherwise)

/// The upper bound of duration bucket `index` (< CPROC_DURATION_BOUNDS), in microseconds.
uint64_t CProc_duration_bound_us(int index);
/// A response went out with `status` after `duration_us`: its class counter, its duration
/// bucket and the duration sum. Single writer: the worker's server thread.
void CProc_slot_record_response(CProcSlot *slot, int status, uint64_t duration_us);
void CProc_slot_set_connections_open(CProcSlot *slot, int64_t value);
void CProc_slot_set_requests_in_flight(CProcSlot *slot, int64_t value);
/// Any thread, under the lock that orders the queue's changes.
void CProc_slot_set_queue_depth(CProcSlot *slot, int64_t value);
/// A copy of the slot's metrics, each field read atomically (the fields may be from slightly
/// different instants; each counter on its own never goes backwards).
void CProc_slot_read_metrics(const CProcSlot *slot, CProcMetrics *out);

// MARK: Allocator

/// mallopt(M_TRIM_THRESHOLD) and mallopt(M_MMAP_THRESHOLD) where glibc has them (malloc.h is
/// not in Swift's Glibc module); returns 0 when either failed or is unavailable.
int CProc_tune_malloc(int trim_threshold, int mmap_threshold);

#ifdef __cplusplus
}
#endif
#endif
