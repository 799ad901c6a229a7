/*
 * launch.c: a clean posix_spawn. See launch.h.
 */
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>

#include "launch.h"

extern char **environ;

int
vigil_spawn(pid_t *pid, char *const argv[], char *const envp[], unsigned flags)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	short sflags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
	int rc;

	sigemptyset(&none);
	sigfillset(&all);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (flags & VIGIL_SPAWN_QUIET)
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	if (flags & VIGIL_SPAWN_CLOSE_FDS)
		posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	if (flags & VIGIL_SPAWN_NEW_SESSION)
		sflags |= POSIX_SPAWN_SETSID;
	else if (flags & VIGIL_SPAWN_NEW_GROUP) {
		posix_spawnattr_setpgroup(&attr, 0);
		sflags |= POSIX_SPAWN_SETPGROUP;
	}
	posix_spawnattr_setflags(&attr, sflags);
	char *const *env = envp != NULL ? envp : environ;
	rc = (flags & VIGIL_SPAWN_SEARCH_PATH) ? posix_spawnp(pid, argv[0], &fa, &attr, argv, env)
					       : posix_spawn(pid, argv[0], &fa, &attr, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return rc;
}
