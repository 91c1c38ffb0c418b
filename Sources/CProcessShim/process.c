#define _GNU_SOURCE
#include "CProcessShim.h"

#include <errno.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

_Static_assert(sizeof(CProcSlot) % 8 == 0, "slots stay 8-byte aligned in an array");
_Static_assert(__builtin_offsetof(CProcSlot, start) % 8 == 0, "64-bit atomics need alignment");
_Static_assert(sizeof(CProcSlot) % 64 == 0, "slots start on cache-line boundaries");
_Static_assert(__builtin_offsetof(CProcSlot, metrics) % 64 == 0, "metrics start a cache line");
_Static_assert(__builtin_offsetof(CProcMetrics, queue_depth) % 64 == 0, "the queue gauge has its own line");
_Static_assert(sizeof(CProcMetrics) % 64 == 0, "nothing shares the queue gauge's line");

pid_t CProc_fork(void) { return fork(); }

void CProc_set_name(const char *name) { prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0); }

int CProc_set_parent_death_signal(int sig) { return prctl(PR_SET_PDEATHSIG, (unsigned long)sig, 0, 0, 0); }

// glibc passes (argc, argv, envp) to functions in .init_array; this is the only portable-enough
// way to reach the original argv strings (Swift's CommandLine may hand out copies).
static char *argv_start;
static size_t argv_size;

static void capture_argv(int argc, char **argv, char **envp) {
    (void)envp;
    if (argc <= 0 || argv == NULL || argv[0] == NULL) return;
    char *end = argv[0] + strlen(argv[0]);
    for (int i = 1; i < argc; i++) {
        if (argv[i] != end + 1) break;  // not contiguous: stop where the area provably ends
        end = argv[i] + strlen(argv[i]);
    }
    argv_start = argv[0];
    argv_size = (size_t)(end - argv[0]) + 1;
}

__attribute__((section(".init_array"), used))
static void (*const capture_argv_entry)(int, char **, char **) = capture_argv;

size_t CProc_set_title(const char *title) {
    if (argv_start == NULL || argv_size < 2) return 0;
    size_t n = strlen(title);
    if (n > argv_size - 1) n = argv_size - 1;
    memcpy(argv_start, title, n);
    memset(argv_start + n, 0, argv_size - n);
    return argv_size - 1;
}

int CProc_wait_signal(const sigset_t *set, int timeout_ms) {
    struct timespec ts = { .tv_sec = timeout_ms / 1000, .tv_nsec = (long)(timeout_ms % 1000) * 1000000L };
    int sig = sigtimedwait(set, NULL, timeout_ms < 0 ? NULL : &ts);
    if (sig < 0 && errno == EAGAIN) return 0;
    return sig;
}

int CProc_signalfd(const sigset_t *set) {
    return signalfd(-1, set, SFD_NONBLOCK | SFD_CLOEXEC);
}

