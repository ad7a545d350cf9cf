/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <stdio.h>

#include "spec.h"
#include "strv.h"

static const char * const ready_mode_table[_READY_MODE_MAX] = {
        [READY_EXEC] = "exec",
        [READY_NOTIFY] = "notify",
        [READY_DELAY] = "delay",
};
DEFINE_STRING_TABLE_LOOKUP(ready_mode, ReadyMode, _READY_MODE_MAX);

void supporter_spec_done(SupporterSpec *s) {
        free(s->name);
        strv_free(s->argv);
        strv_free(s->requires);
        strv_free(s->provides);
        free(s->working_directory);
        *s = (SupporterSpec) { 0 };
}

SessionSpec *session_spec_free(SessionSpec *spec) {
        if (!spec)
                return NULL;
        for (size_t i = 0; i < spec->n_supporters; i++)
                supporter_spec_done(&spec->supporters[i]);
        free(spec->supporters);
        free(spec->description);
        strv_free(spec->target);
        free(spec->working_directory);
        strv_free(spec->environment);
        strv_free(spec->claims);
        strv_free(spec->uses);
        free(spec->group);
        strv_free(spec->after);
        free(spec);
        return NULL;
}

int session_spec_new(SessionSpec **ret) {
        SessionSpec *spec;

        spec = new0(SessionSpec, 1);
        if (!spec)
                return -ENOMEM;
        spec->stop_timeout = SPEC_STOP_TIMEOUT_DEFAULT;
        spec->max_duration = USEC_INFINITY;
        *ret = spec;
        return 0;
}

int ready_parse(const char *s, ReadyMode *ret_mode, usec_t *ret_delay) {
        const char *ms = startswith(s, "delay:");

        if (ms) {
                char *end;
                unsigned long long v;

                if (!isdigit((unsigned char) *ms))
                        return -EINVAL;
                errno = 0;
                v = strtoull(ms, &end, 10);
                if (errno != 0 || *end || v > 24ULL * 3600 * 1000)
                        return -EINVAL;
                *ret_mode = READY_DELAY;
                *ret_delay = v * USEC_PER_MSEC;
                return 0;
        }

        ReadyMode m = ready_mode_from_string(s);
        if (m < 0 || m == READY_DELAY) /* "delay" needs its ":MS" */
                return -EINVAL;
        *ret_mode = m;
        *ret_delay = 0;
        return 0;
}

