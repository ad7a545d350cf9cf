/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdbool.h>

#include "shell-split.h"
#include "strv.h"

static bool is_blank(char c) {
        return c == ' ' || c == '\t' || c == '\n';
}

static int fail(ShellSplitError *ret_error, size_t offset, const char *reason) {
        if (ret_error)
                *ret_error = (ShellSplitError) { .offset = offset, .reason = reason };
        return -EINVAL;
}

int shell_split(const char *s, char ***ret, ShellSplitError *ret_error) {
        _cleanup_strv_free_ char **words = NULL;
        _cleanup_free_ char *word = NULL;
        size_t n_words = 0, len = strlen(s), n = 0;
        bool in_word = false;
        int r;

        /* A word is never longer than the input. */
        word = malloc(len + 1);
        if (!word)
                return -ENOMEM;

        for (size_t i = 0; i <= len; i++) {
                char c = s[i];

                if (c == '\0' || is_blank(c)) {
                        if (in_word) {
                                word[n] = '\0';
                                r = strv_extend(&words, &n_words, word);
                                if (r < 0)
                                        return r;
                                n = 0;
                                in_word = false;
                        }
                        continue;
                }

                in_word = true;
                if (c == '\'') {
                        size_t open = i;

                        for (i++; s[i] != '\''; i++) {
                                if (s[i] == '\0')
                                        return fail(ret_error, open, "unterminated single quote");
                                word[n++] = s[i];
                        }
                } else if (c == '"') {
                        size_t open = i;

                        for (i++; s[i] != '"'; i++) {
                                if (s[i] == '\0')
                                        return fail(ret_error, open, "unterminated double quote");
                                if (s[i] == '\\' && s[i + 1] && strchr("\"\\$`\n", s[i + 1])) {
                                        i++;
                                        if (s[i] == '\n')
                                                continue;
                                }
                                word[n++] = s[i];
                        }
                } else if (c == '\\') {
                        if (s[i + 1] == '\0')
                                return fail(ret_error, i, "backslash at end of command");
                        i++;
                        if (s[i] != '\n')
                                word[n++] = s[i];
                } else
                        word[n++] = c;
        }

        if (!words) {
                words = calloc(1, sizeof(char *));
                if (!words)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(words);
        return 0;
}

char *shell_quote(const char *word) {
        static const char safe[] =
                "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                "@%+=:,./-_{}";
        size_t n = 0;
        char *q, *p;

        if (*word && strspn(word, safe) == strlen(word))
                return strdup(word);

        /* '…' with every ' written as '\'' */
        for (const char *c = word; *c; c++)
                n += *c == '\'' ? 4 : 1;
        q = p = malloc(n + 3);
        if (!q)
                return NULL;
        *p++ = '\'';
        for (const char *c = word; *c; c++) {
                if (*c == '\'') {
                        memcpy(p, "'\\''", 4);
                        p += 4;
                } else
                        *p++ = *c;
        }
        *p++ = '\'';
        *p = '\0';
        return q;
}
