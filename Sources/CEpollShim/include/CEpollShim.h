#ifndef C_EPOLL_SHIM_H
#define C_EPOLL_SHIM_H

// What Swift's Glibc module does not export (epoll, eventfd, accept4) and the fd_set macros,
// as small prefixed functions. _GNU_SOURCE is defined only inside shim.c: defining it here would
// turn sockaddr parameters into transparent unions for every importer.

#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/select.h>

#ifdef __cplusplus
extern "C" {
#endif

// Event bits, mirrored so callers need not include <sys/epoll.h>.
extern const uint32_t CEpoll_IN;
extern const uint32_t CEpoll_OUT;
extern const uint32_t CEpoll_RDHUP;
extern const uint32_t CEpoll_HUP;
extern const uint32_t CEpoll_ERR;
extern const uint32_t CEpoll_ET;
extern const uint32_t CEpoll_EXCLUSIVE;

/// The kernel's packed 12-byte epoll_event, re-declared with a stable Swift-visible layout.
typedef struct __attribute__((packed)) CEpollEvent {
    uint32_t events;
    uint64_t data;
} CEpollEvent;

int CEpoll_create(void);
int CEpoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data);
int CEpoll_wait(int epfd, CEpollEvent *events, int maxevents, int timeout_ms);
extern const int CEpoll_CTL_ADD;
extern const int CEpoll_CTL_MOD;
extern const int CEpoll_CTL_DEL;

int CEpoll_eventfd(void);
int CEpoll_accept4(int fd, struct sockaddr *addr, socklen_t *len);
int CEpoll_pipe2(int fds[2]);

// fd_set helpers for the select() backend.
void CEpoll_FD_ZERO(fd_set *set);
void CEpoll_FD_SET(int fd, fd_set *set);
void CEpoll_FD_CLR(int fd, fd_set *set);
int CEpoll_FD_ISSET(int fd, const fd_set *set);
int CEpoll_FD_SETSIZE(void);

/// Sets the calling thread's name as seen in /proc (15 bytes max).
void CEpoll_set_thread_name(const char *name);

/// errno as a plain function: Swift's errno accessor is fine, but C callers of the shim want one too.
int CEpoll_errno(void);

#ifdef __cplusplus
}
#endif
#endif
