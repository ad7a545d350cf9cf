/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdarg.h>

#include "bus-errors.h"
#include "spec-bus.h"
#include "strv.h"

typedef struct BusKey {
        const char *name;
        const char *signature;
} BusKey;

typedef enum SessionKey {
        SESSION_KEY_TARGET,
        SESSION_KEY_WORKING_DIRECTORY,
        SESSION_KEY_ENVIRONMENT,
        SESSION_KEY_SUPPORTERS,
        SESSION_KEY_STDIN_FD,
        SESSION_KEY_STDOUT_FD,
        SESSION_KEY_STDERR_FD,
        SESSION_KEY_DESCRIPTION,
        SESSION_KEY_MAX_DURATION,
        SESSION_KEY_STOP_TIMEOUT,
        SESSION_KEY_CLAIMS,
        SESSION_KEY_USES,
        SESSION_KEY_PRIORITY,
        SESSION_KEY_BIND_TO_CALLER,
        SESSION_KEY_GROUP,
        SESSION_KEY_EXCLUSIVE,
        SESSION_KEY_AFTER,
        SESSION_KEY_AFTER_SUCCESS,
        _SESSION_KEY_MAX,
} SessionKey;

static const BusKey session_keys[_SESSION_KEY_MAX] = {
        [SESSION_KEY_TARGET]            = { "Target",           "as"     },
        [SESSION_KEY_WORKING_DIRECTORY] = { "WorkingDirectory", "s"      },
        [SESSION_KEY_ENVIRONMENT]       = { "Environment",      "as"     },
        [SESSION_KEY_SUPPORTERS]        = { "Supporters",       "aa{sv}" },
        [SESSION_KEY_STDIN_FD]          = { "StdinFD",          "h"      },
        [SESSION_KEY_STDOUT_FD]         = { "StdoutFD",         "h"      },
        [SESSION_KEY_STDERR_FD]         = { "StderrFD",         "h"      },
        [SESSION_KEY_DESCRIPTION]       = { "Description",      "s"      },
        [SESSION_KEY_MAX_DURATION]      = { "MaxDurationUSec",  "t"      },
        [SESSION_KEY_STOP_TIMEOUT]      = { "StopTimeoutUSec",  "t"      },
        [SESSION_KEY_CLAIMS]            = { "Claims",           "as"     },
        [SESSION_KEY_USES]              = { "Uses",             "as"     },
        [SESSION_KEY_PRIORITY]          = { "Priority",         "i"      },
        [SESSION_KEY_BIND_TO_CALLER]    = { "BindToCaller",     "b"      },
        [SESSION_KEY_GROUP]             = { "Group",            "s"      },
        [SESSION_KEY_EXCLUSIVE]         = { "Exclusive",        "b"      },
        [SESSION_KEY_AFTER]             = { "After",            "as"     },
        [SESSION_KEY_AFTER_SUCCESS]     = { "AfterSuccess",     "as"     },
};

typedef enum SupporterKey {
        SUPPORTER_KEY_NAME,
        SUPPORTER_KEY_ARGV,
        SUPPORTER_KEY_READY,
        SUPPORTER_KEY_REQUIRES,
        SUPPORTER_KEY_PROVIDES,
        SUPPORTER_KEY_WORKING_DIRECTORY,
        _SUPPORTER_KEY_MAX,
} SupporterKey;

static const BusKey supporter_keys[_SUPPORTER_KEY_MAX] = {
        [SUPPORTER_KEY_NAME]              = { "Name",             "s"  },
        [SUPPORTER_KEY_ARGV]              = { "Argv",             "as" },
        [SUPPORTER_KEY_READY]             = { "Ready",            "s"  },
        [SUPPORTER_KEY_REQUIRES]          = { "Requires",         "as" },
        [SUPPORTER_KEY_PROVIDES]          = { "Provides",         "as" },
        [SUPPORTER_KEY_WORKING_DIRECTORY] = { "WorkingDirectory", "s"  },
};

