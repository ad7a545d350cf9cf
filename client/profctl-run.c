/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <signal.h>
#include <systemd/sd-event.h>

#include "bus-errors.h"
#include "format.h"
#include "json.h"
#include "log.h"
#include "profctl.h"
#include "profctl-help.h"
#include "spec-bus.h"
#include "spec-options.h"
#include "strv.h"

/* run, start, fg, bg and wait: sessions as shell jobs.
 *
 * Job control, the design decision: the target runs under the daemon, in a process group and a
 * session of its own, so it is never in the terminal's foreground process group and it has no
 * controlling terminal; it reads and writes the terminal fds it was passed freely (no SIGTTIN or
 * SIGTTOU: those are for a controlling terminal). What the user types at the terminal therefore
 * signals profctl, which is the shell's foreground job, and profctl acts on the session:
 *
 *   Ctrl-C (SIGINT)         Stop: the ordered teardown; a second one kills what is left.
 *   SIGTERM, SIGHUP         the same, as for a service: Stop, then wait for the status.
 *   Ctrl-Z (SIGTSTP)        Pause the session, then stop ourselves for real, so that the shell
 *                           sees a stopped job ("[1]+ Stopped"); continued (fg or bg), Resume.
 *   SIGKILL                 nothing to do: BindToCaller makes the daemon stop a session whose
 *                           caller went away.
 *
 * The alternative, handing the terminal's foreground to the target as `profd run` does, cannot
 * work here: the target's process group lives in another session (the daemon's), and a terminal
 * only gives its foreground to groups of its own session. Everything, the bus and the signals, is
 * on one sd-event loop; nothing polls. */

#define DESCRIPTION_WIDTH 80

typedef struct RunOptions {
        SessionSpec *spec;
        SpecOptions spec_options;
        char **setenv;
        const char *cwd;
        const char *description;
        bool detach;
} RunOptions;

static void run_options_done(RunOptions *o) {
        o->spec = session_spec_free(o->spec);
        o->setenv = strv_free(o->setenv);
}

enum {
        ARG_READY = VERB_OPTION_FIRST,
        ARG_PERF,
        ARG_MAX_DURATION,
        ARG_STOP_TIMEOUT,
        ARG_CLAIM,
        ARG_USE,
        ARG_PRIORITY,
        ARG_GROUP,
        ARG_EXCLUSIVE,
        ARG_AFTER,
        ARG_AFTER_SUCCESS,
        ARG_CWD,
        ARG_DETACH,
};

static void run_help(void) {
        print_help_profctl_run(program_invocation_short_name);
}

static void start_help(void) {
        print_help_profctl_start(program_invocation_short_name);
}

/* --perf[=ARGS]: perf record attached to the target; it needs a moment to attach. */
static int add_perf(RunOptions *o, const char *args) {
        _cleanup_(supporter_spec_done) SupporterSpec s = { 0 };
        _cleanup_strv_free_ char **words = NULL, **argv = NULL;
        ShellSplitError e = { 0 };
        size_t n = 0;
        int r;

        r = shell_split(args ? args : "-g", &words, &e);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0) {
                log_shell_split_error("--perf", args, &e);
                return r;
        }
        argv = new0(char *, 1);
        if (!argv)
                return log_oom();
        r = strv_extend(&argv, &n, "perf");
        if (r >= 0)
                r = strv_extend(&argv, &n, "record");
        for (char **w = words; r >= 0 && *w; w++)
                r = strv_extend(&argv, &n, *w);
        if (r >= 0)
                r = strv_extend(&argv, &n, "-o");
        if (r >= 0)
                r = strv_extend(&argv, &n, "perf.data");
        if (r >= 0)
                r = strv_extend(&argv, &n, "-p");
        if (r >= 0)
                r = strv_extend(&argv, &n, "{pid}");
        if (r < 0)
                return log_oom();

        s = (SupporterSpec) {
                .name = strdup("perf"),
                .argv = TAKE_PTR(argv),
                .ready = READY_DELAY,
                .ready_delay = 300 * USEC_PER_MSEC,
        };
        if (!s.name)
                return log_oom();
        return spec_options_add_supporter_spec(&o->spec_options, &s);
}

static int strv_push(char ***l, const char *value) {
        size_t n = strv_length(*l);

        if (!*l) {
                *l = new0(char *, 1);
                if (!*l)
                        return -ENOMEM;
        }
        return strv_extend(l, &n, value);
}

