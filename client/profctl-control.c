/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <signal.h>

#include "bus-errors.h"
#include "format.h"
#include "log.h"
#include "profctl.h"
#include "profctl-help.h"
#include "spec-bus.h"
#include "spec-options.h"
#include "strv.h"

/* stop, kill, pause, resume, attach: acting on sessions that run; forget: on finished ones. */

static void stop_help(void) {
        print_help_profctl_stop(program_invocation_short_name);
}

static void kill_help(void) {
        print_help_profctl_kill(program_invocation_short_name);
}

static void pause_help(void) {
        print_help_profctl_pause(program_invocation_short_name);
}

static void resume_help(void) {
        print_help_profctl_resume(program_invocation_short_name);
}

static void attach_help(void) {
        print_help_profctl_attach(program_invocation_short_name);
}

static void forget_help(void) {
        print_help_profctl_forget(program_invocation_short_name);
}

/* The ids of a verb's operands; at least one. */
static int parse_ids(int argc, char *argv[], char ***ret, size_t *ret_n) {
        _cleanup_strv_free_ char **ids = NULL;
        size_t n = 0;

        if (optind >= argc)
                return log_error_errno(EINVAL, "No session given: profctl %s ID...", argv[0]);
        for (int i = optind; i < argc; i++) {
                const char *id;
                int r;

                r = session_ref_parse(argv[i], &id);
                if (r < 0)
                        return r;
                if (strv_extend(&ids, &n, id) < 0)
                        return log_oom();
        }
        *ret = TAKE_PTR(ids);
        *ret_n = n;
        return 0;
}

/* The same call on each session. `bad_state_ok`: a session in the wrong state is said, not a
 * failure (stop of a finished session, as systemctl stop of an inactive unit). */
static int call_each(sd_bus *bus, char * const *ids, const char *member, const char *what, bool bad_state_ok) {
        int status = EXIT_SUCCESS;

        for (char * const *id = ids; *id; id++) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                int r;

                r = bus_call_manager(bus, member, &error, NULL, "s", *id);
                if (r < 0 && bad_state_ok && sd_bus_error_has_name(&error, PROFD_ERROR_BAD_STATE)) {
                        if (!arg_quiet)
                                log_info("%s", error.message);
                        continue;
                }
                if (r < 0) {
                        log_bus_error(bus, &error, r, *id, what);
                        status = PROFCTL_EXIT_FAILURE;
                }
        }
        return status;
}

typedef struct StopOptions {
        bool no_block;
} StopOptions;

enum {
        ARG_NO_BLOCK = VERB_OPTION_FIRST,
        ARG_WHOM,
        ARG_READY,
};

static int stop_option(int opt, const char *arg, void *userdata) {
        StopOptions *o = userdata;

        o->no_block = true; /* --no-block, the only one */
        return 0;
}

int verb_stop(int argc, char *argv[]) {
        static const struct option options[] = {
                { "no-block", no_argument, NULL, ARG_NO_BLOCK },
                { NULL, 0, NULL, 0 }
        };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_strv_free_ char **ids = NULL;
        StopOptions o = { 0 };
        size_t n = 0;
        bool lost;
        int r, status;

        r = verb_parse_options(argc, argv, NULL, options, stop_option, &o, stop_help);
        if (r <= 0)
                return r < 0 ? PROFCTL_EXIT_USAGE : EXIT_SUCCESS;
        if (parse_ids(argc, argv, &ids, &n) < 0)
                return PROFCTL_EXIT_USAGE;
        r = profctl_connect(&bus);
        if (r < 0)
                return PROFCTL_EXIT_FAILURE;

        status = call_each(bus, ids, "Stop", "stop the session", true);
        if (status != EXIT_SUCCESS || o.no_block)
                return status;
        /* Their statuses are the targets' business (a target may exit 1 on SIGTERM, or unseen after
         * a restart of profd): stopped is what was asked for. */
        (void) wait_sessions(ids, n, &lost);
        return lost ? PROFCTL_EXIT_FAILURE : EXIT_SUCCESS;
}

static int simple_verb(int argc, char *argv[], const char *member, const char *what, void (*help)(void)) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_strv_free_ char **ids = NULL;
        size_t n = 0;
        int r;

        r = verb_parse_options(argc, argv, NULL, NULL, NULL, NULL, help);
        if (r <= 0)
                return r < 0 ? PROFCTL_EXIT_USAGE : EXIT_SUCCESS;
        if (parse_ids(argc, argv, &ids, &n) < 0)
                return PROFCTL_EXIT_USAGE;
        r = profctl_connect(&bus);
        if (r < 0)
                return PROFCTL_EXIT_FAILURE;
        return call_each(bus, ids, member, what, false);
}

