/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "strv.h"

char **strv_free(char **l) {
        if (!l)
                return NULL;
        for (char **i = l; *i; i++)
                free(*i);
        free(l);
        return NULL;
}

size_t strv_length(char * const *l) {
        size_t n = 0;

        if (l)
                while (l[n])
                        n++;
        return n;
}

size_t strv_size(char * const *l) {
        size_t n = 0;

        if (l)
                for (char * const *i = l; *i; i++)
                        n += strlen(*i) + 1;
        return n;
}

int strv_copy(char * const *l, char ***ret) {
        _cleanup_strv_free_ char **copy = NULL;
        size_t n = strv_length(l);

        copy = calloc(n + 1, sizeof(char *));
        if (!copy)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                copy[i] = strdup(l[i]);
                if (!copy[i])
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(copy);
        return 0;
}

int strv_consume(char ***l, size_t *n, char *value) {
        char **grown;

        if (!value)
                return -ENOMEM;
        grown = reallocarray(*l, *n + 2, sizeof(char *));
        if (!grown) {
                free(value);
                return -ENOMEM;
        }
        grown[(*n)++] = value;
        grown[*n] = NULL;
        *l = grown;
        return 0;
}

int strv_extend(char ***l, size_t *n, const char *value) {
        return strv_consume(l, n, strdup(value));
}

bool strv_contains(char * const *l, const char *s) {
        for (char * const *i = l; i && *i; i++)
                if (streq(*i, s))
                        return true;
        return false;
}
