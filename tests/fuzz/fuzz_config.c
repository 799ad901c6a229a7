/*
 * fuzz_config.c: libFuzzer harness for the configuration file parser
 * (config.c, through libinih and the option table): any bytes parse without
 * a crash; a rejected file has errors that each name the file; an accepted
 * one has its workers sorted and findable by name.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "options.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct settings def;
	static int ready;

	if (!ready) {
		settings_init(&def);
		ready = 1;
	}
	struct config *c = config_new(&def);
	if (c == NULL)
		return 0;
	int rc = config_parse_buffer(c, "f.conf", (const char *)data, size);
	if ((rc == 0) != (c->nerrors == 0))
		abort();
	for (size_t i = 0; i < c->nerrors; i++) {
		if (strncmp(c->errors[i].text, "f.conf", 6) != 0)
			abort();
	}
	for (size_t i = 0; i < c->nworkers; i++) {
		if (config_worker(c, c->workers[i].name) != &c->workers[i])
			abort();
		if (i > 0 && strcmp(c->workers[i - 1].name, c->workers[i].name) >= 0)
			abort();
	}
	config_free(c);
	return 0;
}
