#define _GNU_SOURCE
#include "CEpollShim.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

_Static_assert(sizeof(CEpollEvent) == sizeof(struct epoll_event), "epoll_event layout");
_Static_assert(__builtin_offsetof(CEpollEvent, data) == __builtin_offsetof(struct epoll_event, data),
               "epoll_event data offset");

const uint32_t CEpoll_IN = EPOLLIN;
const uint32_t CEpoll_OUT = EPOLLOUT;
const uint32_t CEpoll_RDHUP = EPOLLRDHUP;
const uint32_t CEpoll_HUP = EPOLLHUP;
const uint32_t CEpoll_ERR = EPOLLERR;
const uint32_t CEpoll_ET = EPOLLET;
const uint32_t CEpoll_EXCLUSIVE = EPOLLEXCLUSIVE;
const int CEpoll_CTL_ADD = EPOLL_CTL_ADD;
const int CEpoll_CTL_MOD = EPOLL_CTL_MOD;
const int CEpoll_CTL_DEL = EPOLL_CTL_DEL;

int CEpoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int CEpoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev;
    ev.events = events;
    ev.data.u64 = data;
    return epoll_ctl(epfd, op, fd, &ev);
}

int CEpoll_wait(int epfd, CEpollEvent *events, int maxevents, int timeout_ms) {
    return epoll_wait(epfd, (struct epoll_event *)events, maxevents, timeout_ms);
}

int CEpoll_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

int CEpoll_accept4(int fd, struct sockaddr *addr, socklen_t *len) {
    return accept4(fd, addr, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

int CEpoll_pipe2(int fds[2]) { return pipe2(fds, O_NONBLOCK | O_CLOEXEC); }

void CEpoll_FD_ZERO(fd_set *set) { FD_ZERO(set); }
void CEpoll_FD_SET(int fd, fd_set *set) { FD_SET(fd, set); }
void CEpoll_FD_CLR(int fd, fd_set *set) { FD_CLR(fd, set); }
int CEpoll_FD_ISSET(int fd, const fd_set *set) { return FD_ISSET(fd, set); }
int CEpoll_FD_SETSIZE(void) { return FD_SETSIZE; }

void CEpoll_set_thread_name(const char *name) { pthread_setname_np(pthread_self(), name); }

int CEpoll_errno(void) { return errno; }
