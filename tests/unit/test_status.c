/*
 * test_status.c: the status field table and its two renderings (JSON for
 * machines, the aligned table for people).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "status.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_FIELDS 32
#define MAX_COLS 32

/* A row whose JSON-only numbers appear nowhere else, so the table can be searched for them. */
static void
sample(struct vigil_status_row *row)
{
	memset(row, 0, sizeof(*row));
	strcpy(row->name, "web-1");
	strcpy(row->state, "dead");
	row->pid = 4242;
	row->last_seq = 17;
	row->missed = 2;
	row->timeouts = 5;
	row->heartbeats = 99;
	row->restarts = 1;
	row->silent_s = 12.34;
	row->timeout_ms = 987654321;
	row->interval_ms = 123456789;
	strcpy(row->status, "draining");
}

static const struct vigil_status_field *
field(const char *key)
{
	for (size_t i = 0; i < vigil_status_nfields; i++) {
		if (strcmp(vigil_status_fields[i].key, key) == 0)
			return &vigil_status_fields[i];
	}
	cr_assert_fail("no field \"%s\" in the table", key);
	return NULL;
}

static const void *
member(const struct vigil_status_row *row, const struct vigil_status_field *f)
{
	return (const char *)row + f->offset;
}

static uint64_t
member_uint(const struct vigil_status_row *row, const struct vigil_status_field *f)
{
	uint64_t v;
	memcpy(&v, member(row, f), sizeof(v));
	return v;
}

static double
member_seconds(const struct vigil_status_row *row, const struct vigil_status_field *f)
{
	double v;
	memcpy(&v, member(row, f), sizeof(v));
	return v;
}

/* Expect every field of got to equal the one in want, naming the key that differs. */
static void
expect_rows_equal(const struct vigil_status_row *want, const struct vigil_status_row *got)
{
	for (size_t i = 0; i < vigil_status_nfields; i++) {
		const struct vigil_status_field *f = &vigil_status_fields[i];

		switch (f->type) {
		case VIGIL_STATUS_STR:
			cr_expect_str_eq((const char *)member(got, f),
			                 (const char *)member(want, f), "\"%s\" changed", f->key);
			break;
		case VIGIL_STATUS_UINT:
			cr_expect_eq(member_uint(got, f), member_uint(want, f),
			             "\"%s\": %llu became %llu", f->key,
			             (unsigned long long)member_uint(want, f),
			             (unsigned long long)member_uint(got, f));
			break;
		case VIGIL_STATUS_SECONDS:
			cr_expect_eq(member_seconds(got, f), member_seconds(want, f),
			             "\"%s\": %.17g became %.17g", f->key, member_seconds(want, f),
			             member_seconds(got, f));
			break;
		}
	}
}

/* Render rows into a string with print_table. */
static char *
render(const struct vigil_status_row *rows, size_t n, int colour)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	cr_assert_not_null(fp);
	vigil_status_print_table(fp, rows, n, colour);
	cr_assert_eq(fclose(fp), 0);
	cr_assert_not_null(buf);
	return buf;
}

/* Split text into at most cap lines in place; returns how many. */
static size_t
split_lines(char *text, char **lines, size_t cap)
{
	size_t n = 0;

	for (char *p = text; *p != '\0' && n < cap;) {
		char *nl = strchr(p, '\n');
		cr_assert_not_null(nl, "unterminated line: %s", p);
		*nl = '\0';
		lines[n++] = p;
		p = nl + 1;
	}
	return n;
}

/* The columns of the table, from the field table: headers in order and where each starts. */
struct columns {
	size_t n;
	const struct vigil_status_field *f[MAX_COLS];
	size_t start[MAX_COLS];
};

static void
find_columns(const char *header, struct columns *c)
{
	const char *p = header;

	c->n = 0;
	for (size_t i = 0; i < vigil_status_nfields; i++) {
		const struct vigil_status_field *f = &vigil_status_fields[i];
		if (f->header == NULL)
			continue;
		const char *at = strstr(p, f->header);
		cr_assert_not_null(at, "header lacks %s after column %zu: %s", f->header,
		                   (size_t)(p - header), header);
		cr_assert_lt(c->n, MAX_COLS);
		c->f[c->n] = f;
		c->start[c->n++] = (size_t)(at - header);
		p = at + strlen(f->header);
	}
}

