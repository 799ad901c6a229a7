/*
 * sd-client: a program written for systemd's watchdog, for the tests: it
 * knows nothing of vigil and talks through libsystemd's sd_notify() to
 * whatever $NOTIFY_SOCKET names. READY=1 with a STATUS=, then
 * sd_notify_barrier() (which waits until the receiver closes the descriptor
 * it sends), then COUNT times WATCHDOG=1 every INTERVAL_MS, each with FDS
 * descriptors attached (FDSTORE=1, as a program handing fds to systemd
 * would), then it sleeps until killed.
 *   sd-client COUNT INTERVAL_MS FDS
 * Exit 3 if the barrier failed, 4 if a notification could not be sent.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

int
main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: sd-client COUNT INTERVAL_MS FDS\n");
		return 2;
	}
	int count = atoi(argv[1]), interval_ms = atoi(argv[2]), nfds = atoi(argv[3]);
	int fds[16];

	if (nfds < 0 || nfds > 16) {
		fprintf(stderr, "sd-client: FDS must be 0-16\n");
		return 2;
	}
	if (sd_notify(0, "READY=1\nSTATUS=a libsystemd program") <= 0)
		return 4;
	int r = sd_notify_barrier(0, 5 * 1000000ULL);
	if (r < 0) {
		fprintf(stderr, "sd-client: sd_notify_barrier: %s\n", strerror(-r));
		return 3;
	}
	printf("sd-client: barrier passed\n");
	fflush(stdout);
	for (int i = 0; i < count; i++) {
		for (int k = 0; k < nfds; k++)
			fds[k] = dup(1);
		r = nfds > 0 ? sd_pid_notify_with_fds(0, 0, "WATCHDOG=1\nFDSTORE=1", fds,
						      (unsigned)nfds)
			     : sd_notify(0, "WATCHDOG=1");
		for (int k = 0; k < nfds; k++)
			close(fds[k]);
		if (r <= 0) {
			fprintf(stderr, "sd-client: sd_notify: %s\n", strerror(-r));
			return 4;
		}
		usleep((useconds_t)interval_ms * 1000);
	}
	printf("sd-client: %d watchdog pings sent\n", count);
	fflush(stdout);
	pause();
	return 0;
}
