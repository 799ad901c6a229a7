/*
 * fuzz_command.c: libFuzzer harness for the control protocol's line
 * tokenizer: never crashes, and its result is consistent with its promises
 * (the word and its argument lie inside the line and hold no blank; the
 * word is printable when described).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *line = (const char *)data;
	struct command cmd;
	char word[32];

	enum command_result r = command_parse(line, size, &cmd);
	if (r == COMMAND_TOO_LONG && size <= COMMAND_MAX_LINE)
		abort();
	if (r == COMMAND_OK || r == COMMAND_ARGS) {
		if (cmd.len == 0 || cmd.word < line || cmd.word + cmd.len > line + size)
			abort();
		if (memchr(cmd.word, ' ', cmd.len) != NULL || memchr(cmd.word, '\t', cmd.len) != NULL)
			abort();
		if (cmd.arglen > 0 &&
		    (cmd.arg < cmd.word + cmd.len || cmd.arg + cmd.arglen > line + size ||
		     memchr(cmd.arg, ' ', cmd.arglen) != NULL ||
		     memchr(cmd.arg, '\t', cmd.arglen) != NULL))
			abort();
		command_word(&cmd, word, sizeof(word));
		for (char *p = word; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
				abort();
	}
	return 0;
}