/* The cell of line in column k: from its start to the next two spaces (or the end). */
static void
cell_at(const char *line, const struct columns *c, size_t k, char *out, size_t cap)
{
	size_t len = strlen(line), s = c->start[k];

	cr_assert_leq(s, len, "line too short for column %s: %s", c->f[k]->header, line);
	size_t e = (k + 1 < c->n) ? c->start[k + 1] : len;
	cr_assert_leq(e, len, "line too short for column %s: %s", c->f[k + 1]->header, line);
	while (e > s && line[e - 1] == ' ')
		e--;
	cr_assert_lt(e - s, cap);
	memcpy(out, line + s, e - s);
	out[e - s] = '\0';
}

/* Remove ANSI colour sequences (ESC [ ... m) in place. */
static void
strip_ansi(char *s)
{
	char *o = s;

	for (char *p = s; *p != '\0';) {
		if (p[0] == '\033' && p[1] == '[') {
			p += 2;
			while (*p != '\0' && *p != 'm')
				p++;
			if (*p == 'm')
				p++;
			continue;
		}
		*o++ = *p++;
	}
	*o = '\0';
}

Test(status_json, every_field_with_its_type_and_value)
{
	struct vigil_status_row row;
	sample(&row);
	json_t *obj = vigil_status_row_to_json(&row);

	cr_assert_not_null(obj);
	cr_expect_eq(json_object_size(obj), vigil_status_nfields, "extra or missing keys");
	for (size_t i = 0; i < vigil_status_nfields; i++) {
		const struct vigil_status_field *f = &vigil_status_fields[i];
		json_t *v = json_object_get(obj, f->key);
		cr_assert_not_null(v, "no \"%s\"", f->key);
		switch (f->type) {
		case VIGIL_STATUS_STR:
			cr_assert(json_is_string(v), "\"%s\" is not a string", f->key);
			cr_expect_str_eq(json_string_value(v), (const char *)member(&row, f),
			                 "\"%s\"", f->key);
			break;
		case VIGIL_STATUS_UINT:
			cr_assert(json_is_integer(v), "\"%s\" is not an integer", f->key);
			cr_expect_eq((uint64_t)json_integer_value(v), member_uint(&row, f),
			             "\"%s\"", f->key);
			break;
		case VIGIL_STATUS_SECONDS:
			cr_assert(json_is_real(v), "\"%s\" is not a real", f->key);
			cr_expect_eq(json_real_value(v), member_seconds(&row, f), "\"%s\"", f->key);
			break;
		}
	}
	/* The documented contract: at least these, under these names and types. */
	const char *strings[] = {"name", "state", "status"};
	const char *integers[] = {"pid",        "last_seq", "missed",     "timeouts",
	                          "heartbeats", "restarts", "timeout_ms", "interval_ms"};
	for (size_t i = 0; i < ARRAY_LEN(strings); i++)
		cr_expect(json_is_string(json_object_get(obj, strings[i])), "\"%s\"", strings[i]);
	for (size_t i = 0; i < ARRAY_LEN(integers); i++)
		cr_expect(json_is_integer(json_object_get(obj, integers[i])), "\"%s\"",
		          integers[i]);
	cr_expect(json_is_real(json_object_get(obj, "silent_s")), "\"silent_s\"");
	json_decref(obj);
}

/* The table has no duplicate keys and string sizes that match the row. */
Test(status_json, field_table_is_consistent)
{
	cr_assert_leq(vigil_status_nfields, MAX_FIELDS);
	for (size_t i = 0; i < vigil_status_nfields; i++) {
		const struct vigil_status_field *f = &vigil_status_fields[i];
		for (size_t j = i + 1; j < vigil_status_nfields; j++)
			cr_expect_str_neq(f->key, vigil_status_fields[j].key, "duplicate key");
		cr_expect_leq(f->offset + f->size, sizeof(struct vigil_status_row), "\"%s\"",
		              f->key);
	}
	cr_expect_eq(field("name")->size, VIGIL_NAME_MAX + 1);
	cr_expect_eq(field("status")->size, VIGIL_STATUS_TEXT_MAX + 1);
}

