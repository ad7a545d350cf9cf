/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "macro.h"
#include "time-util.h"

/* What profctl shows, formatted: pure functions (no bus, no clock, no terminal), so that each
 * format can be tested on its own. */

#define FORMAT_SIZE_MAX 32

/* "512B", "4.0K", "12.5M", "1.2G" (powers of 1024, as systemctl status); "-" for UINT64_MAX. */
const char *format_bytes(char *buf, size_t size, uint64_t bytes);
/* CPU time: "0.012s", "1.234s", "2min 3.456s"; "-" for UINT64_MAX. */
const char *format_cpu(char *buf, size_t size, uint64_t usec);
/* How long ago, to a second or two: "850ms", "42s", "3min 2s", "2h 5min", "3d 4h". */
const char *format_age(char *buf, size_t size, usec_t t);

/* "TERM", "SIGTERM", "term", "15", "RTMIN+2": the signal number, or -EINVAL. */
int signal_from_string(const char *s);

/* Session ids are decimal today; "%3" is bash's way to say job 3. Anything else is taken as an id. */
const char *session_ref_to_id(const char *ref);
/* Numeric ids in numeric order, before any other, which sort as strings. */
int session_id_compare(const char *a, const char *b);
/* How far id `a` is from the number `n`: for "nearest first"; UINT64_MAX when not numeric. */
uint64_t session_id_distance(const char *id, uint64_t n);
bool session_id_is_numeric(const char *id, uint64_t *ret);
/* An id the daemon can have made: 1 to SESSION_ID_MAX letters, digits and '_' (so "3", not "%3",
 * "3,4" or " 3"). */
#define SESSION_ID_MAX 64
bool session_id_is_valid(const char *id) _pure_;

/* Where a queued session stands, as profctl says it in one line:
 * "queued (position 3): claim 'pmu' held by session 9"; without a reason "queued (position 3)",
 * and "queued" without a position either (0: not known). */
#define FORMAT_QUEUED_MAX 320
const char *format_queued(char *buf, size_t size, uint32_t position, const char *waiting_for);

/* The strings of `l` joined by `separator`: "3, 4"; "" for an empty or NULL list. NULL on OOM. */
char *strv_join(char * const *l, const char *separator);

/* Display width in columns, counting every UTF-8 character as one. */
size_t utf8_width(const char *s);
/* A copy of `s` cut to `width` columns, ending in "…" (or "..." without UTF-8) if it was longer. */
char *ellipsize(const char *s, size_t width, bool utf8);

/* The default description of a session: the command line quoted as a shell would need it, with
 * control characters (which the daemon refuses in a description) shown as '?', cut to `width`
 * columns. */
char *command_line_description(char * const *argv, size_t width, bool utf8);

/* A plain text table. Cells are copied; one column may shrink to fit (cut with an ellipsis). */
typedef struct Table {
        size_t n_columns;
        char **cells;           /* row-major, the header first */
        const char **colors;    /* per cell: an ANSI sequence or NULL */
        size_t n_cells;
        size_t shrink_column;   /* SIZE_MAX: none */
} Table;

int table_new(Table **ret, size_t shrink_column, ...);  /* column headers, NULL-terminated */
Table *table_free(Table *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(Table *, table_free);
int table_add(Table *t, const char *cell, const char *color);
size_t table_rows(const Table *t);  /* without the header */
/* `width`: the terminal's columns, or SIZE_MAX for no limit. */
void table_print(const Table *t, FILE *f, size_t width, bool header, const char *header_color, bool utf8);
