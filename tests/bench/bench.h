/*
 * bench.h: what the benchmark programs of tests/bench share (bench.c), so
 * that each measures the same thing the same way: the control-message room
 * and pidfd handling of a receiver shaped like supervisor/listener.c, and
 * the stop signals of a program that runs until told. libc only; compiled
 * into each program that uses it (tests/CMakeLists.txt).
 */
#ifndef VIGIL_BENCH_H
#define VIGIL_BENCH_H

#include <signal.h>
#include <sys/socket.h>
#include <time.h>

/* Linux 6.5; Debian 12's headers (6.1) do not have them. */
#ifndef SO_PASSPIDFD
#define SO_PASSPIDFD 76
#endif
#ifndef SCM_PIDFD
#define SCM_PIDFD 0x04
#endif

/*
 * Control-message room for one datagram, as the supervisor asks: its
 * arrival stamp (SO_TIMESTAMPNS), the sender's credentials (SO_PASSCRED) and
 * its pidfd (SO_PASSPIDFD). Needs _GNU_SOURCE for struct ucred.
 */
#define BENCH_CMSG_SPACE                                                                           \
	(CMSG_SPACE(sizeof(struct timespec)) + CMSG_SPACE(sizeof(struct ucred)) +                  \
	 CMSG_SPACE(sizeof(int)))

/* Close each pidfd (SCM_PIDFD) that came with a received datagram, as the supervisor does. */
void bench_close_pidfds(struct msghdr *mh);

/* Set by SIGTERM or SIGINT, once bench_stop_signals has run. */
extern volatile sig_atomic_t bench_stop;

/*
 * Block SIGTERM and SIGINT, whose handler sets bench_stop, and fill
 * *waitmask with the mask to wait with (ppoll, epoll_pwait2): a stop signal
 * is taken only inside the wait, so one that comes between a check of
 * bench_stop and the wait cannot be missed.
 */
void bench_stop_signals(sigset_t *waitmask);

#endif
