/*
 * config.h: vigil-supervisor's configuration file (--config), INI-style,
 * read with libinih:
 *
 *   [supervisor]          every long option of the command line, same value
 *   timeout = 3s          syntax (options.h); flags take yes or no
 *   [worker web-1]        one per expected worker: timeout, on-timeout,
 *   timeout = 500ms       intensity, expected (yes/no, default yes)
 *
 * Pure: parsing into a struct config, from a file or a buffer; no sockets,
 * no registry. Every error is kept, as "FILE:LINE: what is wrong", in line
 * order; a config with any error is not to be used.
 */
#ifndef VIGIL_CONFIG_H
#define VIGIL_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "options.h"
#include "policy.h"
#include "wire.h"

#define CONFIG_ERRORS_MAX 100 /* errors kept; beyond, only counted */
#define CONFIG_FILE_MAX (1 << 20) /* bytes of the file, at most (1 MiB): it is read whole */
#define CONFIG_ERROR_LEN 400

/* What a [worker NAME] section set, beyond the global settings. */
enum config_worker_given {
	CONFIG_W_TIMEOUT = 1u << 0,
	CONFIG_W_POLICY = 1u << 1,
	CONFIG_W_INTENSITY = 1u << 2,
};

struct config_worker {
	char name[VIGIL_NAME_MAX + 1];
	int line;             /* of its section header */
	int expected;         /* expected = yes (the default) */
	unsigned given;       /* CONFIG_W_* */
	uint64_t timeout;     /* usec, if CONFIG_W_TIMEOUT */
	struct intensity intensity;
	struct policy *policy; /* if CONFIG_W_POLICY; else NULL */
};

struct config_error {
	int line;
	char text[CONFIG_ERROR_LEN];
};

struct config {
	struct settings set;            /* the defaults given, then [supervisor] */
	int key_line[OPTIONS_MAX];      /* where [supervisor] set option i; 0: not in the file */
	int loaded;                     /* a file was read */
	int missing;                    /* config_parse_file: the file does not exist */
	struct config_worker *workers;  /* sorted by name */
	size_t nworkers;
	size_t nexpected;
	struct config_error *errors;    /* in line order */
	size_t nerrors;
	size_t nerrors_dropped;         /* beyond CONFIG_ERRORS_MAX */
	size_t cap_workers, cap_errors;
};

/* A config holding defaults (copied) and nothing else; NULL if out of memory. */
struct config *config_new(const struct settings *defaults);

/*
 * Parse the file at path into c. 0 if it is valid; -1 with c's errors
 * otherwise, including a file that cannot be read (c->missing if it does not
 * exist), one that is not a regular file ("PATH: not a regular file (a
 * FIFO)") and one larger than CONFIG_FILE_MAX ("PATH: too large (N bytes; at
 * most 1 MiB)"): what the path names can never block the caller or keep it
 * reading. Call once per config.
 */
int config_parse_file(struct config *c, const char *path);

/* The same from len bytes of buf, named name in the errors. */
int config_parse_buffer(struct config *c, const char *name, const char *buf, size_t len);

/* Record an error about name, at line (0: none), as the parser does. */
void config_error(struct config *c, const char *name, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* The section of the worker called name, or NULL. */
const struct config_worker *config_worker(const struct config *c, const char *name);

void config_free(struct config *c);

#endif