static int run_option(int opt, const char *arg, void *userdata) {
        RunOptions *o = userdata;
        int r;

        switch (opt) {
        case 's':
                return spec_options_add_supporter(&o->spec_options, arg);
        case ARG_READY:
                return spec_options_set_ready(&o->spec_options, arg);
        case ARG_PERF:
                return add_perf(o, arg);
        case ARG_MAX_DURATION:
                return spec_options_parse_duration("--max-duration", arg, &o->spec->max_duration);
        case ARG_STOP_TIMEOUT:
                return spec_options_parse_duration("--stop-timeout", arg, &o->spec->stop_timeout);
        case ARG_CLAIM:
        case ARG_USE:
                if (!resource_name_is_valid(arg))
                        return log_error_errno(EINVAL, "Invalid --%s '%s': expected a name of printable characters, "
                                               "without blanks, at most %d bytes.",
                                               opt == ARG_CLAIM ? "claim" : "use", arg, SPEC_NAME_MAX);
                r = strv_push(opt == ARG_CLAIM ? &o->spec->claims : &o->spec->uses, arg);
                return r < 0 ? log_oom() : 0;
        case ARG_PRIORITY: {
                char *end;
                long v;

                errno = 0;
                v = strtol(arg, &end, 10);
                if (errno != 0 || !*arg || *end || v < SPEC_PRIORITY_MIN || v > SPEC_PRIORITY_MAX)
                        return log_error_errno(EINVAL, "Invalid --priority '%s': expected an integer from %d to %d "
                                               "(lower runs first).", arg, SPEC_PRIORITY_MIN, SPEC_PRIORITY_MAX);
                o->spec->priority = (int) v;
                return 0;
        }
        case ARG_GROUP: {
                char *copy;

                if (!resource_name_is_valid(arg))
                        return log_error_errno(EINVAL, "Invalid --group '%s': expected a name of printable characters, "
                                               "without blanks, at most %d bytes.", arg, SPEC_NAME_MAX);
                copy = strdup(arg);
                if (!copy)
                        return log_oom();
                free(o->spec->group);
                o->spec->group = copy;
                return 0;
        }
        case ARG_EXCLUSIVE:
                o->spec->group_exclusive = true;
                return 0;
        case ARG_AFTER:
        case ARG_AFTER_SUCCESS: {
                bool success = opt == ARG_AFTER_SUCCESS;
                const char *option = success ? "--after-success" : "--after", *id = session_ref_to_id(arg);

                /* One list with one meaning, as the daemon takes it: AfterSuccess waits as After does. */
                if (o->spec->after && o->spec->after_success != success)
                        return log_error_errno(EINVAL, "Invalid %s '%s': --after and --after-success exclude each "
                                               "other (--after-success waits as --after does, and then needs the "
                                               "sessions to have succeeded); give every ID with one of them.",
                                               option, arg);
                if (!session_id_is_valid(id))
                        return log_error_errno(EINVAL, "Invalid %s '%s': expected a session id such as 3 or %%3, "
                                               "one per option.", option, arg);
                r = strv_push(&o->spec->after, id);
                if (r < 0)
                        return log_oom();
                o->spec->after_success = success;
                return 0;
        }
        case 'd':
                o->description = arg;
                return 0;
        case 'E':
                if (arg[0] == '=' || arg[0] == '\0')
                        return log_error_errno(EINVAL, "Invalid --setenv '%s': expected VAR=VALUE.", arg);
                r = strv_push(&o->setenv, arg);
                return r < 0 ? log_oom() : 0;
        case ARG_CWD:
                o->cwd = arg;
                return 0;
        case ARG_DETACH:
                o->detach = true;
                return 0;
        default:
                return log_error_errno(EINVAL, "Unhandled option %d.", opt);
        }
}

/* NAME=VALUE into `env`, replacing an earlier NAME; a bare NAME takes our own value, as
 * systemd-run's --setenv does. */
static int environment_set(char ***env, const char *assignment) {
        _cleanup_free_ char *entry = NULL;
        const char *eq = strchr(assignment, '=');
        size_t name_len = eq ? (size_t) (eq - assignment) : strlen(assignment);
        size_t n = strv_length(*env);

        if (eq)
                entry = strdup(assignment);
        else {
                const char *v = getenv(assignment);

                if (!v)
                        return 0;
                if (asprintf(&entry, "%s=%s", assignment, v) < 0)
                        entry = NULL;
        }
        if (!entry)
                return -ENOMEM;
        for (char **e = *env; e && *e; e++)
                if (strncmp(*e, entry, name_len + 1) == 0) {
                        free(*e);
                        *e = TAKE_PTR(entry);
                        return 0;
                }
        if (!*env) {
                *env = new0(char *, 1);
                if (!*env)
                        return -ENOMEM;
        }
        return strv_consume(env, &n, TAKE_PTR(entry));
}

/* The spec of run and start: the command with our environment and directory, as a shell would
 * run it. Over -H/-M neither means anything on the other machine: only what was asked for. */
