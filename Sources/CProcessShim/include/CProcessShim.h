#ifndef C_PROCESS_SHIM_H
#define C_PROCESS_SHIM_H

// What the supervisor and its workers need from the C library that Swift's Glibc module does not
// export (prctl is variadic; fork, the wait-status macros, sigabbrev_np), plus the shared-memory
// scoreboard slot, whose fields are touched with C11 atomics from two processes at once.

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

/// One worker's entry in the scoreboard, in memory shared by the supervisor and all workers.
/// The worker's server thread is the only writer of `start`, `description` and `served`; it
/// brackets each update with `sequence` (odd while writing) so the supervisor can read a
/// consistent pair without a lock. `state` is written by the worker and read by the supervisor.
typedef struct CProcSlot {
    uint32_t sequence;
    uint32_t state;
    /// CLOCK_MONOTONIC milliseconds when the oldest request in flight started; 0 when none.
    int64_t start;
    uint64_t served;
    uint32_t description_length;
    uint32_t reserved;
    char description[CPROC_DESCRIPTION_MAX];
} CProcSlot;

/// `count` zeroed slots in a MAP_SHARED|MAP_ANONYMOUS mapping (inherited across fork), or NULL.
CProcSlot *CProc_scoreboard_create(int count);

void CProc_slot_reset(CProcSlot *slot);
void CProc_slot_set_state(CProcSlot *slot, uint32_t state);
uint32_t CProc_slot_state(const CProcSlot *slot);
/// Records the oldest request in flight (start 0 and an empty description: none).
void CProc_slot_set_request(CProcSlot *slot, int64_t start, const void *description, size_t length);
void CProc_slot_add_served(CProcSlot *slot, uint64_t count);
uint64_t CProc_slot_served(const CProcSlot *slot);
/// Copies a consistent (start, description) pair; returns the description's length (<= cap).
size_t CProc_slot_read_request(const CProcSlot *slot, int64_t *start, char *description, size_t cap);

// MARK: Allocator

/// mallopt(M_TRIM_THRESHOLD) and mallopt(M_MMAP_THRESHOLD) where glibc has them (malloc.h is
/// not in Swift's Glibc module); returns 0 when either failed or is unavailable.
int CProc_tune_malloc(int trim_threshold, int mmap_threshold);

#ifdef __cplusplus
}
#endif
#endif
