/*
 * fdbudget.h: the supervisor's descriptors. At start the soft RLIMIT_NOFILE
 * is raised to the hard limit, as systemd advises the services it starts to
 * do (its default is 1024 soft, 524288 hard). Descriptors held for a worker
 * (--detect-exit's pidfds, one each) come from a budget: the limit, less a
 * reserve for what must keep working whatever the workers do (control
 * clients, HTTP connections, a reload's file, hooks), less what the
 * supervisor holds of its own once it runs. Beyond the budget, a worker is
 * not given one: its timer still supervises it.
 *
 * Descriptors and their limit belong to the process, so the budget does:
 * one per process, no object to pass around. Not for the heartbeat path
 * beyond fdbudget_acquire's first call, which counts the open descriptors.
 */
#ifndef VIGIL_FDBUDGET_H
#define VIGIL_FDBUDGET_H

#include <stddef.h>

/*
 * Kept free of the budget, at most half the limit: the clients the
 * control plane may hold at once (given by the caller: CONTROL_MAX_CLIENTS,
 * one more accepted only to be refused, HTTP_MAX_CONNECTIONS, and the
 * senders' pidfds a batch of datagrams holds, LISTENER_BATCH), a reload's
 * configuration file, and a few for the rest (a hook's /dev/null in the
 * child's copy of the table, /proc/PID/stat before a signal, the journal).
 */
#define FDBUDGET_RESERVE_MISC 8

/* Keep clients descriptors (the control plane's connections) in the reserve; before init. */
void fdbudget_keep(size_t clients);

/*
 * Raise the soft RLIMIT_NOFILE to the hard limit. If want descriptors (one
 * per worker, --detect-exit; 0: none) cannot all come from the budget, say
 * so (a warning naming LimitNOFILE=). Returns the soft limit now in force.
 */
size_t fdbudget_init(size_t want);

/*
 * Take one descriptor from the budget before opening it: 0, or -1 if the
 * budget is spent (then open nothing). The first call counts what is open
 * then: the supervisor's own descriptors, every socket set up by now.
 */
int fdbudget_acquire(void);

/* Give back one descriptor taken with fdbudget_acquire, once it is closed. */
void fdbudget_release(void);

/* Descriptors taken and not given back. */
size_t fdbudget_held(void);

/* The soft limit the budget counts from (0 until fdbudget_init or fdbudget_acquire). */
size_t fdbudget_limit(void);

/* The reserve for a limit: every descriptor named above, at most half of it. */
size_t fdbudget_reserve(size_t limit);

/* The budget for a limit with nopen descriptors already open: 0 if none is left. */
size_t fdbudget_compute(size_t limit, size_t nopen);

/*
 * Around the start of a program of ours (a hook): it gets the limit the
 * supervisor was started with, not the raised one, as systemd gives its
 * services (a program that still uses select() breaks above 1024).
 */
void fdbudget_child_begin(void);
void fdbudget_child_end(void);

#endif
