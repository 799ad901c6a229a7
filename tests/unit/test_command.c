/*
 * test_command.c: the control protocol's line tokenizer.
 */
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "command.h"

struct command_case {
	char line[48];
	enum command_result want;
	char word[16]; /* the word, for COMMAND_OK and COMMAND_ARGS */
	char arg[16];  /* its argument, for COMMAND_OK */
};

ParameterizedTestParameters(command, parse)
{
	static struct command_case cases[] = {
	    {"status", COMMAND_OK, "status", ""},
	    {"  status", COMMAND_OK, "status", ""},
	    {"status \t ", COMMAND_OK, "status", ""},
	    {"status\r", COMMAND_OK, "status", ""},
	    {"\thelp\t", COMMAND_OK, "help", ""},
	    {"", COMMAND_EMPTY, "", ""},
	    {" \t ", COMMAND_EMPTY, "", ""},
	    {"\r", COMMAND_EMPTY, "", ""},
	    {"status now", COMMAND_OK, "status", "now"},
	    {" forget  web-1 ", COMMAND_OK, "forget", "web-1"},
	    {"forget\tweb-1\r", COMMAND_OK, "forget", "web-1"},
	    {"forget a b", COMMAND_ARGS, "forget", ""},
	    {"status a \t b ", COMMAND_ARGS, "status", ""},
	    {"sta\x01tus", COMMAND_BINARY, "", ""},
	    {"status\r\r", COMMAND_BINARY, "", ""},
	    {"\x7f", COMMAND_BINARY, "", ""},
	};
	return cr_make_param_array(struct command_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct command_case *c, command, parse)
{
	struct command cmd;
	enum command_result r = command_parse(c->line, strlen(c->line), &cmd);

	cr_expect_eq(r, c->want, "parse(\"%s\") = %d, want %d", c->line, r, c->want);
	if (c->want == COMMAND_OK || c->want == COMMAND_ARGS) {
		cr_expect_eq(cmd.len, strlen(c->word), "parse(\"%s\"): word length %zu", c->line,
			     cmd.len);
		cr_expect(strncmp(cmd.word, c->word, cmd.len) == 0, "parse(\"%s\"): word", c->line);
	}
	if (c->want == COMMAND_OK) {
		cr_expect_eq(cmd.arglen, strlen(c->arg), "parse(\"%s\"): argument length %zu",
			     c->line, cmd.arglen);
		cr_expect(strncmp(cmd.arg, c->arg, cmd.arglen) == 0, "parse(\"%s\"): argument",
			  c->line);
	}
}

Test(command, nul_byte_is_binary)
{
	struct command cmd;
	cr_expect_eq(command_parse("stat\0us", 7, &cmd), COMMAND_BINARY);
}

Test(command, length_limit)
{
	static char line[COMMAND_MAX_LINE + 2];
	struct command cmd;

	memset(line, 'x', sizeof(line));
	cr_expect_eq(command_parse(line, COMMAND_MAX_LINE, &cmd), COMMAND_OK);
	cr_expect_eq(command_parse(line, COMMAND_MAX_LINE + 1, &cmd), COMMAND_TOO_LONG);
}

Test(command, word_is_printable_and_cut)
{
	struct command cmd = {.word = "ab\xff\x1b" "cdefghijklmnopqrstuvwxyz0123", .len = 30};
	char buf[32];

	command_word(&cmd, buf, sizeof(buf));
	cr_expect_str_eq(buf, "ab??cdefghijklmnopqrstuv");
	command_word(&cmd, buf, 4);
	cr_expect_str_eq(buf, "ab?");
}
