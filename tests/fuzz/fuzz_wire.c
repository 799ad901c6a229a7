/*
 * fuzz_wire.c: libFuzzer harness for the datagram codec. Beyond "never
 * crashes" (ASan, UBSan), it checks the codec's promises: a decoded message
 * re-encodes, and decoding that text gives the same message back (less
 * the sd_notify keys it does not act on, never encoded); a
 * rejection always names a reason.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vigil_msg m, back;
	struct vigil_wire_error err;
	char buf[VIGIL_WIRE_MAX + 1];
	char why[256];

	if (vigil_wire_decode((const char *)data, size, &m, &err) == -1) {
		if (err.code <= VIGIL_WIRE_OK || err.code >= VIGIL_WIRE_NERR)
			abort(); /* a rejection without a reason */
		vigil_wire_describe(&err, why, sizeof(why));
		if (why[0] == '\0' || strlen(vigil_wire_strerror(err.code)) == 0)
			abort();
		return 0;
	}
	(void)vigil_wire_kind(&m);
	int n = vigil_wire_encode(&m, buf, sizeof(buf));
	if (n <= 0)
		return 0; /* only unknown keys (nothing to write), or no room for the canonical form */
	if (vigil_wire_decode(buf, (size_t)n, &back, &err) == -1)
		abort(); /* we cannot read what we wrote */
	/* sd_notify's keys vigil does not act on are read, never written. */
	if (back.fields != (m.fields & ~(uint32_t)VIGIL_F_SD_QUIET) || back.seq != m.seq || back.pid != m.pid ||
	    back.interval_ms != m.interval_ms || back.watchdog_usec != m.watchdog_usec ||
	    back.missed != m.missed || back.silent_ms != m.silent_ms ||
	    back.last_seq != m.last_seq || back.watchdog_trigger != m.watchdog_trigger ||
	    strcmp(back.worker, m.worker) != 0 || back.status_len != m.status_len ||
	    (m.status_len > 0 && memcmp(back.status, m.status, m.status_len) != 0))
		abort(); /* the round trip changed the message */
	return 0;
}
