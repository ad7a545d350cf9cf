/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <sys/stat.h>

#include "macro.h"
#include "path-lookup.h"

static const char *env_path(char * const *envp) {
        for (char * const *e = envp; e && *e; e++) {
                const char *v = startswith(*e, "PATH=");
                if (v)
                        return v;
        }
        return DEFAULT_PATH;
}

int find_executable(const char *name, char * const *envp, char **ret_path) {
        const char *path;

        if (strchr(name, '/')) {
                char *copy = strdup(name);
                if (!copy)
                        return -ENOMEM;
                *ret_path = copy;
                return 0;
        }
        if (!*name)
                return -ENOENT;

        path = env_path(envp);
        for (const char *p = path; *p;) {
                size_t n = strcspn(p, ":");
                _cleanup_free_ char *candidate = NULL;
                struct stat st;

                /* Empty and relative components would resolve against our working directory,
                 * which is not the one the command will run in: skip them. */
                if (n > 0 && p[0] == '/') {
                        if (asprintf(&candidate, "%.*s/%s", (int) n, p, name) < 0) {
                                candidate = NULL; /* undefined after a failure */
                                return -ENOMEM;
                        }
                        if (stat(candidate, &st) >= 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111)) {
                                *ret_path = TAKE_PTR(candidate);
                                return 0;
                        }
                }
                p += n;
                if (*p == ':')
                        p++;
        }
        return -ENOENT;
}
