/*
 * vigil-libevent.c: a program on a libevent loop, supervised through
 * libvigil. It heartbeats every 200 ms while its work is healthy; SIGUSR1
 * simulates a hang (heartbeats stop, the loop goes on), so the supervisor
 * declares it late and the TIMEOUT callback runs; SIGTERM stops it cleanly.
 *
 *   cc vigil-libevent.c $(pkg-config --cflags --libs vigil libevent_core)
 *   ./a.out NAME [SUPERVISOR_SOCKET]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <event2/event.h>
#include <vigil.h>

struct app {
	struct event_base *base;
	struct vigil_client *client;
};

static int hung;

static int
healthy(struct vigil_client *c, void *arg)
{
	return !hung; /* a real program would check its own progress here */
}

static void
on_event(struct vigil_client *c, const struct vigil_event *ev, void *arg)
{
	if (ev->type == VIGIL_EVENT_TIMEOUT)
		printf("supervisor says we are late: missed %llu, silent %llu ms\n",
		       (unsigned long long)ev->missed, (unsigned long long)ev->silent_ms);
	else if (ev->type == VIGIL_EVENT_UNREACHABLE)
		printf("%s\n", ev->reason);
	fflush(stdout);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct app *app = arg;

	if (sig == SIGUSR1) {
		hung = !hung;
		printf("%s\n", hung ? "hanging" : "working again");
		fflush(stdout);
		if (!hung)
			vigil_client_heartbeat(app->client); /* at once, not at the next period */
		return;
	}
	vigil_client_stopping(app->client); /* a clean stop: not a death */
	event_base_loopbreak(app->base);
}

int
main(int argc, char **argv)
{
	struct event_base *base = event_base_new();
	struct vigil_client *c;
	struct app app;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s NAME [SUPERVISOR_SOCKET]\n", argv[0]);
		return 2;
	}
	if (base == NULL || (c = vigil_client_new(argv[1])) == NULL) {
		perror("vigil_client_new");
		return 1;
	}
	if ((argc == 3 && vigil_client_set_supervisor(c, argv[2]) == -1) ||
	    vigil_client_set_socket(c, "") == -1 || /* an anonymous socket for TIMEOUTs */
	    vigil_client_set_interval(c, 200000) == -1) {
		fprintf(stderr, "%s\n", vigil_client_error(c));
		return 2;
	}
	vigil_client_set_health_cb(c, healthy, NULL);
	vigil_client_set_event_cb(c, on_event, NULL);
	if (vigil_client_attach(c, base) == -1) {
		fprintf(stderr, "%s\n", vigil_client_error(c));
		return 1;
	}
	app.base = base;
	app.client = c;
	struct event *usr1 = evsignal_new(base, SIGUSR1, on_signal, &app);
	struct event *term = evsignal_new(base, SIGTERM, on_signal, &app);
	event_add(usr1, NULL);
	event_add(term, NULL);
	printf("heartbeating as %s (libvigil %s)\n", argv[1], vigil_version());
	fflush(stdout);

	event_base_dispatch(base);

	event_free(usr1);
	event_free(term);
	vigil_client_free(c);
	event_base_free(base);
	return 0;
}