/* Client-supplied strings go into messages cut short, so an error stays readable. */
#define QUOTED "'%.64s'"

static int spec_error(sd_bus_error *error, int r, const char *format, ...) _printf_(3, 4);
static int spec_error(sd_bus_error *error, int r, const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        (void) sd_bus_error_setfv(error, PROFD_ERROR_INVALID_SPEC, format, ap);
        va_end(ap);
        return r;
}

/* Enters the next {sv} of a dict and its variant, once the key is known to be one of `keys`, not
 * seen before and of the right type. Returns 0 at the end of the dict, else 1 and the key's index.
 * `where` prefixes messages about a supporter; NULL at the top level. */
static int enter_dict_entry(sd_bus_message *m, const BusKey *keys, size_t n_keys, uint32_t *seen,
                            const char *where, size_t *ret_index, sd_bus_error *error) {
        const char *key, *contents;
        size_t i;
        int r;

        r = sd_bus_message_enter_container(m, SD_BUS_TYPE_DICT_ENTRY, "sv");
        if (r <= 0)
                return r;
        r = sd_bus_message_read(m, "s", &key);
        if (r < 0)
                return r;

        for (i = 0; i < n_keys; i++)
                if (streq(keys[i].name, key))
                        break;
        if (i >= n_keys)
                return where ? spec_error(error, -EINVAL, "%s: unknown key " QUOTED, where, key)
                             : spec_error(error, -EINVAL, "Unknown key " QUOTED, key);
        if (*seen & (UINT32_C(1) << i))
                return where ? spec_error(error, -EINVAL, "%s: duplicate key '%s'", where, key)
                             : spec_error(error, -EINVAL, "Duplicate key '%s'", key);
        *seen |= UINT32_C(1) << i;

        r = sd_bus_message_peek_type(m, NULL, &contents);
        if (r < 0)
                return r;
        if (!streq(contents, keys[i].signature)) {
                if (where)
                        (void) sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "%s.%s: expected type '%s', got " QUOTED,
                                                 where, key, keys[i].signature, contents);
                else
                        (void) sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Key '%s': expected type '%s', got " QUOTED,
                                                 key, keys[i].signature, contents);
                return -EINVAL;
        }
        r = sd_bus_message_enter_container(m, SD_BUS_TYPE_VARIANT, contents);
        if (r < 0)
                return r;
        *ret_index = i;
        return 1;
}

