/*
 * duration.c: parse and format durations. See duration.h.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "duration.h"

static const struct unit {
	const char *name;
	uint64_t usec;
} units[] = {
    {"us", 1},
    {"ms", VIGIL_USEC_PER_MSEC},
    {"s", VIGIL_USEC_PER_SEC},
    {"min", 60 * VIGIL_USEC_PER_SEC},
    {"h", 3600 * VIGIL_USEC_PER_SEC},
};

int
vigil_duration_parse(const char *s, uint64_t *usec, const char **why)
{
	uint64_t whole = 0, frac = 0, frac_scale = 1;
	const char *p = s;
	const char *dummy;

	if (why == NULL)
		why = &dummy;
	if (s == NULL || *s == '\0') {
		*why = "empty";
		return -1;
	}
	if (*p == '-') {
		*why = "negative";
		return -1;
	}
	if (*p < '0' || *p > '9') {
		*why = "not a number";
		return -1;
	}
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (whole > (UINT64_MAX - d) / 10) {
			*why = "too large";
			return -1;
		}
		whole = whole * 10 + d;
	}
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9') {
			*why = "no digits after '.'";
			return -1;
		}
		for (; *p >= '0' && *p <= '9'; p++) {
			/* Nine digits resolve a microsecond of an hour; more cannot matter. */
			if (frac_scale < 1000000000) {
				frac = frac * 10 + (uint64_t)(*p - '0');
				frac_scale *= 10;
			} else if (*p != '0') {
				*why = "finer than a microsecond";
				return -1;
			}
		}
	}
	if (*p == '\0') {
		*why = "missing unit (use us, ms, s, min or h, e.g. 500ms)";
		return -1;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(p, units[i].name) != 0)
			continue;
		uint64_t mul = units[i].usec;
		if (whole > UINT64_MAX / mul) {
			*why = "too large";
			return -1;
		}
		uint64_t v = whole * mul;
		/* frac < 1e9 and mul <= 3.6e9: the product fits in 64 bits. */
		if (frac * mul % frac_scale != 0) {
			*why = "finer than a microsecond";
			return -1;
		}
		uint64_t f = frac * mul / frac_scale;
		if (v > UINT64_MAX - f) {
			*why = "too large";
			return -1;
		}
		*usec = v + f;
		return 0;
	}
	*why = "unknown unit (use us, ms, s, min or h)";
	return -1;
}

void
vigil_duration_format(uint64_t usec, char *buf, size_t cap)
{
	if (usec == 0)
		snprintf(buf, cap, "0s");
	else if (usec % (60 * VIGIL_USEC_PER_SEC) == 0)
		snprintf(buf, cap, "%" PRIu64 "min", (uint64_t)(usec / (60 * VIGIL_USEC_PER_SEC)));
	else if (usec >= VIGIL_USEC_PER_SEC && usec % VIGIL_USEC_PER_MSEC == 0) {
		uint64_t ms = usec / VIGIL_USEC_PER_MSEC;
		uint64_t frac = ms % 1000;
		if (frac == 0)
			snprintf(buf, cap, "%" PRIu64 "s", ms / 1000);
		else {
			/* Trim trailing zeros: 1.500 -> 1.5 */
			int digits = 3;
			while (frac % 10 == 0) {
				frac /= 10;
				digits--;
			}
			snprintf(buf, cap, "%" PRIu64 ".%0*" PRIu64 "s", ms / 1000, digits, frac);
		}
	} else if (usec % VIGIL_USEC_PER_MSEC == 0)
		snprintf(buf, cap, "%" PRIu64 "ms", (uint64_t)(usec / VIGIL_USEC_PER_MSEC));
	else
		snprintf(buf, cap, "%" PRIu64 "us", usec);
}

uint64_t
vigil_now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * VIGIL_USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t
vigil_thread_cpu_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * VIGIL_USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}
