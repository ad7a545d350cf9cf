/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <langinfo.h>
#include <locale.h>
#include <pwd.h>
#include <stdarg.h>
#include <sys/ioctl.h>

#include "bus-errors.h"
#include "config.h"
#include "format.h"
#include "log.h"
#include "profctl.h"
#include "profctl-help.h"

bool arg_user = false;
const char *arg_address = NULL;
const char *arg_host = NULL;
const char *arg_machine = NULL;
bool arg_json = false;
bool arg_no_legend = false;
bool arg_quiet = false;

enum {
        ARG_SYSTEM = 0x100,
        ARG_USER,
        ARG_ADDRESS,
        ARG_JSON,
        ARG_NO_PAGER,
        ARG_NO_LEGEND,
        ARG_VERSION,
};

static const struct option global_options[] = {
        { "system",    no_argument,       NULL, ARG_SYSTEM    },
        { "user",      no_argument,       NULL, ARG_USER      },
        { "address",   required_argument, NULL, ARG_ADDRESS   },
        { "host",      required_argument, NULL, 'H'           },
        { "machine",   required_argument, NULL, 'M'           },
        { "json",      no_argument,       NULL, ARG_JSON      },
        { "no-pager",  no_argument,       NULL, ARG_NO_PAGER  },
        { "no-legend", no_argument,       NULL, ARG_NO_LEGEND },
        { "quiet",     no_argument,       NULL, 'q'           },
        { "help",      no_argument,       NULL, 'h'           },
        { "version",   no_argument,       NULL, ARG_VERSION   },
        { NULL, 0, NULL, 0 }
};
#define GLOBAL_SHORTOPTS "hqH:M:"

static void help(void) {
        print_help_profctl(program_invocation_short_name);
}

/* 1: handled; 0: not a global option; < 0: a usage error, said already. */
static int parse_global_option(int opt, const char *value) {
        switch (opt) {
        case ARG_SYSTEM:
                arg_user = false;
                return 1;
        case ARG_USER:
                arg_user = true;
                return 1;
        case ARG_ADDRESS:
                arg_address = value;
                return 1;
        case 'H':
                arg_host = value;
                return 1;
        case 'M':
                arg_machine = value;
                return 1;
        case ARG_JSON:
                arg_json = true;
                return 1;
        case ARG_NO_PAGER:
                return 1;
        case ARG_NO_LEGEND:
                arg_no_legend = true;
                return 1;
        case 'q':
                arg_quiet = true;
                return 1;
        case ARG_VERSION:
                printf("profctl %s\n", PACKAGE_VERSION);
                exit(EXIT_SUCCESS);
        case '?':
                return -EINVAL; /* getopt said what */
        default:
                return 0;
        }
}

int verb_parse_options(int argc, char *argv[], const char *shortopts, const struct option *options,
                       VerbOptionFn f, void *userdata, void (*verb_help)(void)) {
        _cleanup_free_ struct option *all = NULL;
        _cleanup_free_ char *all_short = NULL;
        size_t n = 0, n_global = ELEMENTSOF(global_options) - 1;
        char *verb;
        int opt, r;

        for (const struct option *o = options; o && o->name; o++)
                n++;
        all = new0(struct option, n + n_global + 1);
        if (!all)
                return log_oom();
        if (n > 0)
                memcpy(all, options, n * sizeof(struct option));
        memcpy(all + n, global_options, n_global * sizeof(struct option));

        /* A leading '+' must stay first; the global short options go after the verb's. */
        if (asprintf(&all_short, "%s%s", strempty(shortopts), GLOBAL_SHORTOPTS) < 0) {
                all_short = NULL;
                return log_oom();
        }

        /* A fresh scan of a new argv: GNU getopt re-reads its settings with optind 0. getopt
         * names argv[0] in its complaints: that is us, not the verb. */
        optind = 0;
        verb = argv[0];
        argv[0] = program_invocation_short_name;
        while ((opt = getopt_long(argc, argv, all_short, all, NULL)) >= 0) {
                if (opt == 'h') {
                        verb_help();
                        r = 0;
                        goto finish;
                }
                r = parse_global_option(opt, optarg);
                if (r < 0)
                        goto finish;
                if (r > 0)
                        continue;
                if (!f) {
                        r = log_error_errno(EINVAL, "Unhandled option %d.", opt);
                        goto finish;
                }
                r = f(opt, optarg, userdata);
                if (r < 0)
                        goto finish;
        }
        argv[0] = verb;
        if (arg_address && (arg_user || arg_host || arg_machine))
                return log_error_errno(EINVAL, "--address= talks to one profd directly: it excludes --user, -H and -M.");
        if (arg_host && arg_machine)
                return log_error_errno(EINVAL, "-H and -M exclude each other.");
        if (arg_host && arg_user)
                return log_error_errno(EINVAL, "-H talks to the system bus of a remote host: --user is not supported with it.");
        return 1;

finish:
        argv[0] = verb;
        return r;
}

