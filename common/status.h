/*
 * status.h: one field table for a worker's status row. The supervisor turns
 * rows into JSON with it; vigilctl turns JSON back into rows and prints the
 * human table with it, so the two views can never disagree.
 */
#ifndef VIGIL_STATUS_H
#define VIGIL_STATUS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "wire.h"

#define VIGIL_STATUS_TEXT_MAX 127 /* longest STATUS= text kept per worker */

struct vigil_status_row {
	char name[VIGIL_NAME_MAX + 1];
	char state[16]; /* alive, late, dead, exited, failed, missing, stopped */
	uint64_t pid;   /* 0 when unknown */
	uint64_t last_seq;
	uint64_t missed;
	uint64_t timeouts;
	uint64_t heartbeats;
	uint64_t restarts;
	double silent_s; /* seconds since the last heartbeat */
	uint64_t timeout_ms;
	uint64_t interval_ms; /* 0 when the worker did not say */
	uint64_t uid;         /* who registered the name (the kernel's word) */
	uint64_t conflict_pid; /* a second live process heartbeating for the name; 0: none */
	char status[VIGIL_STATUS_TEXT_MAX + 1];
};

enum vigil_status_type { VIGIL_STATUS_STR, VIGIL_STATUS_UINT, VIGIL_STATUS_SECONDS };

struct vigil_status_field {
	const char *key;    /* JSON key */
	const char *header; /* column header in the table; NULL: JSON only */
	enum vigil_status_type type;
	size_t offset;
	size_t size; /* of a string member */
};

extern const struct vigil_status_field vigil_status_fields[];
extern const size_t vigil_status_nfields;

/*
 * A JSON object with every field of row (a new reference, NULL on allocation
 * failure or if a string is not valid UTF-8: the supervisor stores only
 * printable ASCII). Numbers above 2^63 - 1 are written as 2^63 - 1.
 */
json_t *vigil_status_row_to_json(const struct vigil_status_row *row);

/*
 * The same object as compact JSON text (jansson's JSON_COMPACT with
 * JSON_REAL_PRECISION(6), byte for byte) written straight into buf, without
 * building a tree: the supervisor's status document is made of these. The
 * length, or -1 if cap is too small (VIGIL_STATUS_JSON_MAX always suffices).
 */
#define VIGIL_STATUS_JSON_MAX 2048
int vigil_status_row_write(const struct vigil_status_row *row, char *buf, size_t cap);

/* Fill row from a JSON object; -1 with err naming the missing or mistyped key. */
int vigil_status_row_from_json(const json_t *obj, struct vigil_status_row *row, char *err,
			       size_t errlen);

/* Print rows as an aligned table with a header line; colour states if colour is set. */
void vigil_status_print_table(FILE *fp, const struct vigil_status_row *rows, size_t n, int colour);

/* Print one row as "key value" lines, in the table's order (vigilctl status NAME). */
void vigil_status_print_fields(FILE *fp, const struct vigil_status_row *row, int colour);

#endif
