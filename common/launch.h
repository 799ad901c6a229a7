/*
 * launch.h: starting a program from a daemon's event loop, the one way both
 * vigil-supervisor (hooks) and vigil-worker (--exec, --check) do it: a
 * clean start (default signal dispositions, an empty signal mask, stdin
 * from /dev/null), posix_spawn so nothing runs between fork and exec, and
 * never a wait: the caller reaps on SIGCHLD.
 */
#ifndef VIGIL_LAUNCH_H
#define VIGIL_LAUNCH_H

#include <sys/types.h>

enum vigil_spawn_flag {
	VIGIL_SPAWN_SEARCH_PATH = 1u << 0, /* argv[0] found in PATH (else a path) */
	VIGIL_SPAWN_CLOSE_FDS = 1u << 1,   /* nothing above stderr is passed on */
	VIGIL_SPAWN_QUIET = 1u << 2,       /* stdout to /dev/null too */
	VIGIL_SPAWN_NEW_GROUP = 1u << 3,   /* its own process group: kill(-pid) reaches its children */
	VIGIL_SPAWN_NEW_SESSION = 1u << 4, /* its own session (and group) */
};

/* Start argv with envp (NULL: ours) as *pid; 0, or an errno value. */
int vigil_spawn(pid_t *pid, char *const argv[], char *const envp[], unsigned flags);

#endif