int verb_pause(int argc, char *argv[]) {
        return simple_verb(argc, argv, "Pause", "pause the session", pause_help);
}

int verb_resume(int argc, char *argv[]) {
        return simple_verb(argc, argv, "Resume", "resume the session", resume_help);
}

/* The record and the output directory of finished sessions go; one that runs is refused (stop it
 * first), and so is someone else's. */
int verb_forget(int argc, char *argv[]) {
        return simple_verb(argc, argv, "Forget", "forget the session", forget_help);
}

typedef struct KillOptions {
        int signal;
        const char *whom;
        bool pids;
} KillOptions;

static int kill_option(int opt, const char *arg, void *userdata) {
        KillOptions *o = userdata;

        switch (opt) {
        case 's':
                o->signal = signal_from_string(arg);
                if (o->signal < 0)
                        return log_error_errno(EINVAL, "Invalid signal '%s': expected a name such as TERM, SIGUSR1 "
                                               "or RTMIN+1, or a number.", arg);
                return 0;
        case ARG_WHOM:
                o->whom = arg;
                return 0;
        case 'j':
                o->pids = false;
                return 0;
        case 'p':
                o->pids = true;
                return 0;
        default:
                return log_error_errno(EINVAL, "Unhandled option %d.", opt);
        }
}

/* kill(1)'s "-TERM", "-SIGUSR1", "-9": taken out of argv before getopt sees them, where they
 * would be clusters of short options. Names in capitals only, so that -q or -h stay options;
 * the value after an option that takes one is left alone. */
static int take_dash_signals(int argc, char *argv[], KillOptions *o, char ***ret_argv, int *ret_argc) {
        _cleanup_free_ char **copy = NULL;
        int n = 0;

        copy = new0(char *, argc + 1);
        if (!copy)
                return log_oom();
        for (int i = 0; i < argc; i++) {
                const char *a = argv[i];
                int sig;

                if (i > 0 && streq(a, "--")) {
                        for (; i < argc; i++)
                                copy[n++] = argv[i];
                        break;
                }
                if (i > 0 && a[0] == '-' && (isupper((unsigned char) a[1]) || isdigit((unsigned char) a[1])) &&
                    strspn(a + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-") == strlen(a + 1)) {
                        sig = signal_from_string(a + 1);
                        if (sig > 0) {
                                o->signal = sig;
                                continue;
                        }
                        /* A lone capital may be -H or -M; more is a signal name gone wrong. */
                        if (a[2])
                                return log_error_errno(EINVAL, "Invalid signal '%s': expected a name such as TERM, "
                                                       "SIGUSR1 or RTMIN+1, or a number.", a + 1);
                }
                copy[n++] = argv[i];
                if (i + 1 < argc && (streq(a, "-s") || streq(a, "--signal") || streq(a, "--whom") ||
                                     streq(a, "-H") || streq(a, "--host") || streq(a, "-M") ||
                                     streq(a, "--machine") || streq(a, "--address")))
                        copy[n++] = argv[++i];
        }
        *ret_argv = TAKE_PTR(copy);
        *ret_argc = n;
        return 0;
}

/* The session and the process `pid` belongs to: a target or supporter's main pid (from the public
 * Processes property), else, on this machine, its scope: profd-<id>-<name>.scope. */
static int find_pid(sd_bus *bus, const SessionInfo *l, size_t n, uint32_t pid, char **ret_id, char **ret_whom) {
        _cleanup_free_ char *cgroup = NULL, *path = NULL;
        size_t size = 0;
        FILE *f;

        for (size_t i = 0; i < n; i++) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
                const char *name, *role, *state;
                uint32_t p;
                int32_t code, sig;
                uint64_t cpu;
                int r;

                if (streq(l[i].state, "finished"))
                        continue;
                r = sd_bus_get_property(bus, arg_address ? NULL : PROFD_BUS_NAME, l[i].path,
                                        PROFD_BUS_SESSION_INTERFACE, "Processes", &error, &reply, "a(sssuiit)");
                if (r < 0)
                        continue; /* gone meanwhile */
                r = sd_bus_message_enter_container(reply, 'a', "(sssuiit)");
                while (r >= 0 && (r = sd_bus_message_read(reply, "(sssuiit)", &name, &role, &state, &p, &code,
                                                           &sig, &cpu)) > 0)
                        if (p == pid && !streq(state, "exited")) {
                                *ret_id = strdup(l[i].id);
                                *ret_whom = strdup(streq(role, "target") ? "target" : name);
                                return *ret_id && *ret_whom ? 0 : -ENOMEM;
                        }
        }

        if (profctl_is_remote() || asprintf(&path, "/proc/%" PRIu32 "/cgroup", pid) < 0)
                return -ESRCH;
        f = fopen(path, "re");
        if (!f)
                return -ESRCH;
        if (getdelim(&cgroup, &size, '\0', f) < 0) {
                fclose(f);
                return -ESRCH;
        }
        fclose(f);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *prefix = NULL;
                const char *p, *end;

                if (asprintf(&prefix, "/profd-%s-", l[i].id) < 0)
                        return -ENOMEM;
                p = strstr(cgroup, prefix);
                if (!p)
                        continue;
                p += strlen(prefix);
                end = strstr(p, ".scope");
                if (!end)
                        continue;
                *ret_id = strdup(l[i].id);
                *ret_whom = strndup(p, end - p);
                return *ret_id && *ret_whom ? 0 : -ENOMEM;
        }
        return -ESRCH;
}

