/*
 * statuspage.h: the status page (GET / on the --metrics endpoint), the bytes
 * of supervisor/statuspage.html compiled in by cmake/embed.cmake. Pure data.
 */
#ifndef VIGIL_STATUSPAGE_H
#define VIGIL_STATUSPAGE_H

#include <stddef.h>

extern const unsigned char statuspage_html[];
extern const size_t statuspage_html_len;

#endif