struct row_case {
	char name[VIGIL_NAME_MAX + 1];
	char state[16];
	uint64_t pid;
	uint64_t big; /* goes into every counter */
	double silent_s;
	char status[VIGIL_STATUS_TEXT_MAX + 1];
};

ParameterizedTestParameters(status_json, round_trip)
{
	static struct row_case cases[] = {
	    {"web-1", "dead", 4242, 17, 1.25, "draining"},
	    {"w", "alive", 0, 0, 0.0, ""},
	    {"a", "late", 1, 9007199254740993ULL, 0.1, "quote \" backslash \\ tab \t"},
	    {"x", "stopped", 4194304, 9223372036854775807ULL, 86400.000001, "\xc3\xa9t\xc3\xa9"},
	    /* The longest name and status text. */
	    {"0123456789012345678901234567890123456789012345678901234567890123", "alive", 2, 3, 3.5,
	     "0123456789012345678901234567890123456789012345678901234567890123"
	     "012345678901234567890123456789012345678901234567890123456789012"},
	};
	return cr_make_param_array(struct row_case, cases, ARRAY_LEN(cases));
}

/* A row survives row -> JSON text -> row, field for field. */
ParameterizedTest(struct row_case *c, status_json, round_trip)
{
	struct vigil_status_row row, back;
	char err[128] = "";

	memset(&row, 0, sizeof(row));
	memcpy(row.name, c->name, sizeof(row.name));
	memcpy(row.state, c->state, sizeof(row.state));
	memcpy(row.status, c->status, sizeof(row.status));
	row.pid = c->pid;
	row.last_seq = row.missed = row.timeouts = c->big;
	row.heartbeats = row.restarts = row.timeout_ms = row.interval_ms = c->big;
	row.silent_s = c->silent_s;

	json_t *obj = vigil_status_row_to_json(&row);
	cr_assert_not_null(obj, "row %s did not convert", c->name);
	/* Through the text, as between the supervisor and vigilctl. */
	char *text = json_dumps(obj, JSON_COMPACT);
	cr_assert_not_null(text);
	json_decref(obj);
	json_error_t jerr;
	json_t *parsed = json_loads(text, 0, &jerr);
	cr_assert_not_null(parsed, "%s: %s", text, jerr.text);

	memset(&back, 0x5a, sizeof(back));
	cr_assert_eq(vigil_status_row_from_json(parsed, &back, err, sizeof(err)), 0, "%s: %s", text,
	             err);
	expect_rows_equal(&row, &back);
	json_decref(parsed);
	free(text);
}

struct key_case {
	size_t index; /* into vigil_status_fields */
};

ParameterizedTestParameters(status_json, missing_key_is_named)
{
	static struct key_case cases[MAX_FIELDS];
	size_t n = vigil_status_nfields < MAX_FIELDS ? vigil_status_nfields : MAX_FIELDS;

	for (size_t i = 0; i < n; i++)
		cases[i].index = i;
	return cr_make_param_array(struct key_case, cases, n);
}

ParameterizedTest(struct key_case *c, status_json, missing_key_is_named)
{
	const struct vigil_status_field *f = &vigil_status_fields[c->index];
	struct vigil_status_row row, back;
	char err[128] = "", want[64];

	sample(&row);
	json_t *obj = vigil_status_row_to_json(&row);
	cr_assert_not_null(obj);
	cr_assert_eq(json_object_del(obj, f->key), 0);
	cr_expect_eq(vigil_status_row_from_json(obj, &back, err, sizeof(err)), -1,
	             "accepted a row without \"%s\"", f->key);
	snprintf(want, sizeof(want), "\"%s\"", f->key);
	cr_expect(strstr(err, want) != NULL, "without %s, the error is: %s", want, err);
	json_decref(obj);
}