static int kill_one(sd_bus *bus, const char *id, const char *whom, int sig) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = bus_call_manager(bus, "Kill", &error, NULL, "ssi", id, whom, (int32_t) sig);
        if (r < 0)
                return log_bus_error(bus, &error, r, id, "send the signal");
        return 0;
}

int verb_kill(int argc, char *argv[]) {
        static const struct option options[] = {
                { "signal", required_argument, NULL, 's'      },
                { "whom",   required_argument, NULL, ARG_WHOM },
                { "job",    no_argument,       NULL, 'j'      },
                { "pid",    no_argument,       NULL, 'p'      },
                { NULL, 0, NULL, 0 }
        };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ char **args = NULL;
        KillOptions o = { .signal = SIGTERM };
        SessionInfo *l = NULL;
        size_t n = 0;
        int nargs = 0, r, status = EXIT_SUCCESS;

        r = take_dash_signals(argc, argv, &o, &args, &nargs);
        if (r == -ENOMEM)
                return PROFCTL_EXIT_FAILURE;
        if (r < 0)
                return PROFCTL_EXIT_USAGE;
        r = verb_parse_options(nargs, args, "s:jp", options, kill_option, &o, kill_help);
        if (r <= 0)
                return r < 0 ? PROFCTL_EXIT_USAGE : EXIT_SUCCESS;
        if (optind >= nargs) {
                log_error("No %s given: profctl kill [-s SIG] %s", o.pids ? "pid" : "session",
                          o.pids ? "-p PID..." : "ID...");
                return PROFCTL_EXIT_USAGE;
        }
        r = profctl_connect(&bus);
        if (r < 0)
                return PROFCTL_EXIT_FAILURE;

        if (!o.pids) {
                for (int i = optind; i < nargs; i++) {
                        const char *id;

                        if (session_ref_parse(args[i], &id) < 0)
                                return PROFCTL_EXIT_USAGE;
                        if (kill_one(bus, id, o.whom ? o.whom : "target", o.signal) < 0)
                                status = PROFCTL_EXIT_FAILURE;
                }
                return status;
        }

        r = list_sessions(bus, false, &l, &n);
        if (r < 0)
                return PROFCTL_EXIT_FAILURE;
        for (int i = optind; i < nargs; i++) {
                _cleanup_free_ char *id = NULL, *whom = NULL;
                char *end;
                unsigned long pid;

                errno = 0;
                pid = strtoul(args[i], &end, 10);
                if (errno != 0 || !isdigit((unsigned char) args[i][0]) || *end || pid == 0 || pid > UINT32_MAX) {
                        log_error("Invalid pid '%s'.", args[i]);
                        status = PROFCTL_EXIT_USAGE;
                        break;
                }
                r = find_pid(bus, l, n, (uint32_t) pid, &id, &whom);
                if (r == -ENOMEM) {
                        log_oom();
                        status = PROFCTL_EXIT_FAILURE;
                        break;
                }
                if (r < 0) {
                        log_error("pid %lu is not a process of any session. See 'profctl status'.", pid);
                        status = PROFCTL_EXIT_FAILURE;
                        continue;
                }
                if (kill_one(bus, id, o.whom ? o.whom : whom, o.signal) < 0)
                        status = PROFCTL_EXIT_FAILURE;
        }
        session_infos_free(l, n);
        return status;
}