static int run_parse(int argc, char *argv[], bool run, RunOptions *o) {
        static const struct option run_options[] = {
                { "supporter",     required_argument, NULL, 's'               },
                { "ready",         required_argument, NULL, ARG_READY         },
                { "perf",          optional_argument, NULL, ARG_PERF          },
                { "max-duration",  required_argument, NULL, ARG_MAX_DURATION  },
                { "stop-timeout",  required_argument, NULL, ARG_STOP_TIMEOUT  },
                { "claim",         required_argument, NULL, ARG_CLAIM         },
                { "use",           required_argument, NULL, ARG_USE           },
                { "priority",      required_argument, NULL, ARG_PRIORITY      },
                { "group",         required_argument, NULL, ARG_GROUP         },
                { "exclusive",     no_argument,       NULL, ARG_EXCLUSIVE     },
                { "after",         required_argument, NULL, ARG_AFTER         },
                { "after-success", required_argument, NULL, ARG_AFTER_SUCCESS },
                { "description",   required_argument, NULL, 'd'               },
                { "setenv",        required_argument, NULL, 'E'               },
                { "cwd",           required_argument, NULL, ARG_CWD           },
                { "detach",        no_argument,       NULL, ARG_DETACH        },
                { NULL, 0, NULL, 0 }
        };
        /* start has no --detach: it never binds the session to itself. */
        struct option start_options[ELEMENTSOF(run_options) - 1];
        const char *message;
        int r;

        memcpy(start_options, run_options, sizeof(start_options));
        start_options[ELEMENTSOF(start_options) - 1] = (struct option) { 0 };

        r = session_spec_new(&o->spec);
        if (r < 0)
                return log_oom();
        o->spec_options = (SpecOptions) { .spec = o->spec };

        /* '+': the options end at the command, which has options of its own. */
        r = verb_parse_options(argc, argv, "+s:d:E:", run ? run_options : start_options, run_option, o,
                               run ? run_help : start_help);
        if (r <= 0)
                return r;
        if (optind >= argc)
                return log_error_errno(EINVAL, "No command given: profctl %s [OPTIONS] -- CMD [ARGS...]", argv[0]);
        if (o->spec->group_exclusive && !o->spec->group)
                return log_error_errno(EINVAL, "--exclusive needs --group=NAME: it makes the session run alone "
                                       "among the sessions of its group.");
        r = strv_copy(argv + optind, &o->spec->target);
        if (r < 0)
                return log_oom();

        if (!profctl_is_remote()) {
                /* Entries without '=' can be in environ (execve() takes anything); the daemon
                 * refuses them, and they mean nothing. */
                for (char **e = environ; e && *e; e++)
                        if (strchr(*e, '=') && **e != '=') {
                                r = strv_push(&o->spec->environment, *e);
                                if (r < 0)
                                        return log_oom();
                        }
        } else if (o->setenv) {
                /* Only what was asked for, with a PATH to find the command by. */
                r = strv_push(&o->spec->environment, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
                if (r < 0)
                        return log_oom();
        }
        for (char **e = o->setenv; e && *e; e++) {
                r = environment_set(&o->spec->environment, *e);
                if (r < 0)
                        return log_oom();
        }

        if (o->cwd && o->cwd[0] == '/')
                o->spec->working_directory = strdup(o->cwd);
        else if (o->cwd && profctl_is_remote())
                return log_error_errno(EINVAL, "Invalid --cwd '%s': expected an absolute path on the remote machine.", o->cwd);
        else if (!profctl_is_remote()) {
                _cleanup_free_ char *here = getcwd(NULL, 0);

                if (!here)
                        log_warning_errno(errno, "Cannot tell the current directory, the session starts in its output directory: %m");
                else if (o->cwd) {
                        if (asprintf(&o->spec->working_directory, "%s/%s", here, o->cwd) < 0)
                                o->spec->working_directory = NULL;
                } else
                        o->spec->working_directory = TAKE_PTR(here);
                if (here && !o->spec->working_directory)
                        return log_oom();
        }
        if (o->cwd && !o->spec->working_directory)
                return log_oom();

        o->spec->description = o->description ? strdup(o->description) :
                               command_line_description(o->spec->target, DESCRIPTION_WIDTH, use_utf8());
        if (!o->spec->description)
                return log_oom();
        o->spec->bind_to_caller = run && !o->detach;

        r = session_spec_validate(o->spec, &message);
        if (r < 0)
                return log_error_errno(r, "%s.", message);
        return 1;
}

/* What a failed StartSession means for the exit status: as a shell says it, 127 for a command that
 * is not there, 126 for one that cannot be executed. */
static int start_error_status(const sd_bus_error *error) {
        if (sd_bus_error_has_name(error, PROFD_ERROR_EXEC_FAILED))
                return error->message && strstr(error->message, "Permission denied") ? 126 : 127;
        if (sd_bus_error_has_name(error, PROFD_ERROR_INVALID_SPEC) && error->message &&
            startswith(error->message, "Target: ") && strstr(error->message, "not found"))
                return 127;
        return PROFCTL_EXIT_FAILURE;
}

/* Why StartSession failed. The daemon names the spec's key; where an option of ours gave it and
 * only the daemon could tell (the sessions of --after that do not exist), the option instead. */
static int log_start_error(sd_bus *bus, const sd_bus_error *error, int r) {
        static const struct {
                const char *key, *option;
        } options[] = {
                { "AfterSuccess: ", "--after-success" },
                { "After: ",        "--after"         },
        };

        if (sd_bus_error_has_name(error, PROFD_ERROR_INVALID_SPEC) && error->message)
                for (size_t i = 0; i < ELEMENTSOF(options); i++) {
                        const char *rest = startswith(error->message, options[i].key);

                        if (rest) {
                                log_error("Invalid %s: %s", options[i].option, rest);
                                return r;
                        }
                }
        return log_bus_error(bus, error, r, NULL, "start the session");
}

static int start_session_message(sd_bus *bus, const SessionSpec *spec, const int stdio[3], sd_bus_message **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, arg_address ? NULL : PROFD_BUS_NAME, PROFD_BUS_PATH,
                                           PROFD_BUS_MANAGER_INTERFACE, "StartSession");
        if (r < 0)
                return r;
        r = bus_message_append_session_spec(m, spec, stdio);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(m);
        return 0;
}

/* What the job verbs read from Status. */
typedef struct StatusFields {
        char *state;
        char *result;
        char *output_directory;
        char *description;
        char *waiting_for;      /* queued: what it waits for */
        int exit_status;
        uint32_t target_pid;
        uint32_t queue_position; /* 0 unless queued */
} StatusFields;

static void status_fields_done(StatusFields *f) {
        free(f->state);
        free(f->result);
        free(f->output_directory);
        free(f->description);
        free(f->waiting_for);
        *f = (StatusFields) { 0 };
}

static int read_string_variant(sd_bus_message *m, char **ret) {
        const char *s;
        char *copy;
        int r;

        r = sd_bus_message_read(m, "v", "s", &s);
        if (r < 0)
                return r;
        copy = strdup(s);
        if (!copy)
                return -ENOMEM;
        free(*ret);
        *ret = copy;
        return 0;
}

/* The answer of Status. Returns -EBADMSG for one without a State. */
static int status_fields_read(sd_bus_message *reply, StatusFields *ret) {
        _cleanup_(status_fields_done) StatusFields f = { .exit_status = -1 };
        const char *key;
        int r;

        r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                r = sd_bus_message_read(reply, "s", &key);
                if (r < 0)
                        break;
                if (streq(key, "State"))
                        r = read_string_variant(reply, &f.state);
                else if (streq(key, "Result"))
                        r = read_string_variant(reply, &f.result);
                else if (streq(key, "OutputDirectory"))
                        r = read_string_variant(reply, &f.output_directory);
                else if (streq(key, "Description"))
                        r = read_string_variant(reply, &f.description);
                else if (streq(key, "ExitStatus"))
                        r = sd_bus_message_read(reply, "v", "i", &f.exit_status);
                else if (streq(key, "TargetPID"))
                        r = sd_bus_message_read(reply, "v", "u", &f.target_pid);
                else if (streq(key, "QueuePosition"))
                        r = sd_bus_message_read(reply, "v", "u", &f.queue_position);
                else if (streq(key, "WaitingFor"))
                        r = read_string_variant(reply, &f.waiting_for);
                else
                        r = sd_bus_message_skip(reply, "v");
                if (r >= 0)
                        r = sd_bus_message_exit_container(reply);
        }
        if (r < 0)
                return r;
        if (!f.state)
                return -EBADMSG;
        *ret = f;
        f = (StatusFields) { 0 };
        return 0;
}

/* Status(id), logging what went wrong (no such session, someone else's). */
static int get_status(sd_bus *bus, const char *id, StatusFields *ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = bus_call_manager(bus, "Status", &error, &reply, "s", id);
        if (r < 0)
                return log_bus_error(bus, &error, r, id, "get the status of the session");
        r = status_fields_read(reply, ret);
        if (r == -ENOMEM)
                return log_oom();
        if (r == -EBADMSG)
                return log_error_errno(r, "The status of session %s has no State.", id);
        if (r < 0)
                return log_error_errno(r, "Failed to parse the status of session %s: %m", id);
        return 0;
}

