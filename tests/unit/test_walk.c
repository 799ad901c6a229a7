/*
 * test_walk.c: the control plane's renders in slices (walk.h, statusdoc.h,
 * metrics.h): the registry handed out in name order however thin the
 * slices, workers removed mid-walk skipped and freed at its end, and a
 * document cut into a thousand slices byte for byte the one made at once.
 * The slice's clock is a fake: "always over" makes every step do the
 * least it may.
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <event2/buffer.h>
#include <event2/event.h>

#include "metrics.h"
#include "registry.h"
#include "statusdoc.h"
#include "walk.h"

static struct registry r;
static int clock_calls;

/* Every look at the clock finds the slice over. */
static uint64_t
clock_late(void)
{
	clock_calls++;
	return UINT64_MAX;
}

static const struct slice thin = {.clock = clock_late, .deadline = 1};

static void
setup(void)
{
	cr_assert_eq(registry_init(&r, 4096), 0);
	clock_calls = 0;
}

static void
teardown(void)
{
	registry_free(&r);
}

TestSuite(walk, .init = setup, .fini = teardown);

/* n workers with scrambled names w-<k>, k a permutation of 0..n-1. */
static void
add_workers(size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char name[32];
		int len = snprintf(name, sizeof(name), "w-%05zu", (i * 7919) % n);
		struct worker *w = registry_add(&r, name, (size_t)len);
		cr_assert_not_null(w);
		w->core.state = WORKER_ALIVE;
		w->core.timeout = 600000;
		w->core.heartbeats = i;
	}
}

Test(walk, thin_slices_still_hand_out_every_worker_in_name_order)
{
	struct walk w;
	size_t steps = 0;

	add_workers(3000);
	cr_assert_eq(walk_start(&w, &r), 0);
	while (!walk_prepare(&w, &thin))
		steps++;
	cr_expect_gt(steps, 100, "a walk of 3000 in %zu steps: not sliced", steps);
	/* A step that found its slice over at its first look at the clock ended there. */
	cr_expect_eq(clock_calls, (int)steps, "%d clock reads in %zu steps", clock_calls, steps);
	char prev[VIGIL_NAME_MAX + 1] = "";
	size_t n = 0;
	for (struct worker *x; (x = walk_next(&w)) != NULL; n++) {
		cr_expect_lt(strcmp(prev, x->name), 0, "%s after %s", x->name, prev);
		snprintf(prev, sizeof(prev), "%s", x->name);
	}
	cr_expect_eq(n, 3000);
	walk_rewind(&w);
	cr_expect_str_eq(walk_next(&w)->name, "w-00000");
	walk_end(&w);
	cr_expect_eq(r.pins, 0);
}

Test(walk, workers_removed_mid_walk_are_skipped_and_freed_at_its_end)
{
	struct walk w;

	add_workers(500);
	cr_assert_eq(walk_start(&w, &r), 0);
	cr_assert_eq(walk_prepare(&w, &slice_whole), 1);
	/* Gone after the snapshot: the even ones. */
	for (size_t k = 0; k < 500; k += 2) {
		char name[32];
		int len = snprintf(name, sizeof(name), "w-%05zu", k);
		registry_remove(&r, registry_find(&r, name, (size_t)len));
	}
	cr_expect_eq(r.count, 250);
	cr_expect_not_null(r.removed, "removed while pinned: kept until the walk ends");
	size_t n = 0;
	for (struct worker *x; (x = walk_next(&w)) != NULL; n++)
		cr_expect_eq((x->name[6] - '0') % 2, 1, "%s was removed", x->name);
	cr_expect_eq(n, 250);
	walk_end(&w);
	cr_expect_null(r.removed, "freed at the last unpin (LeakSanitizer checks the rest)");
}

/* The whole text a renderer makes with slice sl; free it. */
static char *
render_status(const struct slice *sl, size_t *steps)
{
	struct statusdoc d;
	struct statusdoc_input in = {.now = 5000000, .started = 1000000, .pid = 42,
				     .version = "1.2.3", .workers = r.count, .max_workers = 4096};
	struct evbuffer *out = evbuffer_new();
	int rc;

	in.counters.datagrams = 7;
	cr_assert_eq(statusdoc_start(&d, &r), 0);
	*steps = 0;
	while ((rc = statusdoc_step(&d, &in, out, sl)) == 0)
		(*steps)++;
	cr_assert_eq(rc, 1);
	statusdoc_end(&d);
	size_t len = evbuffer_get_length(out);
	char *text = malloc(len + 1);
	evbuffer_remove(out, text, len);
	text[len] = '\0';
	evbuffer_free(out);
	return text;
}

Test(walk, a_status_document_in_a_thousand_slices_is_the_one_made_at_once)
{
	size_t steps_whole, steps_thin;

	add_workers(2000);
	char *a = render_status(&slice_whole, &steps_whole);
	char *b = render_status(&thin, &steps_thin);
	cr_expect_eq(steps_whole, 0);
	cr_expect_gt(steps_thin, 250, "only %zu slices", steps_thin);
	cr_expect_str_eq(a, b);
	json_error_t err;
	json_t *doc = json_loads(a, 0, &err);
	cr_assert_not_null(doc, "not JSON: %s", err.text);
	json_t *ws = json_object_get(doc, "workers");
	cr_expect_eq(json_array_size(ws), 2000);
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(ws, 0), "name")),
			 "w-00000");
	cr_expect_eq(json_integer_value(json_object_get(json_object_get(doc, "supervisor"),
							"datagrams")),
		     7);
	cr_expect_eq(a[strlen(a) - 1], '\n');
	json_decref(doc);
	free(a);
	free(b);
}

Test(walk, a_slice_stops_at_its_byte_cap)
{
	struct statusdoc d;
	struct statusdoc_input in = {.now = 5000000, .version = "x"};
	struct slice capped = slice_whole;
	capped.max_bytes = 4096;
	struct evbuffer *out = evbuffer_new();
	size_t parts = 0;
	int rc;

	add_workers(1000);
	cr_assert_eq(statusdoc_start(&d, &r), 0);
	do {
		rc = statusdoc_step(&d, &in, out, &capped);
		size_t len = evbuffer_get_length(out);
		/* A slice may pass the cap by one row, never more. */
		cr_expect_leq(len, 4096 + VIGIL_STATUS_JSON_MAX, "a slice of %zu bytes", len);
		evbuffer_drain(out, len);
		parts++;
	} while (rc == 0);
	cr_expect_eq(rc, 1);
	cr_expect_gt(parts, 20, "%zu parts", parts);
	statusdoc_end(&d);
	evbuffer_free(out);
}

Test(walk, metrics_in_thin_slices_are_the_ones_made_at_once)
{
	struct supervisor_counters c = {0};
	struct metrics_input in = {.counters = &c, .now = 5000000, .version = "1"};
	struct evbuffer *a = evbuffer_new(), *b = evbuffer_new();
	struct metrics_doc d;
	size_t steps = 0;
	int rc;

	add_workers(1500);
	cr_assert_eq(metrics_render(&in, &r, a), 0);
	cr_assert_eq(metrics_start(&d, &r), 0);
	while ((rc = metrics_step(&d, &in, b, &thin)) == 0)
		steps++;
	cr_assert_eq(rc, 1);
	metrics_end(&d);
	cr_expect_gt(steps, 100);
	size_t la = evbuffer_get_length(a), lb = evbuffer_get_length(b);
	cr_assert_eq(la, lb);
	cr_expect_eq(memcmp(evbuffer_pullup(a, -1), evbuffer_pullup(b, -1), la), 0);
	evbuffer_free(a);
	evbuffer_free(b);
}
