/*
 * command.h: tokenizing one line of the control protocol. Pure: no I/O, no
 * allocation; the command table and what each command does live in
 * control.c.
 */
#ifndef VIGIL_COMMAND_H
#define VIGIL_COMMAND_H

#include <stddef.h>

#define COMMAND_MAX_LINE 1024

enum command_result {
	COMMAND_OK,       /* a word (cmd->word, cmd->len), and an argument if cmd->arglen > 0 */
	COMMAND_EMPTY,    /* blanks only: no reply is due */
	COMMAND_ARGS,     /* more than two words: no command takes more than one argument */
	COMMAND_TOO_LONG, /* more than COMMAND_MAX_LINE bytes */
	COMMAND_BINARY,   /* a NUL or other control byte: not a text line */
};

struct command {
	const char *word; /* points into the line */
	size_t len;
	const char *arg;  /* the second word, if any (arglen > 0); points into the line */
	size_t arglen;
};

/* Parse len bytes of line (without its '\n'; a '\r' before it is forgiven). */
enum command_result command_parse(const char *line, size_t len, struct command *cmd);

/* The command word as printable text for an error message ('?' for odd bytes, cut to 24). */
void command_word(const struct command *cmd, char *buf, size_t cap);

#endif
