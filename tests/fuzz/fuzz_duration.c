/*
 * fuzz_duration.c: libFuzzer harness for duration parsing: never crashes,
 * every rejection has a reason, and whatever parses formats to text that
 * parses back to the same value.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char in[64], out[64];
	const char *why = NULL;
	uint64_t usec, again;

	if (size >= sizeof(in))
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	if (vigil_duration_parse(in, &usec, &why) == -1) {
		if (why == NULL || why[0] == '\0')
			abort();
		return 0;
	}
	vigil_duration_format(usec, out, sizeof(out));
	if (vigil_duration_parse(out, &again, &why) == -1 || again != usec)
		abort();
	return 0;
}
