/*
 * configure.h: the configuration the supervisor would run with: the file
 * at --config (config.h), then the command line over it (options.h), then
 * what the settings together must satisfy. Pure: reads the file, nothing
 * else; used at start, by --check-config and by every reload.
 */
#ifndef VIGIL_CONFIGURE_H
#define VIGIL_CONFIGURE_H

struct config;
struct options_cli;

/*
 * Build the configuration: the file at cli->config_path (a missing default
 * file is no file), then the command line. Returns 0 and *out; or the exit
 * status for its errors, 1 (the file) or 2 (the command line), with *out
 * holding them (NULL if out of memory).
 */
int configure_build(const struct options_cli *cli, struct config **out);

/* --check-config: print the errors (stderr) or a one-line summary (stdout); the exit status. */
int configure_check(const struct options_cli *cli);

#endif
