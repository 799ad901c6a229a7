/*
 * vigil-noloop.c: libvigil without an event loop. A program with its own
 * main loop (here a poll() on nothing but the client's socket) sends a
 * heartbeat each time round and reads TIMEOUTs when the socket is readable.
 * It runs for COUNT periods of 100 ms, then says STOPPING=1.
 *
 *   cc vigil-noloop.c $(pkg-config --cflags --libs vigil)
 *   ./a.out NAME COUNT [SUPERVISOR_SOCKET]
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>

#include <vigil.h>

static void
on_event(struct vigil_client *c, const struct vigil_event *ev, void *arg)
{
	if (ev->type == VIGIL_EVENT_TIMEOUT)
		printf("late: missed %llu\n", (unsigned long long)ev->missed);
}

int
main(int argc, char **argv)
{
	struct vigil_client *c;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: %s NAME COUNT [SUPERVISOR_SOCKET]\n", argv[0]);
		return 2;
	}
	if ((c = vigil_client_new(argv[1])) == NULL) {
		perror("vigil_client_new");
		return 2;
	}
	if ((argc == 4 && vigil_client_set_supervisor(c, argv[3]) == -1) ||
	    vigil_client_set_socket(c, "") == -1 ||
	    vigil_client_set_interval(c, 100000) == -1 || vigil_client_open(c) == -1) {
		fprintf(stderr, "%s\n", vigil_client_error(c));
		return 1;
	}
	vigil_client_set_event_cb(c, on_event, NULL);
	for (long i = 0, n = atol(argv[2]); i < n; i++) {
		/* -1 with EAGAIN: the supervisor is busy; the next period tries again. */
		if (vigil_client_heartbeat(c) == -1 && errno != EAGAIN)
			fprintf(stderr, "%s\n", vigil_client_error(c));
		struct pollfd p = {.fd = vigil_client_fd(c), .events = POLLIN};
		if (poll(&p, 1, 100) > 0)
			vigil_client_dispatch(c);
	}
	vigil_client_stopping(c);
	printf("sent %llu heartbeats\n", (unsigned long long)vigil_client_seq(c));
	vigil_client_free(c);
	return 0;
}