bool profctl_is_remote(void) {
        return arg_host || arg_machine;
}

static const char *bus_destination(void) {
        /* A peer-to-peer connection has nobody to route to: the other end is profd. */
        return arg_address ? NULL : PROFD_BUS_NAME;
}

/* "profd is not running on the system bus: is profd running? Try …" for where we looked. */
static int log_not_running(int r) {
        if (arg_address)
                log_error("profd is not running on %s: is profd running? Try 'profd --listen=%s'.",
                          arg_address, arg_address);
        else if (arg_host)
                log_error("profd is not running on the system bus of %s: is profd running? Try 'systemctl -H %s start profd'.",
                          arg_host, arg_host);
        else if (arg_machine)
                log_error("profd is not running on the %s bus of %s: is profd running? Try 'systemctl%s -M %s start profd'.",
                          arg_user ? "session" : "system", arg_machine, arg_user ? " --user" : "", arg_machine);
        else if (arg_user)
                log_error("profd is not running on the session bus: is profd running? Try 'systemctl --user start profd', or leave out --user.");
        else
                log_error("profd is not running on the system bus: is profd running? Try 'systemctl start profd', or use --user.");
        return r < 0 ? r : -ESRCH;
}

int profctl_connect(sd_bus **ret) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        bus_error_register_profd();
        if (arg_address) {
                r = sd_bus_new(&bus);
                if (r < 0)
                        return log_error_errno(r, "Failed to allocate a bus connection: %m");
                r = sd_bus_set_address(bus, arg_address);
                if (r < 0)
                        return log_error_errno(r, "Invalid --address '%s': %m", arg_address);
                /* run passes its terminal to the target. */
                r = sd_bus_negotiate_fds(bus, true);
                if (r >= 0)
                        r = sd_bus_start(bus);
                if (IN_SET(r, -ENOENT, -ECONNREFUSED))
                        return log_not_running(r);
                if (r < 0)
                        return log_error_errno(r, "Failed to connect to %s: %m", arg_address);
        } else if (arg_host) {
                r = sd_bus_open_system_remote(&bus, arg_host);
                if (r < 0)
                        return log_error_errno(r, "Failed to connect to the system bus of %s: %m", arg_host);
        } else if (arg_machine) {
                r = arg_user ? sd_bus_open_user_machine(&bus, arg_machine) :
                               sd_bus_open_system_machine(&bus, arg_machine);
                if (r < 0)
                        return log_error_errno(r, "Failed to connect to the %s bus of %s: %m",
                                               arg_user ? "session" : "system", arg_machine);
        } else {
                r = arg_user ? sd_bus_open_user(&bus) : sd_bus_open_system(&bus);
                if (r < 0)
                        return log_error_errno(r, "Failed to connect to the %s bus: %m. Is D-Bus running%s?",
                                               arg_user ? "session" : "system",
                                               arg_user ? " for this user (is $DBUS_SESSION_BUS_ADDRESS or $XDG_RUNTIME_DIR set)" : "");
        }
        *ret = TAKE_PTR(bus);
        return 0;
}