ParameterizedTestParameters(status_json, mistyped_key_is_named)
{
	static struct key_case cases[MAX_FIELDS];
	size_t n = vigil_status_nfields < MAX_FIELDS ? vigil_status_nfields : MAX_FIELDS;

	for (size_t i = 0; i < n; i++)
		cases[i].index = i;
	return cr_make_param_array(struct key_case, cases, n);
}

/* Every field, given each value of a type it does not take. */
ParameterizedTest(struct key_case *c, status_json, mistyped_key_is_named)
{
	const struct vigil_status_field *f = &vigil_status_fields[c->index];
	struct vigil_status_row row, back;
	char err[128], want[64];
	json_t *wrong[6];
	size_t n = 0;

	switch (f->type) {
	case VIGIL_STATUS_STR:
		wrong[n++] = json_integer(1);
		wrong[n++] = json_real(1.5);
		break;
	case VIGIL_STATUS_UINT:
		wrong[n++] = json_string("1");
		wrong[n++] = json_real(1.0);
		wrong[n++] = json_integer(-1);
		break;
	case VIGIL_STATUS_SECONDS:
		wrong[n++] = json_string("1.0");
		break;
	}
	wrong[n++] = json_null();
	wrong[n++] = json_true();
	wrong[n++] = json_array();
	snprintf(want, sizeof(want), "\"%s\"", f->key);
	sample(&row);
	for (size_t i = 0; i < n; i++) {
		json_t *obj = vigil_status_row_to_json(&row);
		char *shown = json_dumps(wrong[i], JSON_ENCODE_ANY);

		cr_assert_not_null(obj);
		json_object_set_new(obj, f->key, wrong[i]);
		err[0] = '\0';
		cr_expect_eq(vigil_status_row_from_json(obj, &back, err, sizeof(err)), -1,
		             "accepted %s: %s", want, shown);
		cr_expect(strstr(err, want) != NULL && strstr(err, "mistyped") != NULL,
		          "%s: %s gave: %s", want, shown, err);
		free(shown);
		json_decref(obj);
	}
}

Test(status_json, not_an_object_is_refused)
{
	struct vigil_status_row back;
	char err[128] = "";
	json_t *values[] = {json_array(), json_string("web-1"), json_integer(3), json_null()};

	for (size_t i = 0; i < ARRAY_LEN(values); i++) {
		err[0] = '\0';
		cr_expect_eq(vigil_status_row_from_json(values[i], &back, err, sizeof(err)), -1,
		             "value %zu", i);
		cr_expect(strstr(err, "object") != NULL, "value %zu: %s", i, err);
		json_decref(values[i]);
	}
}

/* A newer supervisor may send more keys: an older vigilctl ignores them. */
Test(status_json, unknown_keys_are_ignored)
{
	struct vigil_status_row row, back;
	char err[128] = "";

	sample(&row);
	json_t *obj = vigil_status_row_to_json(&row);
	cr_assert_not_null(obj);
	json_object_set_new(obj, "added_in_a_later_version", json_string("x"));
	cr_expect_eq(vigil_status_row_from_json(obj, &back, err, sizeof(err)), 0, "%s", err);
	expect_rows_equal(&row, &back);
	json_decref(obj);
}

