/*
 * command.c: the control protocol's line tokenizer. See command.h.
 */
#include <stdio.h>
#include <string.h>

#include "command.h"

static int
blank(char c)
{
	return c == ' ' || c == '\t';
}

/* The next blank-separated word of line[*i..len), or length 0 at the end. */
static size_t
command_next(const char *line, size_t len, size_t *i, const char **word)
{
	size_t start;

	while (*i < len && blank(line[*i]))
		(*i)++;
	start = *i;
	while (*i < len && !blank(line[*i]))
		(*i)++;
	*word = line + start;
	return *i - start;
}

enum command_result
command_parse(const char *line, size_t len, struct command *cmd)
{
	const char *extra;
	size_t i = 0;

	cmd->word = cmd->arg = line;
	cmd->len = cmd->arglen = 0;
	if (len > COMMAND_MAX_LINE)
		return COMMAND_TOO_LONG;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	for (size_t k = 0; k < len; k++) {
		unsigned char c = (unsigned char)line[k];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return COMMAND_BINARY;
	}
	if ((cmd->len = command_next(line, len, &i, &cmd->word)) == 0)
		return COMMAND_EMPTY;
	cmd->arglen = command_next(line, len, &i, &cmd->arg);
	return command_next(line, len, &i, &extra) > 0 ? COMMAND_ARGS : COMMAND_OK;
}

void
command_word(const struct command *cmd, char *buf, size_t cap)
{
	size_t n = cmd->len < 24 ? cmd->len : 24;

	if (cap == 0)
		return;
	if (n >= cap)
		n = cap - 1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)cmd->word[i];
		buf[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	buf[n] = '\0';
}