static int exit_dict_entry(sd_bus_message *m) {
        int r;

        r = sd_bus_message_exit_container(m); /* the variant */
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

static int read_string(sd_bus_message *m, char **ret) {
        const char *s;
        char *copy;
        int r;

        r = sd_bus_message_read(m, "s", &s);
        if (r < 0)
                return r;
        copy = strdup(s);
        if (!copy)
                return -ENOMEM;
        *ret = copy;
        return 0;
}

/* Element by element, in linear time (sd_bus_message_read_strv() appends in quadratic time), and
 * refused at its `max`+1-th element, not after all of it was read. An empty array comes back as
 * NULL; `keep_empty` turns that into an empty strv where NULL would mean something else (no
 * Environment: inherit; an empty one: nothing). */
static int read_strv(sd_bus_message *m, const char *what, size_t max, bool keep_empty, char ***ret,
                     sd_bus_error *error) {
        _cleanup_strv_free_ char **l = NULL;
        size_t n = 0, allocated = 0;
        const char *s;
        int r;

        r = sd_bus_message_enter_container(m, SD_BUS_TYPE_ARRAY, "s");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read_basic(m, SD_BUS_TYPE_STRING, &s)) > 0) {
                if (n >= max)
                        return spec_error(error, -E2BIG, "%s: more than %zu entries", what, max);
                if (n + 1 >= allocated) {
                        size_t k = MAX(16u, allocated * 2);
                        char **grown = reallocarray(l, k, sizeof(char *));

                        if (!grown)
                                return -ENOMEM;
                        l = grown;
                        allocated = k;
                }
                l[n] = strdup(s);
                if (!l[n])
                        return -ENOMEM;
                l[++n] = NULL;
        }
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;
        if (!l && keep_empty) {
                l = new0(char *, 1);
                if (!l)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static int read_resource_names(sd_bus_message *m, const char *what, char ***ret, sd_bus_error *error) {
        _cleanup_strv_free_ char **l = NULL;
        int r;

        r = read_strv(m, what, SPEC_NAMES_MAX, false, &l, error);
        if (r < 0)
                return r;
        for (char **n = l; n && *n; n++)
                if (!resource_name_is_valid(*n))
                        return spec_error(error, -EINVAL, "%s: " QUOTED " is not a valid name "
                                          "(printable, no blanks, at most %d bytes)",
                                          what, *n, SPEC_NAME_MAX);
        *ret = TAKE_PTR(l);
        return 0;
}

/* Reads the supporter that would be spec->supporters[index]; without a Name, s->name stays NULL. */
static int read_supporter(sd_bus_message *m, const SessionSpec *spec, size_t index, SupporterSpec *ret,
                          sd_bus_error *error) {
        _cleanup_(supporter_spec_done) SupporterSpec s = { .ready = READY_EXEC };
        char where[48], what[64];
        uint32_t seen = 0;
        int r;

        snprintf(where, sizeof(where), "Supporters[%zu]", index);

        r = sd_bus_message_enter_container(m, SD_BUS_TYPE_ARRAY, "{sv}");
        if (r < 0)
                return r;
        if (r == 0)
                return -ENXIO; /* no array where one was promised */

        for (;;) {
                size_t k;

                r = enter_dict_entry(m, supporter_keys, ELEMENTSOF(supporter_keys), &seen, where, &k, error);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;

                switch ((SupporterKey) k) {
                case SUPPORTER_KEY_NAME: {
                        const char *name;

                        r = sd_bus_message_read(m, "s", &name);
                        if (r < 0)
                                return r;
                        if (!supporter_name_is_valid(name))
                                return spec_error(error, -EINVAL, "%s.Name: " QUOTED " is not a valid name "
                                                  "(" SUPPORTER_NAME_RULES ")", where, name);
                        if (session_spec_find_supporter(spec, name))
                                return spec_error(error, -EEXIST, "Supporters: duplicate name '%s'", name);
                        s.name = strdup(name);
                        if (!s.name)
                                return -ENOMEM;
                        break;
                }
                case SUPPORTER_KEY_ARGV:
                        snprintf(what, sizeof(what), "%s.Argv", where);
                        r = read_strv(m, what, SPEC_ARGV_MAX, true, &s.argv, error);
                        break;
                case SUPPORTER_KEY_READY: {
                        const char *ready;

                        r = sd_bus_message_read(m, "s", &ready);
                        if (r < 0)
                                return r;
                        r = ready_parse(ready, &s.ready, &s.ready_delay);
                        if (r < 0)
                                return spec_error(error, -EINVAL,
                                                  "%s.Ready: " QUOTED " is not one of exec, notify, delay:MS",
                                                  where, ready);
                        break;
                }
                case SUPPORTER_KEY_REQUIRES:
                case SUPPORTER_KEY_PROVIDES:
                        snprintf(what, sizeof(what), "%s.%s", where, supporter_keys[k].name);
                        r = read_resource_names(m, what,
                                                k == SUPPORTER_KEY_REQUIRES ? &s.requires : &s.provides,
                                                error);
                        break;
                case SUPPORTER_KEY_WORKING_DIRECTORY:
                        r = read_string(m, &s.working_directory);
                        if (r >= 0 && s.working_directory[0] != '/')
                                return spec_error(error, -EINVAL, "%s.WorkingDirectory: not an absolute path",
                                                  where);
                        break;
                default:
                        assert(false);
                        return -EINVAL;
                }
                if (r < 0)
                        return r;

                r = exit_dict_entry(m);
                if (r < 0)
                        return r;
        }

        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;

        if (!s.argv)
                return spec_error(error, -EINVAL, "%s.Argv: missing", where);
        if (!s.argv[0] || !s.argv[0][0])
                return spec_error(error, -EINVAL, "%s.Argv: empty command", where);

        *ret = s;
        s = (SupporterSpec) { 0 };
        return 0;
}

static int read_one_supporter(sd_bus_message *m, const SessionSpec *spec, SupporterSpec *ret,
                              sd_bus_error *error) {
        _cleanup_(supporter_spec_done) SupporterSpec s = { 0 };
        const char *message;
        int r;

        if (spec->n_supporters >= SPEC_SUPPORTERS_MAX)
                return spec_error(error, -E2BIG, "Supporters: too many supporters (at most %d)",
                                  SPEC_SUPPORTERS_MAX);
        r = read_supporter(m, spec, spec->n_supporters, &s, error);
        if (r < 0)
                return r;
        if (!s.name) {
                r = supporter_name_derive(spec, s.argv[0], &s.name);
                if (r < 0)
                        return r;
        }
        r = supporter_spec_validate(&s, &message);
        if (r < 0)
                return spec_error(error, r, "%s", message);

        *ret = s;
        s = (SupporterSpec) { 0 };
        return 0;
}

int bus_message_read_supporter_spec(sd_bus_message *m, const SessionSpec *spec, SupporterSpec *ret,
                                    sd_bus_error *error) {
        int r;

        r = read_one_supporter(m, spec, ret, error);
        if (r < 0 && !sd_bus_error_is_set(error))
                (void) sd_bus_error_set_errno(error, r);
        return r;
}

static int read_supporters(sd_bus_message *m, SessionSpec *spec, sd_bus_error *error) {
        int r;

        assert(spec->n_supporters == 0);

        r = sd_bus_message_enter_container(m, SD_BUS_TYPE_ARRAY, "a{sv}");
        if (r < 0)
                return r;

        while ((r = sd_bus_message_at_end(m, false)) == 0) {
                SupporterSpec s, *grown;

                if (spec->n_supporters >= SPEC_SUPPORTERS_MAX)
                        return spec_error(error, -E2BIG, "Supporters: too many supporters (at most %d)",
                                          SPEC_SUPPORTERS_MAX);
                r = read_supporter(m, spec, spec->n_supporters, &s, error);
                if (r < 0)
                        return r;
                grown = reallocarray(spec->supporters, spec->n_supporters + 1, sizeof(SupporterSpec));
                if (!grown) {
                        supporter_spec_done(&s);
                        return -ENOMEM;
                }
                spec->supporters = grown;
                spec->supporters[spec->n_supporters++] = s;
        }
        if (r < 0)
                return r;

        /* Derived names only once every explicit one is known, so that an explicit "perf" keeps its
         * name and the unnamed /usr/bin/perf before it becomes "perf_2". */
        for (size_t i = 0; i < spec->n_supporters; i++)
                if (!spec->supporters[i].name) {
                        SupporterSpec *s = &spec->supporters[i];

                        r = supporter_name_derive(spec, s->argv[0], &s->name);
                        if (r < 0)
                                return r;
                }

        return sd_bus_message_exit_container(m);
}

static void close_stdio(int (*fds)[3]) {
        for (size_t i = 0; i < 3; i++)
                (*fds)[i] = safe_close((*fds)[i]);
}

static int read_stdio_fd(sd_bus_message *m, const char *key, bool output, int *ret_fd,
                         sd_bus_error *error) {
        int fd, flags, mode, copy;
        struct stat st;
        int r;

        r = sd_bus_message_read(m, "h", &fd);
        if (r == -EBADMSG)
                return spec_error(error, -EBADF, "%s: no such file descriptor in the message", key);
        if (r < 0)
                return r;

        /* The process will get it as its stdin or stdout: refuse what would fail only there. */
        if (fstat(fd, &st) >= 0 && S_ISDIR(st.st_mode))
                return spec_error(error, -EISDIR, "%s: a directory, not a file to read or write", key);
        flags = fcntl(fd, F_GETFL);
        if (flags < 0)
                return spec_error(error, -EBADF, "%s: not an open file descriptor", key);
        if (flags & O_PATH)
                return spec_error(error, -EBADF, "%s: an O_PATH descriptor, not open for I/O", key);
        mode = flags & O_ACCMODE;
        if (!output && !IN_SET(mode, O_RDONLY, O_RDWR))
                return spec_error(error, -EBADF, "%s: not open for reading", key);
        if (output && !IN_SET(mode, O_WRONLY, O_RDWR))
                return spec_error(error, -EBADF, "%s: not open for writing", key);

        copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (copy < 0)
                return negative_errno();
        *ret_fd = copy;
        return 0;
}

static int check_duration(const char *key, usec_t v, bool infinity_ok, sd_bus_error *error) {
        if (v == 0)
                return spec_error(error, -EINVAL, "%s: must be greater than zero", key);
        if (v > SPEC_DURATION_MAX && !(infinity_ok && v == USEC_INFINITY))
                return spec_error(error, -EINVAL, "%s: too large (at most 30 days%s)", key,
                                  infinity_ok ? ", or UINT64_MAX for none" : "");
        return 0;
}

static int read_session_spec(sd_bus_message *m, SessionSpec **ret_spec, int ret_stdio[3],
                             sd_bus_error *error) {
        _cleanup_(session_spec_freep) SessionSpec *spec = NULL;
        _cleanup_(close_stdio) int stdio[3] = { -EBADF, -EBADF, -EBADF };
        _cleanup_free_ char *requirements = NULL;
        const char *message;
        uint32_t seen = 0;
        int r;

        r = session_spec_new(&spec);
        if (r < 0)
                return r;

        r = sd_bus_message_enter_container(m, SD_BUS_TYPE_ARRAY, "{sv}");
        if (r < 0)
                return r;
        if (r == 0)
                return -ENXIO;

        for (;;) {
                const char *key;
                size_t k;

                r = enter_dict_entry(m, session_keys, ELEMENTSOF(session_keys), &seen, NULL, &k, error);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                key = session_keys[k].name;

                switch ((SessionKey) k) {
                case SESSION_KEY_TARGET:
                        r = read_strv(m, key, SPEC_ARGV_MAX, false, &spec->target, error);
                        break;
                case SESSION_KEY_WORKING_DIRECTORY:
                        r = read_string(m, &spec->working_directory);
                        break;
                case SESSION_KEY_ENVIRONMENT:
                        r = read_strv(m, key, SPEC_ENVIRONMENT_MAX, true, &spec->environment, error);
                        break;
                case SESSION_KEY_SUPPORTERS:
                        r = read_supporters(m, spec, error);
                        break;
                case SESSION_KEY_STDIN_FD:
                case SESSION_KEY_STDOUT_FD:
                case SESSION_KEY_STDERR_FD: {
                        size_t i = k - SESSION_KEY_STDIN_FD;

                        r = read_stdio_fd(m, key, i > 0, &stdio[i], error);
                        break;
                }
                case SESSION_KEY_DESCRIPTION:
                        r = read_string(m, &spec->description);
                        /* Shown in every listing: a long one would make ListSessions a reply the
                         * bus refuses to carry. */
                        if (r >= 0 && strlen(spec->description) > SPEC_DESCRIPTION_MAX)
                                return spec_error(error, -E2BIG, "Description: %zu bytes, at most %d",
                                                  strlen(spec->description), SPEC_DESCRIPTION_MAX);
                        break;
                case SESSION_KEY_MAX_DURATION:
                case SESSION_KEY_STOP_TIMEOUT: {
                        bool max = k == SESSION_KEY_MAX_DURATION;
                        uint64_t v;

                        r = sd_bus_message_read(m, "t", &v);
                        if (r < 0)
                                return r;
                        r = check_duration(key, v, max, error);
                        if (r < 0)
                                return r;
                        *(max ? &spec->max_duration : &spec->stop_timeout) = v;
                        break;
                }
                case SESSION_KEY_CLAIMS:
                        r = read_resource_names(m, key, &spec->claims, error);
                        break;
                case SESSION_KEY_USES:
                        r = read_resource_names(m, key, &spec->uses, error);
                        break;
                case SESSION_KEY_PRIORITY: {
                        int32_t v;

                        r = sd_bus_message_read(m, "i", &v);
                        if (r >= 0)
                                spec->priority = v;
                        break;
                }
                case SESSION_KEY_BIND_TO_CALLER:
                case SESSION_KEY_EXCLUSIVE: {
                        int b;

                        r = sd_bus_message_read(m, "b", &b);
                        if (r >= 0)
                                *(k == SESSION_KEY_EXCLUSIVE ? &spec->group_exclusive : &spec->bind_to_caller) = b;
                        break;
                }
                case SESSION_KEY_GROUP:
                        r = read_string(m, &spec->group);
                        break;
                case SESSION_KEY_AFTER:
                case SESSION_KEY_AFTER_SUCCESS:
                        /* One list and one meaning: "after these, and only if they succeeded" is
                         * AfterSuccess alone, which waits as After does. */
                        if (seen & (UINT32_C(1) << (k == SESSION_KEY_AFTER ? SESSION_KEY_AFTER_SUCCESS : SESSION_KEY_AFTER)))
                                return spec_error(error, -EINVAL, "%s: give After or AfterSuccess, not both "
                                                  "(AfterSuccess waits as After does)", key);
                        r = read_resource_names(m, key, &spec->after, error);
                        spec->after_success = k == SESSION_KEY_AFTER_SUCCESS;
                        break;
                default:
                        assert(false);
                        return -EINVAL;
                }
                if (r < 0)
                        return r;

                r = exit_dict_entry(m);
                if (r < 0)
                        return r;
        }

        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;

        if (!(seen & (UINT32_C(1) << SESSION_KEY_TARGET)))
                return spec_error(error, -EINVAL, "Target: missing");

        r = session_spec_validate(spec, &message);
        if (r < 0)
                return spec_error(error, r, "%s", message);
        r = session_spec_check_requirements(spec, &requirements);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return spec_error(error, r, "%s", requirements);

        *ret_spec = TAKE_PTR(spec);
        if (ret_stdio)
                for (size_t i = 0; i < 3; i++)
                        ret_stdio[i] = TAKE_FD(stdio[i]);
        return 0;
}

int bus_message_read_session_spec(sd_bus_message *m, SessionSpec **ret_spec, int ret_stdio[3],
                                  sd_bus_error *error) {
        int r;

        r = read_session_spec(m, ret_spec, ret_stdio, error);
        if (r < 0 && !sd_bus_error_is_set(error))
                (void) sd_bus_error_set_errno(error, r);
        return r;
}

static int append_strv(sd_bus_message *m, const char *key, char **l) {
        int r;

        r = sd_bus_message_open_container(m, SD_BUS_TYPE_DICT_ENTRY, "sv");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "s", key);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, SD_BUS_TYPE_VARIANT, "as");
        if (r < 0)
                return r;
        r = sd_bus_message_append_strv(m, l);
        if (r < 0)
                return r;
        r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(m);
}

