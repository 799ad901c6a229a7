/*
 * fuzz_policy.c: libFuzzer harness for the --on-timeout and --intensity
 * parsers: never crashes, every rejection says why, and a ladder that
 * parses is described as text that parses back to the same ladder.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char in[4096], text[POLICY_MAX_STEPS * (POLICY_PATH_MAX + 32)];
	struct policy p, again;
	struct intensity in_limit;
	char err[256];

	if (size >= sizeof(in))
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';

	err[0] = '\0';
	if (policy_parse_intensity(in, &in_limit, err, sizeof(err)) == -1 && err[0] == '\0')
		abort();

	err[0] = '\0';
	if (policy_parse(in, &p, err, sizeof(err)) == -1) {
		if (err[0] == '\0')
			abort();
		return 0;
	}
	policy_describe(&p, text, sizeof(text));
	if (policy_parse(text, &again, err, sizeof(err)) == -1 || again.n != p.n)
		abort();
	for (size_t i = 0; i < p.n; i++)
		if (again.step[i].sig != p.step[i].sig || again.step[i].at != p.step[i].at ||
		    strcmp(again.step[i].path, p.step[i].path) != 0)
			abort();
	return 0;
}
