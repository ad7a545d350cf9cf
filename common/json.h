/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdio.h>

/* Writes `s` as a JSON string literal, quotes included; bytes that are not valid UTF-8 become
 * U+FFFD so the output always parses. */
void json_write_string(FILE *f, const char *s);
