/*
 * configure.c: the configuration, from the file and the command line. See
 * configure.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "configure.h"
#include "options.h"
#include "sock.h"

/* Whether the command line gave option i. */
static int
configure_cli_has(const struct options_cli *cli, unsigned i)
{
	for (size_t k = 0; k < cli->nargs; k++) {
		if (cli->args[k].opt == i)
			return 1;
	}
	return 0;
}

int
configure_build(const struct options_cli *cli, struct config **out)
{
	struct settings def;
	struct config *c;
	char err[VIGIL_ERRLEN];
	unsigned opt;

	settings_init(&def);
	if ((*out = c = config_new(&def)) == NULL)
		return 1;
	if (config_parse_file(c, cli->config_path) == -1) {
		if (!(c->missing && !cli->config_given))
			return 1;
		/* No file where none was asked for: the defaults and the command line. */
		c->nerrors = 0;
		c->loaded = 0;
	}
	if (options_apply_cli(cli, &c->set, err, sizeof(err)) == -1) {
		config_error(c, "vigil-supervisor", 0, "%s", err);
		return 2;
	}
	if (settings_check(&c->set, &opt, err, sizeof(err)) == -1) {
		if (configure_cli_has(cli, opt) || c->key_line[opt] == 0) {
			config_error(c, "vigil-supervisor", 0,
				     "--phi-min-stddev and --phi-pause need '--timeout phi:T'");
			return 2;
		}
		config_error(c, cli->config_path, c->key_line[opt], "'%s' needs 'timeout = phi:T'",
			     options_table[opt].name);
		return 1;
	}
	if (c->nexpected > c->set.max_workers) {
		config_error(c, cli->config_path, 0,
			     "%zu workers expected, more than max-workers (%zu)", c->nexpected,
			     c->set.max_workers);
		return 1;
	}
	return 0;
}

int
configure_check(const struct options_cli *cli)
{
	struct config *c;
	int rc = configure_build(cli, &c);

	if (c == NULL) {
		fprintf(stderr, "vigil-supervisor: out of memory\n");
		return 1;
	}
	if (rc != 0) {
		for (size_t i = 0; i < c->nerrors; i++)
			fprintf(stderr, "%s\n", c->errors[i].text);
	} else if (c->loaded) {
		printf("configuration OK: %s, %zu worker section%s, %zu expected\n",
		       cli->config_path, c->nworkers, c->nworkers == 1 ? "" : "s", c->nexpected);
	} else {
		printf("configuration OK: no %s, the command line and defaults only\n",
		       cli->config_path);
	}
	config_free(c);
	return rc;
}
