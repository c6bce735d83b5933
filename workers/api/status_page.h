/*
 * status_page: the bytes of status_page.html (the status page, SPEC §12.3), embedded at build
 * time by embed.py (workers/api/meson.build): the page ships inside aequa-api, with no file to
 * install or find at run time.
 */
#ifndef AEQUA_API_STATUS_PAGE_H
#define AEQUA_API_STATUS_PAGE_H

#include <stddef.h>

extern const unsigned char status_page_html[];
extern const size_t status_page_html_len;

#endif
