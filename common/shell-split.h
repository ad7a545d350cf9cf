/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>

/* Splits a command line into words the way a POSIX shell tokenizes it, without any expansion:
 * blanks separate words; '…' is literal; "…" is literal but for \" \\ \$ \` and \<newline>;
 * a backslash outside quotes takes the next character literally. "$HOME", "*" and "~" stay as
 * they are. On a syntax error returns -EINVAL and, if `ret_error` is given, where and why. */

typedef struct ShellSplitError {
        size_t offset;          /* byte offset of the offending character in the input */
        const char *reason;     /* static string */
} ShellSplitError;

int shell_split(const char *s, char ***ret, ShellSplitError *ret_error);

/* Quotes a word so that shell_split() gives it back unchanged (for messages and --json). */
char *shell_quote(const char *word);