int CProc_read_signal(int fd) {
    struct signalfd_siginfo info;
    ssize_t n;
    do {
        n = read(fd, &info, sizeof info);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return errno == EAGAIN ? 0 : -1;
    if (n != (ssize_t)sizeof info) {
        errno = EIO;
        return -1;
    }
    return (int)info.ssi_signo;
}

int CProc_exited(int status) { return WIFEXITED(status); }
int CProc_exit_status(int status) { return WEXITSTATUS(status); }
int CProc_signaled(int status) { return WIFSIGNALED(status); }
int CProc_term_signal(int status) { return WTERMSIG(status); }
int CProc_core_dumped(int status) { return WCOREDUMP(status); }

const char *CProc_signal_abbrev(int sig) { return sigabbrev_np(sig); }

CProcSlot *CProc_scoreboard_create(int count) {
    if (count <= 0) return NULL;
    void *p = mmap(NULL, sizeof(CProcSlot) * (size_t)count, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : (CProcSlot *)p;
}

static void reset_metrics(CProcMetrics *m) {
    for (int i = 0; i < CPROC_STATUS_CLASSES; i++) __atomic_store_n(&m->responses[i], 0, __ATOMIC_RELAXED);
    for (int i = 0; i < CPROC_DURATION_BUCKETS; i++) __atomic_store_n(&m->duration_buckets[i], 0, __ATOMIC_RELAXED);
    __atomic_store_n(&m->duration_sum_us, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&m->connections_open, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&m->requests_in_flight, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&m->queue_depth, 0, __ATOMIC_RELAXED);
}

void CProc_slot_reset(CProcSlot *slot) {
    __atomic_store_n(&slot->state, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&slot->served, 0, __ATOMIC_RELAXED);
    reset_metrics(&slot->metrics);
    CProc_slot_set_request(slot, 0, "", 0);
}

void CProc_slot_set_state(CProcSlot *slot, uint32_t state) {
    __atomic_store_n(&slot->state, state, __ATOMIC_RELEASE);
}

uint32_t CProc_slot_state(const CProcSlot *slot) {
    return __atomic_load_n(&slot->state, __ATOMIC_ACQUIRE);
}

// A seqlock: one writer (the worker's server thread), readers retry while the count is odd or
// changed. The description bytes are copied with relaxed atomic byte accesses so a torn read is
// merely discarded, never undefined.
void CProc_slot_set_request(CProcSlot *slot, int64_t start, const void *description, size_t length) {
    uint32_t seq = __atomic_load_n(&slot->sequence, __ATOMIC_RELAXED);
    __atomic_store_n(&slot->sequence, seq + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    if (length > CPROC_DESCRIPTION_MAX) length = CPROC_DESCRIPTION_MAX;
    const unsigned char *src = description;
    for (size_t i = 0; i < length; i++) __atomic_store_n((unsigned char *)&slot->description[i], src[i], __ATOMIC_RELAXED);
    __atomic_store_n(&slot->description_length, (uint32_t)length, __ATOMIC_RELAXED);
    __atomic_store_n(&slot->start, start, __ATOMIC_RELAXED);
    __atomic_store_n(&slot->sequence, seq + 2, __ATOMIC_RELEASE);
}

void CProc_slot_add_served(CProcSlot *slot, uint64_t count) {
    __atomic_fetch_add(&slot->served, count, __ATOMIC_RELAXED);
}

uint64_t CProc_slot_served(const CProcSlot *slot) {
    return __atomic_load_n(&slot->served, __ATOMIC_RELAXED);
}

size_t CProc_slot_read_request(const CProcSlot *slot, int64_t *start, char *description, size_t cap) {
    for (int attempt = 0; attempt < 100; attempt++) {
        uint32_t before = __atomic_load_n(&slot->sequence, __ATOMIC_ACQUIRE);
        if (before & 1) continue;
        int64_t s = __atomic_load_n(&slot->start, __ATOMIC_RELAXED);
        size_t n = __atomic_load_n(&slot->description_length, __ATOMIC_RELAXED);
        if (n > cap) n = cap;
        if (n > CPROC_DESCRIPTION_MAX) n = CPROC_DESCRIPTION_MAX;
        for (size_t i = 0; i < n; i++) description[i] = (char)__atomic_load_n((const unsigned char *)&slot->description[i], __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&slot->sequence, __ATOMIC_RELAXED) == before) {
            *start = s;
            return n;
        }
    }
    // A writer that never finishes is a stuck process: report the start time alone.
    *start = __atomic_load_n(&slot->start, __ATOMIC_RELAXED);
    return 0;
}

size_t CProc_slot_size(void) { return sizeof(CProcSlot); }

CProcSlot *CProc_scoreboard_slot(CProcSlot *base, int index) { return base + index; }

// MARK: Metrics

// Seconds: 0.001 0.0025 0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10 (Prometheus's defaults
// with two finer buckets below 5 ms, where most answers of a fast app fall).
static const uint64_t duration_bounds_us[CPROC_DURATION_BOUNDS] = {
    1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
};

uint64_t CProc_duration_bound_us(int index) {
    return index >= 0 && index < CPROC_DURATION_BOUNDS ? duration_bounds_us[index] : UINT64_MAX;
}

// One writer per counter (the server thread), so an increment is a relaxed load and a relaxed
// store: no locked instruction, and readers in other processes still never see a torn value.
static inline void bump(uint64_t *counter, uint64_t by) {
    __atomic_store_n(counter, __atomic_load_n(counter, __ATOMIC_RELAXED) + by, __ATOMIC_RELAXED);
}

void CProc_slot_record_response(CProcSlot *slot, int status, uint64_t duration_us) {
    int class = status >= 100 && status <= 599 ? status / 100 - 1 : CPROC_STATUS_CLASSES - 1;
    bump(&slot->metrics.responses[class], 1);
    int bucket = 0;
    while (bucket < CPROC_DURATION_BOUNDS && duration_us > duration_bounds_us[bucket]) bucket++;
    bump(&slot->metrics.duration_buckets[bucket], 1);
    bump(&slot->metrics.duration_sum_us, duration_us);
}

void CProc_slot_set_connections_open(CProcSlot *slot, int64_t value) {
    __atomic_store_n(&slot->metrics.connections_open, value, __ATOMIC_RELAXED);
}

void CProc_slot_set_requests_in_flight(CProcSlot *slot, int64_t value) {
    __atomic_store_n(&slot->metrics.requests_in_flight, value, __ATOMIC_RELAXED);
}

void CProc_slot_set_queue_depth(CProcSlot *slot, int64_t value) {
    __atomic_store_n(&slot->metrics.queue_depth, value, __ATOMIC_RELAXED);
}

void CProc_slot_read_metrics(const CProcSlot *slot, CProcMetrics *out) {
    const CProcMetrics *m = &slot->metrics;
    for (int i = 0; i < CPROC_STATUS_CLASSES; i++) out->responses[i] = __atomic_load_n(&m->responses[i], __ATOMIC_RELAXED);
    for (int i = 0; i < CPROC_DURATION_BUCKETS; i++) out->duration_buckets[i] = __atomic_load_n(&m->duration_buckets[i], __ATOMIC_RELAXED);
    out->duration_sum_us = __atomic_load_n(&m->duration_sum_us, __ATOMIC_RELAXED);
    out->connections_open = __atomic_load_n(&m->connections_open, __ATOMIC_RELAXED);
    out->requests_in_flight = __atomic_load_n(&m->requests_in_flight, __ATOMIC_RELAXED);
    out->queue_depth = __atomic_load_n(&m->queue_depth, __ATOMIC_RELAXED);
}

int CProc_tune_malloc(int trim_threshold, int mmap_threshold) {
#if defined(__GLIBC__)
    return mallopt(M_TRIM_THRESHOLD, trim_threshold) && mallopt(M_MMAP_THRESHOLD, mmap_threshold);
#else
    (void)trim_threshold;
    (void)mmap_threshold;
    return 0;
#endif
}