int bus_call_manager(sd_bus *bus, const char *member, sd_bus_error *error, sd_bus_message **ret_reply,
                     const char *types, ...) {
        va_list ap;
        int r;

        va_start(ap, types);
        r = sd_bus_call_methodv(bus, bus_destination(), PROFD_BUS_PATH, PROFD_BUS_MANAGER_INTERFACE, member,
                                error, ret_reply, types, ap);
        va_end(ap);
        return r;
}

int bus_get_session_properties(sd_bus *bus, const char *path, sd_bus_error *error, sd_bus_message **ret_reply) {
        return sd_bus_call_method(bus, bus_destination(), path, "org.freedesktop.DBus.Properties", "GetAll",
                                  error, ret_reply, "s", PROFD_BUS_SESSION_INTERFACE);
}

int bus_match_signal(sd_bus *bus, sd_bus_slot **ret, const char *path, const char *interface,
                     const char *member, sd_bus_message_handler_t callback, void *userdata) {
        /* Asynchronously: the AddMatch goes out ahead of the calls that follow, and the bus daemon
         * handles a connection's messages in order, so no signal they cause can be missed. */
        return sd_bus_match_signal_async(bus, ret, bus_destination(), path, interface, member, callback, NULL,
                                         userdata);
}

static void log_no_such_session(sd_bus *bus, const char *id) {
        _cleanup_free_ char *known = NULL;
        SessionInfo *l = NULL;
        size_t n = 0, len = 0;
        uint64_t wanted;
        bool numeric = session_id_is_numeric(id, &wanted);
        FILE *f;

        if (!bus || list_sessions(bus, false, &l, &n) < 0) {
                log_error("no session '%s'.", id);
                return;
        }
        if (n == 0) {
                log_error("no session '%s'. There are no sessions.", id);
                return;
        }

        /* Nearest first, so that a typo's neighbour is at hand; the list is in id order already. */
        if (numeric)
                for (size_t i = 1; i < n; i++)
                        for (size_t j = i; j > 0 && session_id_distance(l[j].id, wanted) <
                                                    session_id_distance(l[j - 1].id, wanted); j--) {
                                SessionInfo t = l[j];
                                l[j] = l[j - 1];
                                l[j - 1] = t;
                        }

        f = open_memstream(&known, &len);
        if (f) {
                for (size_t i = 0; i < n && i < 10; i++)
                        fprintf(f, "%s%s", i > 0 ? ", " : "", l[i].id);
                if (n > 10)
                        fprintf(f, ", %s (%zu in all)", use_utf8() ? "…" : "...", n);
                if (fclose(f) != 0)
                        known = mfree(known);
        }
        log_error("no session '%s'. Sessions: %s.", id, strempty(known));
        session_infos_free(l, n);
}

int log_bus_error(sd_bus *bus, const sd_bus_error *error, int r, const char *id, const char *what) {
        if (sd_bus_error_has_names(error, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER) ||
            (!sd_bus_error_is_set(error) && IN_SET(r, -ECONNREFUSED, -ENOENT)))
                return log_not_running(r);
        if (sd_bus_error_has_name(error, SD_BUS_ERROR_ACCESS_DENIED)) {
                if (id)
                        log_error("session %s belongs to another user (access denied). %s", id,
                                  strempty(error->message));
                else
                        log_error("access denied: %s", strempty(error->message));
                return r;
        }
        if (sd_bus_error_has_name(error, PROFD_ERROR_NO_SUCH_SESSION) && id) {
                log_no_such_session(bus, id);
                return r;
        }
        if (sd_bus_error_is_set(error) && error->message)
                log_error("%s", error->message);
        else
                log_error_errno(r, "Failed to %s: %m", what);
        return r;
}

