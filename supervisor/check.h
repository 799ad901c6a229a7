/*
 * check.h: `vigilctl check NAME... [--warn-late]`, a monitoring plugin in the
 * monitoring-plugins way (Icinga, Nagios, a Kubernetes exec probe, a shell
 * loop): one line on stdout, "VIGIL STATE - what | performance data", and
 * the exit status that says it: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
 */
#ifndef VIGIL_CHECK_H
#define VIGIL_CHECK_H

enum check_state { CHECK_OK = 0, CHECK_WARNING = 1, CHECK_CRITICAL = 2, CHECK_UNKNOWN = 3 };

/*
 * What a worker's state means to a check: alive and expected (in its
 * startup grace) OK; late OK, or WARNING with warn_late; stopped (it said
 * STOPPING=1) WARNING; dead, exited, failed and missing CRITICAL; any other
 * state UNKNOWN.
 */
enum check_state check_state_of(const char *state, int warn_late);

/* The worse of a and b, as monitoring-plugins' max_state_alt: CRITICAL > WARNING > UNKNOWN > OK. */
enum check_state check_worse(enum check_state a, enum check_state b);

/* Run the check (argv[0] is "check") against the control socket at control; the exit status. */
int check_run(const char *control, int argc, char **argv);

#endif