/* "profctl: session 12 is queued (position 3): claim 'pmu' held by session 9", on stderr. */
static void log_queued(const char *id, const StatusFields *f) {
        char buf[FORMAT_QUEUED_MAX];

        log_info("session %s is %s", id, format_queued(buf, sizeof(buf), f->queue_position, f->waiting_for));
}

static const char *session_path(const char *id, char *buf, size_t size) {
        snprintf(buf, size, PROFD_BUS_SESSION_PREFIX "/%s", id);
        return buf;
}

/* One session a job waits for. */
typedef struct Waited {
        char *id;               /* NULL until StartSession answered */
        char *path;
        bool finished;
        bool paused_by_us;
        int exit_status;
        StatusFields status;
} Waited;

typedef struct Job {
        sd_event *event;
        sd_bus *bus;
        Waited *sessions;
        size_t n_sessions, n_finished;
        bool done;
        bool lost;              /* a session could not be followed to its end */
        int exit_status;
        unsigned n_stop_requests;
        int stdio[3];           /* run: ours, passed on; -EBADF where not */
        sd_event_source *signal_sources[4];     /* SIGINT, SIGTERM, SIGHUP, SIGTSTP */
        sd_bus_slot *state_check;       /* run: the State once StartSession answered */
        sd_bus_slot *queued_check;      /* run: Status, to say what a queued session waits for */
        sd_event_source *comeback_timer; /* profd went: how long we wait for it to come back */
        sd_bus_slot *activation;        /* profd went: a call that starts it again by D-Bus activation */
} Job;

static void job_done(Job *j) {
        sd_bus_slot_unref(j->state_check);
        sd_bus_slot_unref(j->queued_check);
        sd_event_source_disable_unref(j->comeback_timer);
        sd_bus_slot_unref(j->activation);
        for (size_t i = 0; i < j->n_sessions; i++) {
                free(j->sessions[i].id);
                free(j->sessions[i].path);
                status_fields_done(&j->sessions[i].status);
        }
        free(j->sessions);
        for (size_t i = 0; i < ELEMENTSOF(j->signal_sources); i++)
                sd_event_source_disable_unref(j->signal_sources[i]);
        sd_bus_flush_close_unref(j->bus);
        sd_event_unref(j->event);
}

static void job_exit(Job *j, int status) {
        j->done = true;
        j->exit_status = status;
        (void) sd_event_exit(j->event, 0);
}

static Waited *job_find(Job *j, const char *path) {
        for (size_t i = 0; i < j->n_sessions; i++)
                if (j->sessions[i].path && streq(j->sessions[i].path, path))
                        return &j->sessions[i];
        return NULL;
}

static void job_session_finished(Job *j, Waited *w, int exit_status) {
        if (w->finished)
                return;
        w->finished = true;
        w->exit_status = exit_status;
        if (++j->n_finished == j->n_sessions)
                /* The last one named is what wait returns, as bash's wait does. */
                job_exit(j, j->sessions[j->n_sessions - 1].exit_status);
}

/* Reads the session's Status; once it finished, its ExitStatus is final. Called when it says it
 * finished, and when it may have finished before we subscribed (fg, wait). */
static void job_check(Job *j, Waited *w) {
        int r;

        status_fields_done(&w->status);
        r = get_status(j->bus, w->id, &w->status);
        if (r < 0) {
                j->lost = true;
                job_session_finished(j, w, PROFCTL_EXIT_FAILURE);
                return;
        }
        if (streq(w->status.state, "finished"))
                job_session_finished(j, w, w->status.exit_status >= 0 ? w->status.exit_status : PROFCTL_EXIT_FAILURE);
}

static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Job *j = userdata;
        Waited *w = job_find(j, strempty(sd_bus_message_get_path(m)));
        const char *interface, *key, *state;
        int r;

        if (!w || w->finished)
                return 0;
        r = sd_bus_message_read(m, "s", &interface);
        if (r < 0 || !streq(interface, PROFD_BUS_SESSION_INTERFACE))
                return 0;
        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        while (r >= 0 && (r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                r = sd_bus_message_read(m, "s", &key);
                if (r < 0)
                        break;
                if (streq(key, "State")) {
                        r = sd_bus_message_read(m, "v", "s", &state);
                        if (r >= 0 && streq(state, "finished")) {
                                /* ExitStatus is final now: read it. */
                                job_check(j, w);
                                return 0;
                        }
                } else
                        r = sd_bus_message_skip(m, "v");
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
        }
        if (r < 0)
                log_debug_errno(r, "Failed to parse PropertiesChanged, ignoring: %m");
        return 0;
}

static int on_session_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Job *j = userdata;
        const char *id, *path;
        Waited *w;

        if (sd_bus_message_read(m, "so", &id, &path) < 0)
                return 0;
        w = job_find(j, path);
        if (!w || w->finished)
                return 0;
        log_error("session %s was removed before its result could be read.", id);
        j->lost = true;
        job_session_finished(j, w, PROFCTL_EXIT_FAILURE);
        return 0;
}

/* profd went while sessions we follow had not finished. A restart of profd (a package upgrade) or a
 * crash leaves them running, and the next profd adopts them: it comes back by itself (a restart) or
 * when a call asks for it (D-Bus activation, after a crash). So wait for the name, a while. */
#define PROFD_COMEBACK_USEC (60 * USEC_PER_SEC)

static int on_comeback_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Job *j = userdata;

        log_error("profd went away and did not come back within %llu s: the session is lost with it.",
                  (unsigned long long) (PROFD_COMEBACK_USEC / USEC_PER_SEC));
        j->lost = true;
        job_exit(j, PROFCTL_EXIT_FAILURE);
        return 0;
}

static int on_activation_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Job *j = userdata;

        j->activation = sd_bus_slot_unref(j->activation);
        /* Success or not, the name coming back is what we wait for. */
        if (sd_bus_message_is_method_error(m, NULL))
                log_debug("Status, to have profd started again: %s", sd_bus_message_get_error(m)->message);
        return 0;
}