int bus_message_append_supporter_spec(sd_bus_message *m, const SupporterSpec *s) {
        char ready[32];
        int r;

        if (s->ready == READY_DELAY)
                snprintf(ready, sizeof(ready), "delay:%" PRIu64, s->ready_delay / USEC_PER_MSEC);
        else
                snprintf(ready, sizeof(ready), "%s", strempty(ready_mode_to_string(s->ready)));

        r = sd_bus_message_open_container(m, SD_BUS_TYPE_ARRAY, "{sv}");
        if (r < 0)
                return r;
        if (s->name) {
                r = sd_bus_message_append(m, "{sv}", "Name", "s", s->name);
                if (r < 0)
                        return r;
        }
        if (s->argv) {
                r = append_strv(m, "Argv", s->argv);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_append(m, "{sv}", "Ready", "s", ready);
        if (r < 0)
                return r;
        if (s->requires) {
                r = append_strv(m, "Requires", s->requires);
                if (r < 0)
                        return r;
        }
        if (s->provides) {
                r = append_strv(m, "Provides", s->provides);
                if (r < 0)
                        return r;
        }
        if (s->working_directory) {
                r = sd_bus_message_append(m, "{sv}", "WorkingDirectory", "s", s->working_directory);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(m);
}

int bus_message_append_session_spec(sd_bus_message *m, const SessionSpec *spec, const int stdio[3]) {
        static const char * const fd_keys[3] = { "StdinFD", "StdoutFD", "StderrFD" };
        int r;

        r = sd_bus_message_open_container(m, SD_BUS_TYPE_ARRAY, "{sv}");
        if (r < 0)
                return r;

        if (spec->target) {
                r = append_strv(m, "Target", spec->target);
                if (r < 0)
                        return r;
        }
        if (spec->working_directory) {
                r = sd_bus_message_append(m, "{sv}", "WorkingDirectory", "s", spec->working_directory);
                if (r < 0)
                        return r;
        }
        if (spec->environment) {
                r = append_strv(m, "Environment", spec->environment);
                if (r < 0)
                        return r;
        }
        if (spec->n_supporters > 0) {
                r = sd_bus_message_open_container(m, SD_BUS_TYPE_DICT_ENTRY, "sv");
                if (r < 0)
                        return r;
                r = sd_bus_message_append(m, "s", "Supporters");
                if (r < 0)
                        return r;
                r = sd_bus_message_open_container(m, SD_BUS_TYPE_VARIANT, "aa{sv}");
                if (r < 0)
                        return r;
                r = sd_bus_message_open_container(m, SD_BUS_TYPE_ARRAY, "a{sv}");
                if (r < 0)
                        return r;
                for (size_t i = 0; i < spec->n_supporters; i++) {
                        r = bus_message_append_supporter_spec(m, &spec->supporters[i]);
                        if (r < 0)
                                return r;
                }
                for (unsigned i = 0; i < 3; i++) {
                        r = sd_bus_message_close_container(m);
                        if (r < 0)
                                return r;
                }
        }
        for (size_t i = 0; stdio && i < 3; i++)
                if (stdio[i] >= 0) {
                        r = sd_bus_message_append(m, "{sv}", fd_keys[i], "h", stdio[i]);
                        if (r < 0)
                                return r;
                }
        if (spec->description) {
                r = sd_bus_message_append(m, "{sv}", "Description", "s", spec->description);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_append(m, "{sv}{sv}",
                                  "MaxDurationUSec", "t", (uint64_t) spec->max_duration,
                                  "StopTimeoutUSec", "t", (uint64_t) spec->stop_timeout);
        if (r < 0)
                return r;
        if (spec->claims) {
                r = append_strv(m, "Claims", spec->claims);
                if (r < 0)
                        return r;
        }
        if (spec->uses) {
                r = append_strv(m, "Uses", spec->uses);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_append(m, "{sv}{sv}",
                                  "Priority", "i", (int32_t) spec->priority,
                                  "BindToCaller", "b", (int) spec->bind_to_caller);
        if (r < 0)
                return r;
        if (spec->group) {
                r = sd_bus_message_append(m, "{sv}{sv}", "Group", "s", spec->group,
                                          "Exclusive", "b", (int) spec->group_exclusive);
                if (r < 0)
                        return r;
        }
        if (spec->after) {
                r = append_strv(m, spec->after_success ? "AfterSuccess" : "After", spec->after);
                if (r < 0)
                        return r;
        }

        return sd_bus_message_close_container(m);
}