/* Seconds written as a whole number (by another encoder) are still seconds. */
Test(status_json, integral_seconds_are_accepted)
{
	struct vigil_status_row row, back;
	char err[128] = "";

	sample(&row);
	json_t *obj = vigil_status_row_to_json(&row);
	cr_assert_not_null(obj);
	json_object_set_new(obj, "silent_s", json_integer(3));
	cr_expect_eq(vigil_status_row_from_json(obj, &back, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(back.silent_s, 3.0);
	json_decref(obj);
}

/* Overlong strings from a peer are cut to fit the row, and terminated. */
Test(status_json, overlong_strings_are_truncated_safely)
{
	struct vigil_status_row row, back;
	char err[128] = "", longtext[400];

	memset(longtext, 'x', sizeof(longtext) - 1);
	longtext[sizeof(longtext) - 1] = '\0';
	sample(&row);
	json_t *obj = vigil_status_row_to_json(&row);
	cr_assert_not_null(obj);
	json_object_set_new(obj, "name", json_string(longtext));
	json_object_set_new(obj, "state", json_string(longtext));
	json_object_set_new(obj, "status", json_string(longtext));
	cr_assert_eq(vigil_status_row_from_json(obj, &back, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(strlen(back.name), sizeof(back.name) - 1);
	cr_expect_eq(strlen(back.state), sizeof(back.state) - 1);
	cr_expect_eq(strlen(back.status), sizeof(back.status) - 1);
	json_decref(obj);
}

Test(status_table, header_and_aligned_columns)
{
	struct vigil_status_row rows[3];
	char *lines[8], buf[256];
	struct columns cols;

	sample(&rows[0]);
	sample(&rows[1]);
	strcpy(rows[1].name, "a-much-longer-name-than-the-header");
	strcpy(rows[1].state, "alive");
	rows[1].pid = 7;
	rows[1].heartbeats = 12345678901234ULL;
	rows[1].silent_s = 0.04;
	strcpy(rows[1].status, "serving 12 clients");
	sample(&rows[2]);
	strcpy(rows[2].name, "z");
	strcpy(rows[2].state, "stopped");
	rows[2].pid = 0;
	rows[2].silent_s = 3600.0;

	char *out = render(rows, 3, 0);
	size_t n = split_lines(out, lines, ARRAY_LEN(lines));
	cr_assert_eq(n, 4, "a header and 3 rows: %zu lines", n);

	/* The header: the non-NULL headers of the field table, in its order, from column 0. */
	find_columns(lines[0], &cols);
	cr_expect_eq(cols.start[0], 0, "%s", lines[0]);
	cr_expect(strncmp(lines[0], "NAME", 4) == 0 && cols.f[0] == field("name"), "%s", lines[0]);
	cr_expect(strstr(lines[0], "NAME") && strstr(lines[0], "STATE") &&
	              strstr(lines[0], "PID") && strstr(lines[0], "MISSED"),
	          "%s", lines[0]);
	for (size_t k = 1; k < cols.n; k++)
		cr_expect_geq(cols.start[k], cols.start[k - 1] + strlen(cols.f[k - 1]->header) + 2,
		              "%s and %s closer than two spaces: %s", cols.f[k - 1]->header,
		              cols.f[k]->header, lines[0]);

	/* Every row: each cell starts at its header's column, after at least two spaces. */
	for (size_t r = 1; r < n; r++) {
		const char *line = lines[r];
		for (size_t k = 0; k < cols.n; k++) {
			size_t s = cols.start[k];
			cr_assert_lt(s, strlen(line), "row %zu too short for %s:\n%s\n%s", r,
			             cols.f[k]->header, lines[0], line);
			cr_expect_neq(line[s], ' ',
			              "row %zu: %s does not start at its column:\n%s\n%s", r,
			              cols.f[k]->header, lines[0], line);
			if (k > 0)
				cr_expect(line[s - 1] == ' ' && line[s - 2] == ' ',
				          "row %zu: no gap before %s:\n%s\n%s", r,
				          cols.f[k]->header, lines[0], line);
		}
	}

	/* And each cell holds the row's value. */
	struct {
		size_t row;
		const char *key;
		const char *want;
	} cells[] = {
	    {1, "name", "web-1"},
	    {1, "state", "dead"},
	    {1, "pid", "4242"},
	    {1, "last_seq", "17"},
	    {1, "missed", "2"},
	    {1, "timeouts", "5"},
	    {1, "heartbeats", "99"},
	    {1, "restarts", "1"},
	    {1, "silent_s", "12.3s"},
	    {1, "status", "draining"},
	    {2, "name", "a-much-longer-name-than-the-header"},
	    {2, "pid", "7"},
	    {2, "heartbeats", "12345678901234"},
	    {2, "silent_s", "0.0s"},
	    {2, "status", "serving 12 clients"},
	    {3, "state", "stopped"},
	    {3, "pid", "-"},
	    {3, "silent_s", "3600.0s"},
	};
	for (size_t i = 0; i < ARRAY_LEN(cells); i++) {
		size_t k;
		for (k = 0; k < cols.n && cols.f[k] != field(cells[i].key); k++)
			;
		cr_assert_lt(k, cols.n, "no column for \"%s\"", cells[i].key);
		cell_at(lines[cells[i].row], &cols, k, buf, sizeof(buf));
		cr_expect_str_eq(buf, cells[i].want, "row %zu, %s:\n%s\n%s", cells[i].row,
		                 cols.f[k]->header, lines[0], lines[cells[i].row]);
	}
	free(out);
}

/* timeout_ms and interval_ms have no header: JSON only, no column, no value. */
Test(status_table, json_only_fields_are_absent)
{
	struct vigil_status_row row;
	char *lines[4];
	struct columns cols;
	size_t with_header = 0;

	sample(&row);
	char *out = render(&row, 1, 0);
	cr_expect(strstr(out, "987654321") == NULL, "timeout_ms shows: %s", out);
	cr_expect(strstr(out, "123456789") == NULL, "interval_ms shows: %s", out);
	cr_assert_eq(split_lines(out, lines, ARRAY_LEN(lines)), 2);
	find_columns(lines[0], &cols);
	for (size_t i = 0; i < vigil_status_nfields; i++) {
		const struct vigil_status_field *f = &vigil_status_fields[i];
		if (f->header != NULL) {
			with_header++;
			continue;
		}
		cr_expect(strstr(lines[0], f->key) == NULL, "%s in header: %s", f->key, lines[0]);
	}
	cr_expect_lt(with_header, vigil_status_nfields, "the table has no JSON-only field left");
	/* Exactly one header word per column with a header, separated by spaces. */
	size_t words = 0;
	for (char *p = lines[0]; *p != '\0'; p++) {
		if (*p != ' ' && (p == lines[0] || p[-1] == ' '))
			words++;
	}
	cr_expect_eq(words, with_header, "header: %s", lines[0]);
	cr_expect_eq(cols.n, with_header);
	free(out);
}

Test(status_table, no_rows_is_just_the_header)
{
	char *out = render(NULL, 0, 1);
	char *lines[4];

	cr_assert_eq(split_lines(out, lines, ARRAY_LEN(lines)), 1, "%s", out);
	cr_expect(strncmp(lines[0], "NAME", 4) == 0, "%s", lines[0]);
	cr_expect(strchr(lines[0], '\033') == NULL, "the header is coloured: %s", lines[0]);
	free(out);
}

struct colour_case {
	char state[16];
	char code[8]; /* the SGR sequence expected before the state */
};

ParameterizedTestParameters(status_table, colour_only_when_asked)
{
	static struct colour_case cases[] = {
	    {"alive", "\033[32m"},
	    {"late", "\033[33m"},
	    {"dead", "\033[31m"},
	    {"exited", "\033[31m"},
	    {"failed", "\033[1;31m"},
	    {"missing", "\033[33m"},
	    {"stopped", "\033[2m"},
	};
	return cr_make_param_array(struct colour_case, cases, ARRAY_LEN(cases));
}

ParameterizedTest(struct colour_case *c, status_table, colour_only_when_asked)
{
	struct vigil_status_row rows[2];
	char want[48];

	sample(&rows[0]);
	strcpy(rows[0].state, c->state);
	sample(&rows[1]);
	strcpy(rows[1].name, "other");
	strcpy(rows[1].state, "stopped-forever"); /* wider: the state column gets padding */
	char *plain = render(rows, 2, 0);
	char *coloured = render(rows, 2, 1);

	cr_expect(strchr(plain, '\033') == NULL, "escape codes without colour: %s", plain);

	/* The state cell, and only it, is wrapped: code, state, padding, reset. */
	snprintf(want, sizeof(want), "%s%s", c->code, c->state);
	char *at = strstr(coloured, want);
	cr_assert_not_null(at, "%s is not coloured %s: %s", c->state, c->code + 1, coloured);
	char *reset = strstr(at, "\033[0m");
	cr_assert_not_null(reset, "no reset after %s: %s", c->state, coloured);
	cr_expect(memchr(at, '\n', (size_t)(reset - at)) == NULL, "reset on another line");
	for (char *p = at + strlen(want); p < reset; p++)
		cr_expect_eq(*p, ' ', "more than the state painted: %s", coloured);
	cr_expect(strncmp(coloured, "NAME", 4) == 0 &&
	              memchr(coloured, '\033', (size_t)(strchr(coloured, '\n') - coloured)) == NULL,
	          "the header is coloured: %s", coloured);
	size_t escapes = 0;
	for (char *p = coloured; *p != '\0'; p++)
		escapes += (*p == '\033');
	cr_expect_eq(escapes, 4, "two per row, around the state only: %s", coloured);

	/* Colour adds escapes and nothing else: the columns stay where they were. */
	strip_ansi(coloured);
	cr_expect_str_eq(coloured, plain);
	free(plain);
	free(coloured);
}

/*
 * Found while writing these tests: a last_seq >= 2^63 became a negative JSON
 * integer, which row_from_json rejected, so one worker broke `vigilctl
 * status` for everyone. The codec now refuses numbers above 2^63 - 1 and
 * the JSON clamps, never wraps.
 */
Test(status_json, u64_above_int64_is_clamped_never_negative)
{
	struct vigil_status_row row, back;
	char err[128] = "";

	sample(&row);
	row.last_seq = UINT64_MAX; /* the codec refuses such a SEQ; a counter could not get here */
	json_t *obj = vigil_status_row_to_json(&row);
	cr_assert_not_null(obj);
	cr_expect_eq(json_integer_value(json_object_get(obj, "last_seq")),
		     (json_int_t)VIGIL_WIRE_NUM_MAX);
	cr_expect_eq(vigil_status_row_from_json(obj, &back, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(back.last_seq, VIGIL_WIRE_NUM_MAX);
	json_decref(obj);
}

/*
 * Was a bug: STATUS= text is any bytes but newline and NUL, and the supervisor
 * keeps its first 127 bytes, which can cut a UTF-8 character in two. jansson
 * refuses invalid UTF-8, so row_to_json returns NULL (documented as
 * "allocation failure" only) and the status reply fails for every worker.
 */
Test(status_json, invalid_utf8_status_still_converts)
{
	struct vigil_status_row row;
	const char *texts[] = {"\xff", "caf\xc3"}; /* a stray byte; "café" cut mid-character */

	for (size_t i = 0; i < ARRAY_LEN(texts); i++) {
		sample(&row);
		strcpy(row.status, texts[i]);
		json_t *obj = vigil_status_row_to_json(&row);
		cr_expect_not_null(obj, "status text %zu made the whole row fail", i);
		cr_expect(obj == NULL || json_is_string(json_object_get(obj, "status")));
		json_decref(obj);
	}
}

/*
 * Was a bug: the STATUS= text comes from a worker and was printed as is, so a worker
 * can write escape sequences to the operator's terminal, even with colour off.
 */
Test(status_table, peer_text_cannot_write_escapes)
{
	struct vigil_status_row row;

	sample(&row);
	strcpy(row.status, "ok\033[2J\033]0;owned\007\r");
	char *out = render(&row, 1, 0);
	cr_expect(strchr(out, '\033') == NULL, "an escape from STATUS= reached the terminal");
	cr_expect(strchr(out, '\007') == NULL && strchr(out, '\r') == NULL, "control bytes");
	free(out);
}

/* status NAME: one "key value" line per field, in the table's order, peer text made safe. */
Test(status_table, one_row_as_fields)
{
	struct vigil_status_row row;
	char *buf = NULL;
	size_t len = 0;

	sample(&row);
	strcpy(row.state, "dead");
	strcpy(row.status, "ok\x1b[2J");
	FILE *fp = open_memstream(&buf, &len);
	cr_assert_not_null(fp);
	vigil_status_print_fields(fp, &row, 0);
	cr_assert_eq(fclose(fp), 0);
	char *lines[32];
	size_t n = split_lines(buf, lines, 32);
	cr_assert_eq(n, vigil_status_nfields);
	for (size_t i = 0; i < n; i++)
		cr_expect(strncmp(lines[i], vigil_status_fields[i].key,
				  strlen(vigil_status_fields[i].key)) == 0,
			  "line %zu is not %s: %s", i, vigil_status_fields[i].key, lines[i]);
	cr_expect_str_eq(lines[1], "state        dead");
	cr_expect(strchr(lines[n - 1], '\033') == NULL, "an escape reached the terminal: %s",
		  lines[n - 1]);
	free(buf);

	buf = NULL;
	fp = open_memstream(&buf, &len);
	vigil_status_print_fields(fp, &row, 1);
	fclose(fp);
	cr_expect(strstr(buf, "state        \033[31mdead\033[0m\n") != NULL, "%s", buf);
	free(buf);
}

/* A pseudo-random generator of our own: the same rows in every run. */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/*
 * The direct writer the supervisor's status document uses must be jansson's
 * text byte for byte: names, every kind of status text (quotes, backslashes,
 * control bytes, valid and invalid UTF-8), numbers past 2^63, seconds from
 * microseconds to centuries.
 */
Test(status, direct_writer_is_jansson_byte_for_byte)
{
	static const char *const texts[] = {
	    "", "ok", "a \"quoted\" \\ back", "tab\there\nnew\rcr\b\f", "\x01\x1f\x7f",
	    "caf\xc3\xa9 \xe2\x98\x95", "bad \xff byte", "\xc0\xaf overlong", "\xed\xa0\x80 surrogate",
	    "\xf4\x90\x80\x80 too big", "\xf0\x9f\x98\x80 emoji", "cut \xe2\x98",
	};
	static const double secs[] = {0,     0.000001, 0.5,    1,      1.25,         59.999999,
				      123.4, 1e6,      1.5e7, 3.1e9, 123456789.123, 1e21};
	uint64_t seed = 0x9e3779b97f4a7c15ULL;

	for (int i = 0; i < 5000; i++) {
		struct vigil_status_row row = {0};
		size_t nl = 1 + rnd(&seed) % VIGIL_NAME_MAX;
		for (size_t k = 0; k < nl; k++)
			row.name[k] = "abcXYZ019._@:-"[rnd(&seed) % 14];
		snprintf(row.state, sizeof(row.state), "%s",
			 (const char *[]){"alive", "late", "dead", "failed"}[rnd(&seed) % 4]);
		uint64_t *nums[] = {&row.pid,     &row.last_seq, &row.missed,     &row.timeouts,
				    &row.heartbeats, &row.restarts, &row.timeout_ms, &row.interval_ms,
				    &row.uid};
		for (size_t k = 0; k < sizeof(nums) / sizeof(nums[0]); k++)
			*nums[k] = rnd(&seed) >> (rnd(&seed) % 64);
		row.silent_s = secs[rnd(&seed) % (sizeof(secs) / sizeof(secs[0]))] *
			       (1 + (double)(rnd(&seed) % 1000) / 997);
		snprintf(row.status, sizeof(row.status), "%s",
			 texts[rnd(&seed) % (sizeof(texts) / sizeof(texts[0]))]);
		if (i % 7 == 0) /* the longest text, all of it escaped */
			memset(row.status, 0x01, VIGIL_STATUS_TEXT_MAX);

		json_t *o = vigil_status_row_to_json(&row);
		cr_assert_not_null(o);
		char *want = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
		json_decref(o);
		char got[VIGIL_STATUS_JSON_MAX];
		int n = vigil_status_row_write(&row, got, sizeof(got));
		cr_assert_geq(n, 0, "row %d did not fit %d bytes", i, VIGIL_STATUS_JSON_MAX);
		cr_assert_eq((size_t)n, strlen(want), "row %d:\n got %.*s\nwant %s", i, n, got, want);
		cr_assert_eq(memcmp(got, want, (size_t)n), 0, "row %d:\n got %.*s\nwant %s", i, n, got,
			     want);
		free(want);
		/* Too small a buffer is refused, never overrun. */
		cr_assert_eq(vigil_status_row_write(&row, got, (size_t)n - 1), -1);
	}
}