static void job_profd_gone(Job *j) {
        Waited *first = NULL;
        int r;

        for (size_t i = 0; i < j->n_sessions && !first; i++)
                if (j->sessions[i].id && !j->sessions[i].finished)
                        first = &j->sessions[i];
        if (!first || j->comeback_timer)
                return; /* a StartSession in flight gets its error instead */
        r = sd_event_add_time_relative(j->event, &j->comeback_timer, CLOCK_MONOTONIC, PROFD_COMEBACK_USEC, 0,
                                       on_comeback_timeout, j);
        if (r < 0) {
                log_error_errno(r, "profd went away, and we cannot wait for it: %m");
                j->lost = true;
                job_exit(j, PROFCTL_EXIT_FAILURE);
                return;
        }
        log_info("profd went away; waiting for it to come back (the session goes on without it).");
        r = sd_bus_call_method_async(j->bus, &j->activation, PROFD_BUS_NAME, PROFD_BUS_PATH,
                                     PROFD_BUS_MANAGER_INTERFACE, "Status", on_activation_reply, j, "s", first->id);
        if (r < 0)
                log_debug_errno(r, "Cannot ask for profd to be started again, waiting: %m");
}

static void job_profd_back(Job *j) {
        j->comeback_timer = sd_event_source_disable_unref(j->comeback_timer);
        log_info("profd is back.");
        /* Whatever ended meanwhile was said before we subscribed again: read it. */
        for (size_t i = 0; i < j->n_sessions && !j->done; i++)
                if (j->sessions[i].id && !j->sessions[i].finished)
                        job_check(j, &j->sessions[i]);
}

static int on_name_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        const char *name, *old_owner, *new_owner;
        Job *j = userdata;

        if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0 || !streq(name, PROFD_BUS_NAME))
                return 0;
        if (new_owner[0] == '\0')
                job_profd_gone(j);
        else if (j->comeback_timer)
                job_profd_back(j);
        return 0;
}

static int on_disconnected(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        log_error("Lost the connection to profd: the session is gone with it.");
        ((Job *) userdata)->lost = true;
        job_exit(userdata, PROFCTL_EXIT_FAILURE);
        return 0;
}

static int job_add_matches(Job *j) {
        _cleanup_free_ char *match = NULL;
        int r;

        /* Every session's changes, filtered by path here: for run the path is known only once
         * StartSession answers, and by then the session may have changed already. */
        if (asprintf(&match, "type='signal',%sinterface='org.freedesktop.DBus.Properties',member='PropertiesChanged',"
                     "path_namespace='" PROFD_BUS_PATH "',arg0='" PROFD_BUS_SESSION_INTERFACE "'",
                     arg_address ? "" : "sender='" PROFD_BUS_NAME "',") < 0)
                return -ENOMEM;
        r = sd_bus_add_match_async(j->bus, NULL, match, on_properties_changed, NULL, j);
        if (r < 0)
                return r;
        r = bus_match_signal(j->bus, NULL, PROFD_BUS_PATH, PROFD_BUS_MANAGER_INTERFACE, "SessionRemoved",
                             on_session_removed, j);
        if (r < 0)
                return r;
        if (arg_address)
                return sd_bus_match_signal(j->bus, NULL, "org.freedesktop.DBus.Local", "/org/freedesktop/DBus/Local",
                                           "org.freedesktop.DBus.Local", "Disconnected", on_disconnected, j);
        return sd_bus_add_match_async(j->bus, NULL,
                                      "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
                                      "interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='" PROFD_BUS_NAME "'",
                                      on_name_owner_changed, NULL, j);
}

/* A call on the session that may find it in the wrong state: that is no error for a job (Stop of a
 * session that is stopping, Kill when nothing is left, Resume of one never paused). */
static int job_call(Job *j, Waited *w, const char *member, const char *what, const char *types, ...) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        va_list ap;
        int r;

        va_start(ap, types);
        r = sd_bus_call_methodv(j->bus, arg_address ? NULL : PROFD_BUS_NAME, PROFD_BUS_PATH,
                                PROFD_BUS_MANAGER_INTERFACE, member, &error, NULL, types, ap);
        va_end(ap);
        if (r < 0 && sd_bus_error_has_name(&error, PROFD_ERROR_BAD_STATE))
                return log_debug_errno(r, "%s: %s", member, error.message);
        if (r < 0)
                return log_bus_error(j->bus, &error, r, w->id, what);
        return 0;
}

static void job_stop(Job *j, int sig, bool announce) {
        Waited *w = &j->sessions[0];

        j->n_stop_requests++;
        if (!w->id) {
                /* StartSession has not answered: the Stop goes out with its answer. A second
                 * request does not wait: going away is enough, the daemon stops a session whose
                 * caller left (BindToCaller). */
                if (j->n_stop_requests > 1)
                        job_exit(j, 128 + sig);
                else if (!arg_quiet)
                        log_info("stopping the session once it has started (again to give up waiting)");
                return;
        }
        if (w->finished)
                return;
        if (j->n_stop_requests == 1) {
                if (!arg_quiet && announce)
                        log_info(sig == SIGINT ? "stopping session %s (Ctrl-C again to kill)" :
                                                 "stopping session %s (again to kill)", w->id);
                (void) job_call(j, w, "Stop", "stop the session", "s", w->id);
        } else {
                if (!arg_quiet && announce)
                        log_info("killing session %s", w->id);
                (void) job_call(j, w, "Kill", "kill the session", "ssi", w->id, "all", (int32_t) SIGKILL);
        }
}

/* Ctrl-Z: pause the session, then stop for real, so that the shell sees its job stopped and takes
 * the terminal back. SIGTSTP is blocked (it comes through sd-event): raise it again and let it
 * through with its default action. We get here again only once continued, by fg or bg alike; a
 * stop the kernel drops (an orphaned process group has nobody to continue it) continues at once. */