bool supporter_name_is_valid(const char *name) {
        size_t n = strlen(name);

        /* No '-' or '/': see SUPPORTER_NAME_RULES. "target" is the process under test. */
        if (n == 0 || n > SPEC_NAME_MAX || !isalnum((unsigned char) name[0]))
                return false;
        if (strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.") != n)
                return false;
        return !streq(name, "target");
}

bool resource_name_is_valid(const char *name) {
        size_t n = strlen(name);

        if (n == 0 || n > SPEC_NAME_MAX)
                return false;
        for (const char *c = name; *c; c++)
                if (!isgraph((unsigned char) *c))
                        return false;
        return true;
}

const SupporterSpec *session_spec_find_supporter(const SessionSpec *spec, const char *name) {
        for (size_t i = 0; i < spec->n_supporters; i++)
                if (streq_ptr(spec->supporters[i].name, name))
                        return &spec->supporters[i];
        return NULL;
}

int supporter_name_derive(const SessionSpec *spec, const char *argv0, char **ret) {
        const char *base = strrchr(argv0, '/');
        char stem[SPEC_NAME_MAX - 4 + 1], candidate[SPEC_NAME_MAX + 1];
        size_t n = 0;

        base = base ? base + 1 : argv0;
        for (const char *c = base; *c && n < sizeof(stem) - 1; c++)
                stem[n++] = (isalnum((unsigned char) *c) || *c == '.') ? *c : '_';
        stem[n] = '\0';
        if (n == 0 || !isalnum((unsigned char) stem[0]) || streq(stem, "target"))
                snprintf(stem, sizeof(stem), "supporter");

        /* At most SPEC_SUPPORTERS_MAX + 1 rounds: the suffix fits in the 4 bytes kept free. */
        snprintf(candidate, sizeof(candidate), "%s", stem);
        for (unsigned i = 2; session_spec_find_supporter(spec, candidate); i++)
                snprintf(candidate, sizeof(candidate), "%s_%u", stem, i);

        *ret = strdup(candidate);
        return *ret ? 0 : -ENOMEM;
}

int session_spec_add_supporter_spec(SessionSpec *spec, SupporterSpec *s) {
        SupporterSpec *grown;

        if (!s->name || !supporter_name_is_valid(s->name))
                return -EINVAL;
        if (session_spec_find_supporter(spec, s->name))
                return -EEXIST;

        grown = reallocarray(spec->supporters, spec->n_supporters + 1, sizeof(SupporterSpec));
        if (!grown)
                return -ENOMEM;
        spec->supporters = grown;
        spec->supporters[spec->n_supporters++] = *s;
        *s = (SupporterSpec) { 0 };
        return 0;
}

int supporter_spec_parse(const char *cmdline, SupporterSpec *ret, ShellSplitError *ret_error) {
        _cleanup_strv_free_ char **words = NULL;
        _cleanup_free_ char *name = NULL;
        const char *eq;
        size_t skip = 0;
        int r;

        /* NAME= prefix: a valid name, then '=', before any blank or quote. */
        eq = strchr(cmdline, '=');
        if (eq && eq > cmdline && strcspn(cmdline, " \t\n'\"\\") > (size_t) (eq - cmdline)) {
                name = strndup(cmdline, eq - cmdline);
                if (!name)
                        return -ENOMEM;
                if (!supporter_name_is_valid(name)) {
                        if (ret_error)
                                *ret_error = (ShellSplitError) {
                                        .offset = 0,
                                        .reason = "invalid supporter name (" SUPPORTER_NAME_RULES ")",
                                };
                        return -EINVAL;
                }
                skip = eq - cmdline + 1;
        }

        r = shell_split(cmdline + skip, &words, ret_error);
        if (r < 0) {
                if (ret_error)
                        ret_error->offset += skip;
                return r;
        }
        if (!words[0]) {
                if (ret_error)
                        *ret_error = (ShellSplitError) { .offset = skip, .reason = "empty command" };
                return -EINVAL;
        }

        *ret = (SupporterSpec) {
                .name = TAKE_PTR(name),
                .argv = TAKE_PTR(words),
                .ready = READY_EXEC,
        };
        return 0;
}

int session_spec_add_supporter(SessionSpec *spec, const char *cmdline, ShellSplitError *ret_error) {
        _cleanup_(supporter_spec_done) SupporterSpec s = { 0 };
        int r;

        r = supporter_spec_parse(cmdline, &s, ret_error);
        if (r < 0)
                return r;
        if (s.name && session_spec_find_supporter(spec, s.name)) {
                if (ret_error)
                        *ret_error = (ShellSplitError) { .offset = 0, .reason = "duplicate supporter name" };
                return -EEXIST;
        }
        if (!s.name) {
                r = supporter_name_derive(spec, s.argv[0], &s.name);
                if (r < 0)
                        return r;
        }
        return session_spec_add_supporter_spec(spec, &s);
}

static int validate_argv(char * const *argv, const char **ret_message, const char *what_empty,
                         const char *what_big) {
        if (!argv || !argv[0] || !argv[0][0]) {
                *ret_message = what_empty;
                return -EINVAL;
        }
        if (strv_length(argv) > SPEC_ARGV_MAX || strv_size(argv) > SPEC_ARGV_BYTES_MAX) {
                *ret_message = what_big;
                return -E2BIG;
        }
        return 0;
}

static bool resource_names_are_valid(char * const *names) {
        for (char * const *n = names; n && *n; n++)
                if (!resource_name_is_valid(*n))
                        return false;
        return true;
}

/* C0, DEL and the UTF-8 encoded C1 range: what could steer a terminal that prints the string. */
static bool string_has_control(const char *s) {
        for (const unsigned char *c = (const unsigned char *) s; *c; c++)
                if (*c < 0x20 || *c == 0x7f || (*c == 0xc2 && c[1] >= 0x80 && c[1] <= 0x9f))
                        return true;
        return false;
}

int supporter_spec_validate(const SupporterSpec *s, const char **ret_message) {
        int r;

        if (!s->name || !supporter_name_is_valid(s->name)) {
                *ret_message = "Supporters: invalid supporter name";
                return -EINVAL;
        }
        r = validate_argv(s->argv, ret_message, "Supporters: supporter without a command",
                          "Supporters: too many arguments or arguments too long");
        if (r < 0)
                return r;
        if (s->ready < 0 || s->ready >= _READY_MODE_MAX) {
                *ret_message = "Supporters: invalid Ready mode";
                return -EINVAL;
        }
        if (s->working_directory && s->working_directory[0] != '/') {
                *ret_message = "Supporters: working directory not an absolute path";
                return -EINVAL;
        }
        if (!resource_names_are_valid(s->requires) || !resource_names_are_valid(s->provides)) {
                *ret_message = "Supporters: invalid name in Requires or Provides "
                               "(printable, no blanks, at most 32 bytes)";
                return -EINVAL;
        }
        return 0;
}

int session_spec_validate(const SessionSpec *spec, const char **ret_message) {
        int r;

        r = validate_argv(spec->target, ret_message, "Target: no command given",
                          "Target: too many arguments or arguments too long");
        if (r < 0)
                return r;
        if (strv_size(spec->environment) > SPEC_ARGV_BYTES_MAX) {
                *ret_message = "Environment: too large";
                return -E2BIG;
        }
        for (char * const *e = spec->environment; e && *e; e++) {
                const char *eq = strchr(*e, '=');

                if (!eq || eq == *e) {
                        *ret_message = "Environment: entries must be NAME=VALUE with a non-empty NAME";
                        return -EINVAL;
                }
        }
        if (spec->description && string_has_control(spec->description)) {
                *ret_message = "Description: contains control characters";
                return -EINVAL;
        }
        if (spec->description && strlen(spec->description) > SPEC_DESCRIPTION_MAX) {
                *ret_message = "Description: longer than 1024 bytes";
                return -E2BIG;
        }
        if (spec->working_directory && spec->working_directory[0] != '/') {
                *ret_message = "WorkingDirectory: not an absolute path";
                return -EINVAL;
        }
        if (spec->n_supporters > SPEC_SUPPORTERS_MAX) {
                *ret_message = "Supporters: too many supporters";
                return -E2BIG;
        }
        if (spec->stop_timeout == 0) {
                *ret_message = "StopTimeoutUSec: must be greater than zero";
                return -EINVAL;
        }
        if (spec->max_duration == 0) {
                *ret_message = "MaxDurationUSec: must be greater than zero";
                return -EINVAL;
        }
        if (!resource_names_are_valid(spec->claims)) {
                *ret_message = "Claims: invalid name (printable, no blanks, at most 32 bytes)";
                return -EINVAL;
        }
        if (!resource_names_are_valid(spec->uses)) {
                *ret_message = "Uses: invalid name (printable, no blanks, at most 32 bytes)";
                return -EINVAL;
        }
        if (spec->priority < SPEC_PRIORITY_MIN || spec->priority > SPEC_PRIORITY_MAX) {
                *ret_message = "Priority: not between -1000 and 1000";
                return -EINVAL;
        }
        if (spec->group && !resource_name_is_valid(spec->group)) {
                *ret_message = "Group: invalid name (printable, no blanks, at most 32 bytes)";
                return -EINVAL;
        }
        if (spec->group_exclusive && !spec->group) {
                *ret_message = "Exclusive: needs a Group to be exclusive in";
                return -EINVAL;
        }
        if (!resource_names_are_valid(spec->after)) {
                *ret_message = spec->after_success ? "AfterSuccess: invalid session id" : "After: invalid session id";
                return -EINVAL;
        }
        for (size_t i = 0; i < spec->n_supporters; i++) {
                const SupporterSpec *s = &spec->supporters[i];

                r = supporter_spec_validate(s, ret_message);
                if (r < 0)
                        return r;
                for (size_t j = 0; j < i; j++)
                        if (streq(spec->supporters[j].name, s->name)) {
                                *ret_message = "Supporters: duplicate supporter name";
                                return -EEXIST;
                        }
        }
        return 0;
}

/* Depth-first from supporter `i`: `mark` is 0 unvisited, 1 on the current path, 2 done; `path`
 * holds the current path, so that a supporter met again on it names the whole cycle. Depth is
 * bounded by SPEC_SUPPORTERS_MAX. */
static int visit_requirements(const SessionSpec *spec, size_t i, unsigned char *mark, size_t *path,
                              size_t depth, char **ret_message) {
        int r;

        mark[i] = 1;
        path[depth++] = i;
        for (char * const *req = spec->supporters[i].requires; req && *req; req++)
                for (size_t j = 0; j < spec->n_supporters; j++) {
                        if (j == i || !strv_contains(spec->supporters[j].provides, *req) || mark[j] == 2)
                                continue;
                        if (mark[j] == 1) {
                                _cleanup_free_ char *cycle = NULL;
                                size_t from = 0;

                                while (path[from] != j)
                                        from++;
                                for (size_t d = from; d < depth; d++) {
                                        char *grown;

                                        if (asprintf(&grown, "%s%s -> ", strempty(cycle),
                                                     spec->supporters[path[d]].name) < 0)
                                                return -ENOMEM;
                                        free(cycle);
                                        cycle = grown;
                                }
                                return asprintf(ret_message, "Supporters: Requires and Provides form a cycle: %s%s",
                                                cycle, spec->supporters[j].name) < 0 ? -ENOMEM : -ELOOP;
                        }
                        r = visit_requirements(spec, j, mark, path, depth, ret_message);
                        if (r < 0)
                                return r;
                }
        mark[i] = 2;
        return 0;
}

int session_spec_check_requirements(const SessionSpec *spec, char **ret_message) {
        _cleanup_free_ unsigned char *mark = NULL;
        _cleanup_free_ size_t *path = NULL;
        int r;

        for (size_t i = 0; i < spec->n_supporters; i++)
                for (char * const *req = spec->supporters[i].requires; req && *req; req++) {
                        bool found = false;

                        for (size_t j = 0; j < spec->n_supporters && !found; j++)
                                found = j != i && strv_contains(spec->supporters[j].provides, *req);
                        if (!found)
                                return asprintf(ret_message, "Supporters[%zu].Requires: no other supporter "
                                                "provides '%s'", i, *req) < 0 ? -ENOMEM : -EINVAL;
                }

        mark = calloc(spec->n_supporters + 1, 1);
        path = calloc(spec->n_supporters + 1, sizeof(size_t));
        if (!mark || !path)
                return -ENOMEM;
        for (size_t i = 0; i < spec->n_supporters; i++)
                if (mark[i] == 0) {
                        r = visit_requirements(spec, i, mark, path, 0, ret_message);
                        if (r < 0)
                                return r;
                }
        *ret_message = NULL;
        return 0;
}

int argv_substitute_pid(char * const *argv, pid_t pid, char ***ret) {
        _cleanup_strv_free_ char **out = NULL;
        char pidstr[24];
        size_t n = 0, pidlen;
        int r;

        pidlen = (size_t) snprintf(pidstr, sizeof(pidstr), "%d", (int) pid);

        out = calloc(1, sizeof(char *));
        if (!out)
                return -ENOMEM;
        for (char * const *a = argv; *a; a++) {
                size_t count = 0, len;
                const char *p;
                char *w, *q;

                for (p = *a; (p = strstr(p, "{pid}")); p += 5)
                        count++;
                len = strlen(*a) - count * 5 + count * pidlen;
                w = q = malloc(len + 1);
                if (!w)
                        return -ENOMEM;
                for (p = *a; *p;) {
                        if (startswith(p, "{pid}")) {
                                memcpy(q, pidstr, pidlen);
                                q += pidlen;
                                p += 5;
                        } else
                                *q++ = *p++;
                }
                *q = '\0';
                r = strv_consume(&out, &n, w);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(out);
        return 0;
}
