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

enum command_result
command_parse(const char *line, size_t len, struct command *cmd)
{
	size_t i = 0, start;

	cmd->word = line;
	cmd->len = 0;
	if (len > COMMAND_MAX_LINE)
		return COMMAND_TOO_LONG;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	for (size_t k = 0; k < len; k++) {
		unsigned char c = (unsigned char)line[k];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return COMMAND_BINARY;
	}
	while (i < len && blank(line[i]))
		i++;
	start = i;
	while (i < len && !blank(line[i]))
		i++;
	cmd->word = line + start;
	cmd->len = i - start;
	while (i < len && blank(line[i]))
		i++;
	if (cmd->len == 0)
		return COMMAND_EMPTY;
	return i < len ? COMMAND_ARGS : COMMAND_OK;
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