static void job_suspend(Job *j) {
        Waited *w = &j->sessions[0];
        sigset_t tstp;

        if (w->id && !w->finished && job_call(j, w, "Pause", "pause the session", "s", w->id) >= 0)
                w->paused_by_us = true;

        sigemptyset(&tstp);
        sigaddset(&tstp, SIGTSTP);
        (void) raise(SIGTSTP);
        (void) sigprocmask(SIG_UNBLOCK, &tstp, NULL);
        (void) sigprocmask(SIG_BLOCK, &tstp, NULL);

        if (w->paused_by_us && !w->finished) {
                w->paused_by_us = false;
                (void) job_call(j, w, "Resume", "resume the session", "s", w->id);
        }
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Job *j = userdata;

        if (si->ssi_signo == SIGTSTP)
                job_suspend(j);
        else
                job_stop(j, (int) si->ssi_signo, true);
        return 0;
}

static int job_new(Job *j, size_t n_sessions, bool foreground) {
        static const int signals[] = { SIGINT, SIGTERM, SIGHUP, SIGTSTP };
        int r;

        *j = (Job) { .stdio = { -EBADF, -EBADF, -EBADF } };
        j->sessions = new0(Waited, n_sessions);
        if (!j->sessions)
                return log_oom();
        j->n_sessions = n_sessions;

        r = sd_event_new(&j->event);
        if (r < 0)
                return log_error_errno(r, "Failed to allocate an event loop: %m");
        if (foreground) {
                sigset_t mask;

                /* Blocked first, then read through signalfd on the loop. */
                sigemptyset(&mask);
                for (size_t i = 0; i < ELEMENTSOF(signals); i++)
                        sigaddset(&mask, signals[i]);
                if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                        return log_error_errno(errno, "Failed to block signals: %m");
                for (size_t i = 0; i < ELEMENTSOF(signals); i++) {
                        r = sd_event_add_signal(j->event, &j->signal_sources[i], signals[i], on_signal, j);
                        if (r < 0)
                                return log_error_errno(r, "Failed to watch signals: %m");
                }
                /* In the background after bg, a write to the terminal must not stop us. */
                (void) signal(SIGTTOU, SIG_IGN);
        }

        r = profctl_connect(&j->bus);
        if (r < 0)
                return r;
        r = sd_bus_attach_event(j->bus, j->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Failed to attach the bus to the event loop: %m");
        r = job_add_matches(j);
        if (r < 0)
                return log_error_errno(r, "Failed to subscribe to session changes: %m");
        return 0;
}

static int job_set_session(Job *j, Waited *w, const char *id, const char *path) {
        char buf[256];

        w->id = strdup(id);
        w->path = strdup(path ? path : session_path(id, buf, sizeof(buf)));
        return w->id && w->path ? 0 : log_oom();
}

static int job_loop(Job *j) {
        int r;

        if (!j->done) {
                r = sd_event_loop(j->event);
                if (r < 0)
                        log_error_errno(r, "Event loop failed: %m");
        }
        if (!j->done)
                j->lost = true;
        return j->done ? j->exit_status : PROFCTL_EXIT_FAILURE;
}

static void job_print_summary(Job *j) {
        Waited *w = &j->sessions[0];

        if (!w->status.result)
                return; /* its status could not be read: said already */
        if (arg_json) {
                fputs("{\"id\":", stdout);
                json_write_string(stdout, strempty(w->id));
                fputs(",\"path\":", stdout);
                json_write_string(stdout, strempty(w->path));
                fputs(",\"result\":", stdout);
                json_write_string(stdout, strempty(w->status.result));
                fprintf(stdout, ",\"exit_status\":%d,\"output_directory\":", j->exit_status);
                json_write_string(stdout, strempty(w->status.output_directory));
                fputs("}\n", stdout);
                fflush(stdout);
        }
        if (arg_quiet)
                return;
        if (w->status.target_pid == 0)
                /* Stopped while queued, or a dependency that failed: the exit status is made up. */
                log_info("session %s finished without running (%s); output in %s", w->id, w->status.result,
                         strempty(w->status.output_directory));
        else
                log_info("session %s finished (%s, exit status %d); output in %s", w->id, w->status.result,
                         j->exit_status, strempty(w->status.output_directory));
}

/* What a queued session waits for, once: it is no error not to know. */
static int on_queued_check(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        _cleanup_(status_fields_done) StatusFields f = { 0 };
        Job *j = userdata;
        Waited *w = &j->sessions[0];
        int r;

        j->queued_check = sd_bus_slot_unref(j->queued_check);
        if (sd_bus_message_is_method_error(m, NULL)) {
                log_debug("Status of session %s: %s", w->id, strempty(sd_bus_message_get_error(m)->message));
                return 0;
        }
        r = status_fields_read(m, &f);
        if (r < 0) {
                log_debug_errno(r, "Failed to parse the status of session %s, ignoring: %m", w->id);
                return 0;
        }
        if (streq(f.state, "queued") && !w->finished)
                log_queued(w->id, &f);
        return 0;
}

/* StartSession answers once the target executed, at once for a session that has to wait its turn,
 * and also for one that never will run (a dependency failed already): that one finished before
 * any signal could say so. So the State once, as for any client of the API: a queued session is
 * said, a finished one read. */
static int on_state_check(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Job *j = userdata;
        Waited *w = &j->sessions[0];
        const char *state;
        int r;

        j->state_check = sd_bus_slot_unref(j->state_check);
        if (w->finished)
                return 0;
        if (sd_bus_message_is_method_error(m, NULL)) {
                /* Gone from the bus already: its record says how it ended. */
                job_check(j, w);
                return 0;
        }
        r = sd_bus_message_read(m, "v", "s", &state);
        if (r < 0) {
                log_debug_errno(r, "Failed to parse the State of session %s, ignoring: %m", w->id);
                return 0;
        }
        if (streq(state, "finished"))
                job_check(j, w);
        else if (streq(state, "queued") && !arg_quiet) {
                r = sd_bus_call_method_async(j->bus, &j->queued_check, arg_address ? NULL : PROFD_BUS_NAME,
                                             PROFD_BUS_PATH, PROFD_BUS_MANAGER_INTERFACE, "Status",
                                             on_queued_check, j, "s", w->id);
                if (r < 0)
                        log_debug_errno(r, "Failed to ask for the status of session %s, ignoring: %m", w->id);
        }
        return 0;
}

static int on_start_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Job *j = userdata;
        Waited *w = &j->sessions[0];
        const sd_bus_error *error = sd_bus_message_get_error(m);
        const char *id, *path;
        int r;

        if (error) {
                int status = start_error_status(error);

                (void) log_start_error(j->bus, error, -sd_bus_message_get_errno(m));
                job_exit(j, status);
                return 0;
        }
        r = sd_bus_message_read(m, "so", &id, &path);
        if (r < 0) {
                log_error_errno(r, "Failed to parse the answer to StartSession: %m");
                job_exit(j, PROFCTL_EXIT_FAILURE);
                return 0;
        }
        if (job_set_session(j, w, id, path) < 0) {
                job_exit(j, PROFCTL_EXIT_FAILURE);
                return 0;
        }

        /* Our match went out before the call, so no change after the answer can be missed; the
         * state at the answer is read once. Over -H/-M at once, to say where the output goes. */
        if (j->stdio[1] < 0) {
                job_check(j, w);
                if (w->finished)
                        return 0;
                if (!arg_quiet && streq(w->status.state, "queued"))
                        log_queued(w->id, &w->status);
                if (!arg_quiet && w->status.output_directory)
                        log_info("the output of session %s goes to %s (no terminal over -H/-M)", id,
                                 w->status.output_directory);
        } else {
                /* Asynchronously: nothing waits for it, the target is running already in the usual case. */
                r = sd_bus_call_method_async(j->bus, &j->state_check, arg_address ? NULL : PROFD_BUS_NAME,
                                             w->path, "org.freedesktop.DBus.Properties", "Get", on_state_check,
                                             j, "ss", PROFD_BUS_SESSION_INTERFACE, "State");
                if (r < 0) {
                        log_error_errno(r, "Failed to read the state of session %s: %m", w->id);
                        job_exit(j, PROFCTL_EXIT_FAILURE);
                        return 0;
                }
        }

        /* Ctrl-C before the answer (only one: a second one made us leave): act on it now. */
        if (j->n_stop_requests > 0) {
                j->n_stop_requests = 0;
                job_stop(j, SIGINT, false);
        }
        return 0;
}

