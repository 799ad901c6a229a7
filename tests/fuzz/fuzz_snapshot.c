/*
 * fuzz_snapshot.c: libFuzzer harness for the registry snapshot's loader
 * (snapshot.h). Each input is decoded twice: as it is (the header and
 * checksums must stop it), and as the body of a snapshot whose header and
 * checksums are made right, so that the records and fields behind them are
 * explored too. Never a crash; a snapshot accepted hands over exactly the
 * workers it counts, and what it restored encodes again into a snapshot
 * that is accepted with the same workers.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_ctx {
	struct registry r;
	struct events ev;
	long seen;
};

static void
fuzz_worker(const struct snapshot_worker *sw, void *arg)
{
	struct fuzz_ctx *x = arg;
	x->seen++;
	if (registry_find(&x->r, sw->name, sw->name_len) != NULL)
		return; /* a duplicate: the supervisor skips it too */
	struct worker *w = registry_add(&x->r, sw->name, sw->name_len);
	if (w == NULL || snapshot_worker_apply(sw, w) == -1)
		abort();
}

static void
fuzz_event(const struct sv_event *ev, void *arg)
{
	struct fuzz_ctx *x = arg;
	if (ev->worker[sizeof(ev->worker) - 1] != '\0' || ev->state[sizeof(ev->state) - 1] != '\0')
		abort();
	events_add(&x->ev, ev);
}

static void
fuzz_decode(const uint8_t *buf, size_t len)
{
	struct fuzz_ctx x = {0};
	struct snapshot_sink sink = {NULL, fuzz_worker, fuzz_event, &x};
	struct snapshot_head h;
	char err[256];

	if (registry_init(&x.r, 1 << 12) == -1)
		abort();
	long n = snapshot_decode(buf, len, &h, &sink, err, sizeof(err));
	if (n == -1 ? x.seen != 0 || err[0] == '\0' : n != x.seen)
		abort();
	if (n >= 0) {
		struct snapshot_buf b;
		snapshot_begin(&b, &h);
		for (size_t i = 0; i < x.r.nbuckets; i++)
			for (struct worker *w = x.r.buckets[i]; w != NULL; w = w->next) {
				struct snapshot_worker sw;
				if (!snapshot_worker_of(w, &sw))
					abort();
				snapshot_add_worker(&b, &sw);
			}
		struct snapshot_head h2;
		if (snapshot_finish(&b) == -1 ||
		    snapshot_decode(b.data, b.len, &h2, NULL, err, sizeof(err)) != (long)x.r.count)
			abort();
		snapshot_buf_free(&b);
	}
	registry_free(&x.r);
	events_free(&x.ev);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_decode(data, size);

	uint8_t *p = malloc(SNAPSHOT_HEADER + size);
	if (p == NULL)
		return 0;
	memcpy(p, "VIGILSNP\x01\x00\x00\x00\x20\x00\x00\x00", 16);
	for (int i = 0; i < 8; i++)
		p[16 + i] = (uint8_t)((uint64_t)size >> (8 * i));
	memcpy(p + SNAPSHOT_HEADER, data, size);
	uint32_t c = snapshot_crc32c(0, p + SNAPSHOT_HEADER, size);
	for (int i = 0; i < 4; i++)
		p[24 + i] = (uint8_t)(c >> (8 * i));
	c = snapshot_crc32c(0, p, 28);
	for (int i = 0; i < 4; i++)
		p[28 + i] = (uint8_t)(c >> (8 * i));
	fuzz_decode(p, SNAPSHOT_HEADER + size);
	free(p);
	return 0;
}
