/*
 * authfile.h: the --auth-file of vigil-fleet: one line "user:password",
 * refused when anyone but its owner may read or write it (as ssh does).
 */
#ifndef VIGIL_FLEET_AUTHFILE_H
#define VIGIL_FLEET_AUTHFILE_H

#include <stddef.h>

#define AUTHFILE_FIELD_MAX 256

/*
 * Read path into user and password (each at most AUTHFILE_FIELD_MAX - 1
 * bytes); 0, or -1 with err naming the path and what is wrong.
 */
int authfile_read(const char *path, char user[AUTHFILE_FIELD_MAX],
                  char password[AUTHFILE_FIELD_MAX], char *err, size_t errlen);

#endif