static bool fd_is_open(int fd) {
        return fcntl(fd, F_GETFD) >= 0;
}

int verb_run(int argc, char *argv[]) {
        _cleanup_(run_options_done) RunOptions o = { 0 };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(job_done) Job j = { 0 };
        int r;

        r = run_parse(argc, argv, true, &o);
        if (r <= 0)
                return r < 0 ? PROFCTL_EXIT_USAGE : EXIT_SUCCESS;

        r = job_new(&j, 1, true);
        if (r < 0)
                return PROFCTL_EXIT_FAILURE;

        /* Our stdin, stdout and stderr are the target's, where fds can travel: not over ssh (-H)
         * nor into a container (-M); there the output goes to the output directory. */
        if (!profctl_is_remote() && sd_bus_can_send(j.bus, SD_BUS_TYPE_UNIX_FD) > 0)
                for (int fd = 0; fd < 3; fd++)
                        j.stdio[fd] = fd_is_open(fd) ? fd : -EBADF;
        /* Started in the background (&): the terminal stops a background job that reads it, but
         * the target has no controlling terminal to be stopped by. Rather than let it steal the
         * shell's input, it reads /dev/null. */
        if (j.stdio[0] >= 0 && isatty(STDIN_FILENO) && tcgetpgrp(STDIN_FILENO) != getpgrp())
                j.stdio[0] = -EBADF;

        r = start_session_message(j.bus, o.spec, j.stdio, &m);
        if (r < 0) {
                log_error_errno(r, "Failed to build the request: %m");
                return PROFCTL_EXIT_FAILURE;
        }
        /* No timeout: StartSession answers once the target runs, after every supporter is ready,
         * and a notify supporter may take its time. Ctrl-C still works meanwhile. */
        r = sd_bus_call_async(j.bus, NULL, m, on_start_reply, &j, UINT64_MAX);
        if (r < 0) {
                log_error_errno(r, "Failed to start the session: %m");
                return PROFCTL_EXIT_FAILURE;
        }

        r = job_loop(&j);
        if (j.sessions[0].finished)
                job_print_summary(&j);
        return r;
}

int verb_start(int argc, char *argv[]) {
        _cleanup_(run_options_done) RunOptions o = { 0 };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(status_fields_done) StatusFields status = { 0 };
        const char *id, *path;
        bool queued;
        int r;

        r = run_parse(argc, argv, false, &o);
        if (r <= 0)
                return r < 0 ? PROFCTL_EXIT_USAGE : EXIT_SUCCESS;
        r = profctl_connect(&bus);
        if (r < 0)
                return PROFCTL_EXIT_FAILURE;

        r = start_session_message(bus, o.spec, NULL, &m);
        if (r < 0) {
                log_error_errno(r, "Failed to build the request: %m");
                return PROFCTL_EXIT_FAILURE;
        }
        r = sd_bus_call(bus, m, UINT64_MAX, &error, &reply);
        if (r < 0) {
                log_start_error(bus, &error, r);
                return PROFCTL_EXIT_FAILURE;
        }
        r = sd_bus_message_read(reply, "so", &id, &path);
        if (r < 0) {
                log_error_errno(r, "Failed to parse the answer to StartSession: %m");
                return PROFCTL_EXIT_FAILURE;
        }
        r = get_status(bus, id, &status);
        if (r < 0)
                return PROFCTL_EXIT_FAILURE;

        queued = streq(status.state, "queued");
        if (arg_json) {
                fputs("{\"id\":", stdout);
                json_write_string(stdout, id);
                if (status.target_pid > 0)
                        fprintf(stdout, ",\"pid\":%" PRIu32, status.target_pid);
                else
                        fputs(",\"pid\":null", stdout);
                fputs(",\"path\":", stdout);
                json_write_string(stdout, path);
                fputs(",\"output_directory\":", stdout);
                json_write_string(stdout, strempty(status.output_directory));
                fputs(",\"state\":", stdout);
                json_write_string(stdout, status.state);
                fprintf(stdout, ",\"queue_position\":%" PRIu32 ",\"waiting_for\":", status.queue_position);
                json_write_string(stdout, strempty(status.waiting_for));
                fputs("}\n", stdout);
                return EXIT_SUCCESS;
        }
        /* As bash says it of a background job. Without a pid yet (queued) or ever (a dependency
         * failed), the state instead. */
        if (status.target_pid > 0)
                printf("[%s] %" PRIu32 "\n", id, status.target_pid);
        else
                printf("[%s] %s\n", id, status.state);
        if (!arg_quiet) {
                printf("Output: %s\n", strempty(status.output_directory));
                fflush(stdout);
                if (queued)
                        log_queued(id, &status);
                else if (streq(status.state, "finished") && status.target_pid == 0)
                        log_info("session %s finished without running (%s).", id, strempty(status.result));
        }
        return EXIT_SUCCESS;
}