int session_ref_parse(const char *ref, const char **ret_id) {
        const char *id = session_ref_to_id(ref);

        if (!*id || streq(id, "%"))
                return log_error_errno(EINVAL, "Invalid session '%s': expected an id such as 3 or %%3.", ref);
        *ret_id = id;
        return 0;
}

static void session_info_done(SessionInfo *s) {
        free(s->id);
        free(s->state);
        free(s->description);
        free(s->path);
        free(s->result);
        free(s->waiting_for);
        *s = (SessionInfo) { 0 };
}

void session_infos_free(SessionInfo *l, size_t n) {
        for (size_t i = 0; i < n; i++)
                session_info_done(&l[i]);
        free(l);
}

int compare_session_info(const void *a, const void *b) {
        return session_id_compare(((const SessionInfo *) a)->id, ((const SessionInfo *) b)->id);
}

/* Result and the timestamps from the session object: public, like ListSessions. */
static int read_session_properties(sd_bus *bus, SessionInfo *s) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *key;
        int r;

        r = bus_get_session_properties(bus, s->path, &error, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                r = sd_bus_message_read(reply, "s", &key);
                if (r < 0)
                        return r;
                if (streq(key, "Result")) {
                        const char *v;

                        r = sd_bus_message_read(reply, "v", "s", &v);
                        if (r >= 0) {
                                free(s->result);
                                s->result = strdup(v);
                                if (!s->result)
                                        return -ENOMEM;
                        }
                } else if (streq(key, "CreatedTimestamp"))
                        r = sd_bus_message_read(reply, "v", "t", &s->created_usec);
                else if (streq(key, "FinishedTimestamp"))
                        r = sd_bus_message_read(reply, "v", "t", &s->finished_usec);
                else
                        r = sd_bus_message_skip(reply, "v");
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(reply);
                if (r < 0)
                        return r;
        }
        return r;
}

int list_sessions(sd_bus *bus, bool properties, SessionInfo **ret, size_t *ret_n) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        SessionInfo *l = NULL;
        size_t n = 0;
        const char *id, *state, *description, *path;
        uint32_t uid, pid;
        int r;

        r = bus_call_manager(bus, "ListSessions", &error, &reply, NULL);
        if (r < 0)
                return log_bus_error(bus, &error, r, NULL, "list sessions");
        r = sd_bus_message_enter_container(reply, 'a', "(ssuuso)");
        if (r < 0)
                return log_error_errno(r, "Failed to parse the session list: %m");
        while ((r = sd_bus_message_read(reply, "(ssuuso)", &id, &state, &uid, &pid, &description, &path)) > 0) {
                SessionInfo *grown = reallocarray(l, n + 1, sizeof(SessionInfo));

                if (!grown) {
                        session_infos_free(l, n);
                        return log_oom();
                }
                l = grown;
                l[n] = (SessionInfo) {
                        .id = strdup(id),
                        .state = strdup(state),
                        .owner_uid = uid,
                        .pid = pid,
                        .description = strdup(description),
                        .path = strdup(path),
                };
                n++;
                if (!l[n - 1].id || !l[n - 1].state || !l[n - 1].description || !l[n - 1].path) {
                        session_infos_free(l, n);
                        return log_oom();
                }
        }
        if (r < 0) {
                session_infos_free(l, n);
                return log_error_errno(r, "Failed to parse the session list: %m");
        }

        if (properties)
                for (size_t i = 0; i < n;) {
                        r = read_session_properties(bus, &l[i]);
                        if (r == -ENOMEM) {
                                session_infos_free(l, n);
                                return log_oom();
                        }
                        if (r < 0) {
                                /* Removed since ListSessions answered: it is not there to list. */
                                log_debug_errno(r, "Failed to read the properties of session %s, skipping: %m",
                                                l[i].id);
                                session_info_done(&l[i]);
                                memmove(l + i, l + i + 1, (n - i - 1) * sizeof(SessionInfo));
                                n--;
                                continue;
                        }
                        i++;
                }

        if (n > 0)
                qsort(l, n, sizeof(SessionInfo), compare_session_info);
        *ret = l;
        *ret_n = n;
        return 0;
}

