/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>

#include "macro.h"

/* NULL-terminated string vectors, as used for argv and environ. */

char **strv_free(char **l);
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free);
#define _cleanup_strv_free_ _cleanup_(strv_freep)

size_t strv_length(char * const *l);
int strv_copy(char * const *l, char ***ret);
/* Appends `value`, taking ownership of it (freed on failure too). */
int strv_consume(char ***l, size_t *n, char *value);
int strv_extend(char ***l, size_t *n, const char *value);
/* Total bytes of all strings including their terminators. */
size_t strv_size(char * const *l);
bool strv_contains(char * const *l, const char *s) _pure_;