typedef struct AttachOptions {
        SupporterSpec *supporters;
        size_t n_supporters;
        bool ready_given;
} AttachOptions;

static void attach_options_done(AttachOptions *o) {
        for (size_t i = 0; i < o->n_supporters; i++)
                supporter_spec_done(&o->supporters[i]);
        free(o->supporters);
}

static int attach_option(int opt, const char *arg, void *userdata) {
        AttachOptions *o = userdata;
        SupporterSpec *last;
        int r;

        switch (opt) {
        case 's': {
                _cleanup_(supporter_spec_done) SupporterSpec s = { 0 };
                ShellSplitError e = { 0 };
                SupporterSpec *grown;

                r = supporter_spec_parse(arg, &s, &e);
                if (r == -ENOMEM)
                        return log_oom();
                if (r < 0) {
                        log_shell_split_error("supporter", arg, &e);
                        return r;
                }
                grown = reallocarray(o->supporters, o->n_supporters + 1, sizeof(SupporterSpec));
                if (!grown)
                        return log_oom();
                o->supporters = grown;
                o->supporters[o->n_supporters++] = s;
                s = (SupporterSpec) { 0 };
                o->ready_given = false;
                return 0;
        }
        case ARG_READY:
                /* As --ready of run and start, but for supporters that may have no name yet. */
                if (o->n_supporters == 0)
                        return log_error_errno(EINVAL, "--ready=%s must follow the -s/--supporter it applies to.", arg);
                last = &o->supporters[o->n_supporters - 1];
                if (o->ready_given)
                        return log_error_errno(EINVAL, "--ready given twice for supporter '%s'.", last->argv[0]);
                r = ready_parse(arg, &last->ready, &last->ready_delay);
                if (r < 0)
                        return log_error_errno(r, "Invalid --ready '%s': expected exec, notify or delay:MS.", arg);
                o->ready_given = true;
                return 0;
        default:
                return log_error_errno(EINVAL, "Unhandled option %d.", opt);
        }
}

int verb_attach(int argc, char *argv[]) {
        static const struct option options[] = {
                { "supporter", required_argument, NULL, 's'       },
                { "ready",     required_argument, NULL, ARG_READY },
                { NULL, 0, NULL, 0 }
        };
        _cleanup_(attach_options_done) AttachOptions o = { 0 };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        const char *id;
        int r;

        r = verb_parse_options(argc, argv, "s:", options, attach_option, &o, attach_help);
        if (r <= 0)
                return r < 0 ? PROFCTL_EXIT_USAGE : EXIT_SUCCESS;
        if (optind >= argc) {
                log_error("No session given: profctl attach ID -s CMD...");
                return PROFCTL_EXIT_USAGE;
        }
        if (argc - optind > 1) {
                log_error("One session at a time: profctl attach ID -s CMD...");
                return PROFCTL_EXIT_USAGE;
        }
        if (o.n_supporters == 0) {
                log_error("No supporter given: profctl attach ID -s CMD...");
                return PROFCTL_EXIT_USAGE;
        }
        if (session_ref_parse(argv[optind], &id) < 0)
                return PROFCTL_EXIT_USAGE;
        r = profctl_connect(&bus);
        if (r < 0)
                return PROFCTL_EXIT_FAILURE;

        for (size_t i = 0; i < o.n_supporters; i++) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;

                r = sd_bus_message_new_method_call(bus, &m, arg_address ? NULL : PROFD_BUS_NAME, PROFD_BUS_PATH,
                                                   PROFD_BUS_MANAGER_INTERFACE, "AddSupporter");
                if (r >= 0)
                        r = sd_bus_message_append(m, "s", id);
                if (r >= 0)
                        r = bus_message_append_supporter_spec(m, &o.supporters[i]);
                if (r < 0) {
                        log_error_errno(r, "Failed to build the request: %m");
                        return PROFCTL_EXIT_FAILURE;
                }
                r = sd_bus_call(bus, m, 0, &error, &reply);
                if (r < 0) {
                        log_bus_error(bus, &error, r, id, "add the supporter");
                        return PROFCTL_EXIT_FAILURE;
                }
        }
        return EXIT_SUCCESS;
}