static void fg_help(void) {
        print_help_profctl_fg(program_invocation_short_name);
}

static void bg_help(void) {
        print_help_profctl_bg(program_invocation_short_name);
}

static void wait_help(void) {
        print_help_profctl_wait(program_invocation_short_name);
}

/* The session of fg and bg: the one given, or the current one. */
static int fg_bg_session(sd_bus *bus, int argc, char *argv[], char **ret_id) {
        const char *id;
        int r;

        if (argc - optind > 1)
                return log_error_errno(EINVAL, "Too many arguments: profctl %s [ID]", argv[0]);
        if (argc - optind == 0)
                return current_session(bus, ret_id);
        r = session_ref_parse(argv[optind], &id);
        if (r < 0)
                return r;
        *ret_id = strdup(id);
        return *ret_id ? 0 : log_oom();
}

int verb_fg(int argc, char *argv[]) {
        _cleanup_(job_done) Job j = { 0 };
        _cleanup_free_ char *id = NULL;
        Waited *w;
        int r;

        r = verb_parse_options(argc, argv, NULL, NULL, NULL, NULL, fg_help);
        if (r <= 0)
                return r < 0 ? PROFCTL_EXIT_USAGE : EXIT_SUCCESS;
        r = job_new(&j, 1, true);
        if (r < 0)
                return PROFCTL_EXIT_FAILURE;
        r = fg_bg_session(j.bus, argc, argv, &id);
        if (r < 0)
                return r == -EINVAL ? PROFCTL_EXIT_USAGE : PROFCTL_EXIT_FAILURE;
        w = &j.sessions[0];
        r = job_set_session(&j, w, id, NULL);
        if (r < 0)
                return PROFCTL_EXIT_FAILURE;

        job_check(&j, w);
        if (!w->finished) {
                if (!arg_quiet) {
                        /* As bash's fg says which job it brought back. */
                        printf("%s\n", strempty(w->status.description));
                        fflush(stdout);
                        if (streq(w->status.state, "queued"))
                                log_queued(w->id, &w->status);
                }
                if (streq(w->status.state, "paused"))
                        (void) job_call(&j, w, "Resume", "resume the session", "s", w->id);
        }
        r = job_loop(&j);
        if (w->finished)
                job_print_summary(&j);
        return r;
}

int verb_bg(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(status_fields_done) StatusFields status = { 0 };
        _cleanup_free_ char *id = NULL;
        int r;

        r = verb_parse_options(argc, argv, NULL, NULL, NULL, NULL, bg_help);
        if (r <= 0)
                return r < 0 ? PROFCTL_EXIT_USAGE : EXIT_SUCCESS;
        r = profctl_connect(&bus);
        if (r < 0)
                return PROFCTL_EXIT_FAILURE;
        r = fg_bg_session(bus, argc, argv, &id);
        if (r < 0)
                return r == -EINVAL ? PROFCTL_EXIT_USAGE : PROFCTL_EXIT_FAILURE;
        r = get_status(bus, id, &status);
        if (r < 0)
                return PROFCTL_EXIT_FAILURE;

        if (streq(status.state, "finished")) {
                log_error_errno(EINVAL, "session %s has finished.", id);
                return PROFCTL_EXIT_FAILURE;
        }
        if (!streq(status.state, "paused")) {
                /* As bash's bg of a job that runs: said, and no failure. */
                if (!arg_quiet)
                        log_info("session %s is %s already.", id, status.state);
                return EXIT_SUCCESS;
        }
        r = bus_call_manager(bus, "Resume", &error, NULL, "s", id);
        if (r < 0) {
                log_bus_error(bus, &error, r, id, "resume the session");
                return PROFCTL_EXIT_FAILURE;
        }
        if (!arg_quiet)
                printf("[%s] %s &\n", id, strempty(status.description));
        return EXIT_SUCCESS;
}

int wait_sessions(char * const *ids, size_t n, bool *ret_lost) {
        _cleanup_(job_done) Job j = { 0 };
        int r;

        if (ret_lost)
                *ret_lost = true;
        /* Not a foreground job: Ctrl-C ends the waiting, as it ends the shell's wait, and leaves
         * the sessions alone. */
        r = job_new(&j, n, false);
        if (r < 0)
                return PROFCTL_EXIT_FAILURE;
        for (size_t i = 0; i < n; i++) {
                r = job_set_session(&j, &j.sessions[i], ids[i], NULL);
                if (r < 0)
                        return PROFCTL_EXIT_FAILURE;
        }
        for (size_t i = 0; i < n && !j.done; i++)
                job_check(&j, &j.sessions[i]);
        r = job_loop(&j);
        if (ret_lost)
                *ret_lost = j.lost;
        return r;
}

int verb_wait(int argc, char *argv[]) {
        _cleanup_strv_free_ char **ids = NULL;
        size_t n = 0;
        int r;

        r = verb_parse_options(argc, argv, NULL, NULL, NULL, NULL, wait_help);
        if (r <= 0)
                return r < 0 ? PROFCTL_EXIT_USAGE : EXIT_SUCCESS;
        if (optind >= argc) {
                log_error("No session given: profctl wait ID...");
                return PROFCTL_EXIT_USAGE;
        }
        for (int i = optind; i < argc; i++) {
                const char *id;

                if (session_ref_parse(argv[i], &id) < 0)
                        return PROFCTL_EXIT_USAGE;
                if (strv_extend(&ids, &n, id) < 0) {
                        log_oom();
                        return PROFCTL_EXIT_FAILURE;
                }
        }
        return wait_sessions(ids, n, NULL);
}
