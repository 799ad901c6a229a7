/*
 * test_status.c: the status field table and its two renderings (JSON for
 * machines, the aligned table for people).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "status.h"

static struct vigil_status_row
sample(void)
{
	struct vigil_status_row row = {
	    .name = "web-1",
	    .state = "dead",
	    .pid = 4242,
	    .last_seq = 17,
	    .missed = 2,
	    .timeouts = 5,
	    .heartbeats = 99,
	    .restarts = 1,
	    .silent_s = 1.25,
	    .timeout_ms = 600,
	    .interval_ms = 200,
	    .status = "draining",
	};
	return row;
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
	fclose(fp);
	return buf;
}

Test(status_json, every_field_with_its_type)
{
	struct vigil_status_row row = sample();
	json_t *obj = vigil_status_row_to_json(&row);

	cr_assert_not_null(obj);
	cr_expect_eq(json_object_size(obj), vigil_status_nfields, "extra or missing keys");
	for (size_t i = 0; i < vigil_status_nfields; i++) {
		const struct vigil_status_field *f = &vigil_status_fields[i];
		json_t *v = json_object_get(obj, f->key);
		cr_assert_not_null(v, "no \"%s\"", f->key);
		switch (f->type) {
		case VIGIL_STATUS_STR:
			cr_expect(json_is_string(v), "\"%s\" is not a string", f->key);
			break;
		case VIGIL_STATUS_UINT:
			cr_expect(json_is_integer(v), "\"%s\" is not an integer", f->key);
			break;
		case VIGIL_STATUS_SECONDS:
			cr_expect(json_is_real(v), "\"%s\" is not a number", f->key);
			break;
		}
	}
	/* The brief's contract: at least these, under these names. */
	const char *contract[] = {"name",     "state",      "pid",     "last_seq", "missed",
				  "timeouts", "heartbeats", "silent_s"};
	for (size_t i = 0; i < sizeof(contract) / sizeof(contract[0]); i++)
		cr_expect_not_null(json_object_get(obj, contract[i]), "no \"%s\"", contract[i]);
	cr_expect_eq(json_integer_value(json_object_get(obj, "pid")), 4242);
	cr_expect_str_eq(json_string_value(json_object_get(obj, "state")), "dead");
	json_decref(obj);
}

Test(status_json, round_trip)
{
	struct vigil_status_row row = sample(), back;
	char err[128];
	json_t *obj = vigil_status_row_to_json(&row);

	cr_assert_eq(vigil_status_row_from_json(obj, &back, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(memcmp(&row, &back, sizeof(row)), 0, "the row changed on the way");
	json_decref(obj);
}

Test(status_json, missing_key_is_named)
{
	struct vigil_status_row row = sample(), back;
	char err[128] = "";
	json_t *obj = vigil_status_row_to_json(&row);

	json_object_del(obj, "last_seq");
	cr_expect_eq(vigil_status_row_from_json(obj, &back, err, sizeof(err)), -1);
	cr_expect(strstr(err, "\"last_seq\"") != NULL, "error: %s", err);
	json_decref(obj);
}

Test(status_json, mistyped_key_is_named)
{
	struct vigil_status_row row = sample(), back;
	char err[128] = "";
	json_t *obj = vigil_status_row_to_json(&row);

	json_object_set_new(obj, "pid", json_string("4242"));
	cr_expect_eq(vigil_status_row_from_json(obj, &back, err, sizeof(err)), -1);
	cr_expect(strstr(err, "\"pid\"") != NULL && strstr(err, "mistyped") != NULL, "%s", err);

	json_object_set_new(obj, "pid", json_integer(-1));
	cr_expect_eq(vigil_status_row_from_json(obj, &back, err, sizeof(err)), -1,
		     "a negative pid was accepted");
	json_decref(obj);

	json_t *arr = json_array();
	cr_expect_eq(vigil_status_row_from_json(arr, &back, err, sizeof(err)), -1);
	json_decref(arr);
}

Test(status_table, header_and_aligned_columns)
{
	struct vigil_status_row rows[2] = {sample(), sample()};
	strcpy(rows[1].name, "a-much-longer-name");
	strcpy(rows[1].state, "alive");
	rows[1].pid = 7;
	char *out = render(rows, 2, 0);

	char *l1 = strtok(out, "\n"), *l2 = strtok(NULL, "\n"), *l3 = strtok(NULL, "\n");
	cr_assert_not_null(l3, "want 3 lines: %s", out);
	cr_expect_null(strtok(NULL, "\n"));
	cr_expect(strncmp(l1, "NAME", 4) == 0, "header: %s", l1);
	for (size_t i = 0; i < vigil_status_nfields; i++) {
		const char *h = vigil_status_fields[i].header;
		if (h != NULL)
			cr_expect(strstr(l1, h) != NULL, "header lacks %s: %s", h, l1);
	}
	cr_expect(strstr(l1, "timeout_ms") == NULL && strstr(l1, "INTERVAL") == NULL,
		  "a JSON-only field shows in the table: %s", l1);
	/* Aligned: STATE starts at the same column on every line. */
	size_t col = (size_t)(strstr(l1, "STATE") - l1);
	cr_expect_eq((size_t)(strstr(l2, "dead") - l2), col, "%s\n%s", l1, l2);
	cr_expect_eq((size_t)(strstr(l3, "alive") - l3), col, "%s\n%s", l1, l3);
	cr_expect(strstr(l2, "1.2s") != NULL || strstr(l2, "1.3s") != NULL, "silence: %s", l2);
	cr_expect(strstr(l2, "draining") != NULL);
	free(out);
}

Test(status_table, unknown_pid_is_a_dash)
{
	struct vigil_status_row row = sample();
	row.pid = 0;
	char *out = render(&row, 1, 0);
	char *l2 = strchr(out, '\n') + 1;
	cr_expect(strstr(l2, "  -  ") != NULL, "%s", l2);
	free(out);
}

Test(status_table, colour_only_when_asked)
{
	struct vigil_status_row row = sample();
	char *plain = render(&row, 1, 0);
	char *coloured = render(&row, 1, 1);

	cr_expect(strchr(plain, '\033') == NULL, "escape codes without colour: %s", plain);
	cr_expect(strstr(coloured, "\033[31mdead") != NULL, "dead is not red: %s", coloured);
	cr_expect(strstr(coloured, "\033[0m") != NULL);
	free(plain);
	free(coloured);
}