int current_session(sd_bus *bus, char **ret_id) {
        SessionInfo *l = NULL;
        size_t n = 0;
        uid_t uid = geteuid();
        int r;

        r = list_sessions(bus, false, &l, &n);
        if (r < 0)
                return r;
        for (size_t i = n; i > 0; i--)
                if (l[i - 1].owner_uid == uid && !streq(l[i - 1].state, "finished")) {
                        *ret_id = strdup(l[i - 1].id);
                        session_infos_free(l, n);
                        return *ret_id ? 0 : log_oom();
                }
        session_infos_free(l, n);
        return log_error_errno(ESRCH, "no current session: none of yours is running. See 'profctl list'.");
}

bool use_colors(void) {
        static int cached = -1;

        if (cached < 0) {
                const char *term = getenv("TERM");

                cached = isatty(STDOUT_FILENO) && !getenv("NO_COLOR") && !streq_ptr(term, "dumb");
        }
        return cached;
}

bool use_utf8(void) {
        static int cached = -1;

        if (cached < 0)
                cached = streq(nl_langinfo(CODESET), "UTF-8");
        return cached;
}

size_t terminal_columns(void) {
        struct winsize ws = { 0 };
        const char *e;

        if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) >= 0 && ws.ws_col > 0)
                return ws.ws_col;
        e = getenv("COLUMNS");
        if (e) {
                char *end;
                unsigned long v = strtoul(e, &end, 10);

                if (*e && !*end && v > 0 && v < 100000)
                        return v;
        }
        return SIZE_MAX;
}

const char *owner_name(uid_t uid, char *buf, size_t size) {
        struct passwd *pw = profctl_is_remote() ? NULL : getpwuid(uid);

        if (pw)
                snprintf(buf, size, "%s", pw->pw_name);
        else
                snprintf(buf, size, "%u", (unsigned) uid);
        return buf;
}

typedef struct Verb {
        const char *name;
        int (*run)(int argc, char *argv[]);
} Verb;

static const Verb verbs[] = {
        { "run",    verb_run    },
        { "start",  verb_start  },
        { "fg",     verb_fg     },
        { "bg",     verb_bg     },
        { "wait",   verb_wait   },
        { "list",   verb_list   },
        { "jobs",   verb_list   },
        { "status", verb_status },
        { "stop",   verb_stop   },
        { "kill",   verb_kill   },
        { "pause",  verb_pause  },
        { "resume", verb_resume },
        { "attach", verb_attach },
        { "forget", verb_forget },
};

int main(int argc, char *argv[]) {
        int opt, r;

        /* Only LC_CTYPE: the character set decides "●" and "…"; numbers keep their '.' for scripts. */
        (void) setlocale(LC_CTYPE, "");

        /* The global options before the verb; '+' stops at the verb, whose options follow it. */
        while ((opt = getopt_long(argc, argv, "+" GLOBAL_SHORTOPTS, global_options, NULL)) >= 0) {
                if (opt == 'h') {
                        help();
                        return EXIT_SUCCESS;
                }
                r = parse_global_option(opt, optarg);
                if (r <= 0)
                        return PROFCTL_EXIT_USAGE;
        }

        /* Without a verb, what is going on: as systemctl lists its units. */
        if (optind >= argc) {
                char *list_argv[] = { (char *) "list", NULL };

                return verb_list(1, list_argv);
        }
        if (streq(argv[optind], "help")) {
                help();
                return EXIT_SUCCESS;
        }
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(verbs[i].name, argv[optind]))
                        return verbs[i].run(argc - optind, argv + optind);

        log_error("Unknown verb '%s'. See '%s --help'.", argv[optind], program_invocation_short_name);
        return PROFCTL_EXIT_USAGE;
}
