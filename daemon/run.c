/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <termios.h>

#include "config.h"
#include "executor.h"
#include "json.h"
#include "log.h"
#include "profd-help.h"
#include "run.h"
#include "spec-options.h"
#include "strv.h"

/* `profd run`: one session in this process, no bus. It is what a container runs as PID 1, so it
 * behaves as tini and dumb-init do: the exit status is the target's, signals are forwarded, and
 * every zombie is reaped. */

typedef struct RunContext {
        sd_event *event;
        sd_event_source *signal_source;
        Executor *executor;
        Session *session;
        unsigned n_stop_signals;
        bool quiet;
        FILE *json;
} RunContext;

/* Signals that start the ordered teardown; a second one skips the grace. */
static const int stop_signals[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT };

/* Everything else that a process can be sent and that is not about this process itself (faults,
 * SIGCHLD, job control of the terminal) goes on to the target, as tini does. */
static const int forward_signals[] = {
        SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT, SIGALRM, SIGVTALRM, SIGPROF, SIGPWR, SIGURG, SIGIO,
        SIGXCPU, SIGXFSZ, SIGTSTP, SIGSTKFLT,
};

static void help(void) {
        print_help_profd_run(program_invocation_short_name);
}

static int parse_argv(int argc, char *argv[], SessionSpec *spec, RunContext *c, const char **ret_json_path) {
        enum {
                ARG_READY = 0x100,
                ARG_STOP_TIMEOUT,
                ARG_MAX_DURATION,
                ARG_JSON,
                ARG_VERSION,
        };
        static const struct option options[] = {
                { "supporter",    required_argument, NULL, 's'              },
                { "ready",        required_argument, NULL, ARG_READY        },
                { "stop-timeout", required_argument, NULL, ARG_STOP_TIMEOUT },
                { "max-duration", required_argument, NULL, ARG_MAX_DURATION },
                { "json",         optional_argument, NULL, ARG_JSON         },
                { "quiet",        no_argument,       NULL, 'q'              },
                { "help",         no_argument,       NULL, 'h'              },
                { "version",      no_argument,       NULL, ARG_VERSION      },
                { 0 }
        };
        SpecOptions o = { .spec = spec };
        int opt, r;

        /* '+': options end at the target, which may have options of its own. */
        while ((opt = getopt_long(argc, argv, "+s:qh", options, NULL)) >= 0)
                switch (opt) {
                case 's':
                        r = spec_options_add_supporter(&o, optarg);
                        if (r < 0)
                                return r;
                        break;
                case ARG_READY:
                        r = spec_options_set_ready(&o, optarg);
                        if (r < 0)
                                return r;
                        break;
                case ARG_STOP_TIMEOUT:
                        r = spec_options_parse_duration("--stop-timeout", optarg, &spec->stop_timeout);
                        if (r < 0)
                                return r;
                        break;
                case ARG_MAX_DURATION:
                        r = spec_options_parse_duration("--max-duration", optarg, &spec->max_duration);
                        if (r < 0)
                                return r;
                        break;
                case ARG_JSON:
                        *ret_json_path = optarg ? optarg : "-";
                        break;
                case 'q':
                        c->quiet = true;
                        break;
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("profd %s\n", PACKAGE_VERSION);
                        return 0;
                case '?':
                        return -EINVAL; /* getopt said what */
                default:
                        return log_error_errno(EINVAL, "Unhandled option %d.", opt);
                }

        if (optind >= argc)
                return log_error_errno(EINVAL, "No target given: profd run [OPTIONS] -- TARGET [ARGS...]");
        r = strv_copy(argv + optind, &spec->target);
        if (r < 0)
                return log_oom();
        return 1;
}

static int block_signals(sigset_t *ret_mask) {
        sigset_t mask;

        sigemptyset(&mask);
        for (size_t i = 0; i < ELEMENTSOF(stop_signals); i++)
                sigaddset(&mask, stop_signals[i]);
        for (size_t i = 0; i < ELEMENTSOF(forward_signals); i++)
                sigaddset(&mask, forward_signals[i]);
        for (int sig = SIGRTMIN; sig <= SIGRTMAX; sig++)
                sigaddset(&mask, sig);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return negative_errno();

        /* Never stopped by the terminal ourselves, and never killed by writing to a closed pipe.
         * Children start with default dispositions again. */
        (void) signal(SIGTTIN, SIG_IGN);
        (void) signal(SIGTTOU, SIG_IGN);
        (void) signal(SIGPIPE, SIG_IGN);

        *ret_mask = mask;
        return 0;
}

static void handle_signal(RunContext *c, int sig) {
        bool stop = false;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(stop_signals); i++)
                stop = stop || sig == stop_signals[i];

        if (!stop) {
                r = executor_forward_signal(c->session, sig);
                if (r == -ESRCH)
                        log_debug("Received SIG%s, but the target is not running: dropped.", signal_abbrev(sig));
                return;
        }

        if (++c->n_stop_signals == 1) {
                if (!c->quiet)
                        log_info("Received SIG%s: stopping supporters, then the target. Again to kill.",
                                 signal_abbrev(sig));
                r = session_dispatch(c->session, &(SessionEvent) { .type = SESSION_EVENT_STOP, .cause = STOP_CAUSE_REQUEST });
        } else {
                if (!c->quiet)
                        log_info("Received SIG%s again: killing what is left.", signal_abbrev(sig));
                r = session_dispatch(c->session, &(SessionEvent) { .type = SESSION_EVENT_ESCALATE });
        }
        if (r < 0 && r != -EBUSY)
                log_warning_errno(r, "Failed to stop the session: %m");
}

static int on_signalfd(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        struct signalfd_siginfo si;
        ssize_t n;

        while ((n = read(fd, &si, sizeof(si))) == sizeof(si))
                handle_signal(userdata, (int) si.ssi_signo);
        if (n < 0 && errno != EAGAIN && errno != EINTR)
                return log_error_errno(errno, "Failed to read signals: %m");
        return 0;
}

/* One signalfd for the ~50 signals we stop on or forward: one sd-event source per signal would cost
 * a signalfd() update each, and this is on the path of every `profd run`. */
static int watch_signals(sd_event *event, const sigset_t *mask, RunContext *c) {
        _cleanup_close_ int fd = -EBADF;
        int r;

        fd = signalfd(-1, mask, SFD_NONBLOCK | SFD_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        r = sd_event_add_io(event, &c->signal_source, fd, EPOLLIN, on_signalfd, c);
        if (r < 0)
                return r;
        (void) sd_event_source_set_io_fd_own(c->signal_source, true);
        TAKE_FD(fd);
        return 0;
}

static void on_session_changed(Session *s, void *userdata) {
        RunContext *c = userdata;

        if (s->state == SESSION_FINISHED)
                (void) sd_event_exit(c->event, 0);
}

static void print_summary(const Session *s) {
        char end[PROCESS_FORMAT_END_MAX], runtime[FORMAT_TIMESPAN_MAX];
        int width = 6;

        for (size_t i = 0; i < s->n_processes; i++)
                width = MAX(width, (int) strlen(s->processes[i]->name));

        log_info("Session finished: %s.", session_result_to_string(s->result));
        for (size_t i = 0; i < s->n_processes; i++) {
                const Process *p = s->processes[i];
                bool ran = p->exec_done && p->state == PROCESS_EXITED;

                fprintf(stderr, "%s:   %-*s  pid %-7d  %-36s %s\n", program_invocation_short_name, width,
                        p->name, (int) p->pid, process_format_end(p, end, sizeof(end)),
                        ran ? format_timespan(runtime, sizeof(runtime), p->exit_usec - p->start_usec) : "-");
        }
}

static void json_write_strv(FILE *f, char * const *l) {
        fputc('[', f);
        for (char * const *i = l; i && *i; i++) {
                if (i != l)
                        fputc(',', f);
                json_write_string(f, *i);
        }
        fputc(']', f);
}

static void write_json(FILE *f, const Session *s) {
        fputs("{\"id\":", f);
        json_write_string(f, s->id);
        fputs(",\"result\":", f);
        json_write_string(f, session_result_to_string(s->result));
        fprintf(f, ",\"exit_status\":%d,\"stop_cause\":", session_exit_status(s));
        json_write_string(f, stop_cause_to_string(s->stop_cause));
        fputs(",\"processes\":[", f);
        for (size_t i = 0; i < s->n_processes; i++) {
                const Process *p = s->processes[i];
                bool ran = p->exec_done && p->state == PROCESS_EXITED;
                char end[PROCESS_FORMAT_END_MAX];

                fputs(i > 0 ? ",{\"name\":" : "{\"name\":", f);
                json_write_string(f, p->name);
                fputs(",\"role\":", f);
                json_write_string(f, process_role_to_string(p->role));
                fputs(",\"argv\":", f);
                json_write_strv(f, p->argv);
                fprintf(f, ",\"pid\":%d,\"state\":", (int) p->pid);
                json_write_string(f, process_state_to_string(p->state));
                if (p->state == PROCESS_EXITED && p->exit_code == CLD_EXITED)
                        fprintf(f, ",\"exit_code\":%d,\"signal\":null", p->exit_status);
                else if (p->state == PROCESS_EXITED) {
                        fputs(",\"exit_code\":null,\"signal\":", f);
                        json_write_string(f, signal_abbrev(p->exit_status));
                } else
                        fputs(",\"exit_code\":null,\"signal\":null", f);
                fputs(",\"exec_error\":", f);
                if (p->exec_error != 0)
                        json_write_string(f, strerror(p->exec_error));
                else
                        fputs("null", f);
                fprintf(f, ",\"failed\":%s,\"killed\":%s,\"ended\":", process_failed(p) ? "true" : "false",
                        p->killed ? "true" : "false");
                json_write_string(f, process_format_end(p, end, sizeof(end)));
                if (ran)
                        fprintf(f, ",\"runtime_usec\":%" PRIu64 "}", p->exit_usec - p->start_usec);
                else
                        fputs(",\"runtime_usec\":null}", f);
        }
        fputs("]}\n", f);
        fflush(f);
}

/* The terminal we are in the foreground of, if any: the target gets it while it runs. */
static int foreground_terminal(void) {
        if (!isatty(STDIN_FILENO))
                return -EBADF;
        if (tcgetpgrp(STDIN_FILENO) != getpgrp())
                return -EBADF;
        return STDIN_FILENO;
}

int verb_run(int argc, char *argv[]) {
        _cleanup_(session_spec_freep) SessionSpec *spec = NULL;
        _cleanup_(executor_freep) Executor *executor = NULL;
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        const char *json_path = NULL, *message;
        RunContext c = { 0 };
        sigset_t mask;
        int r, status;

        r = session_spec_new(&spec);
        if (r < 0)
                return log_oom();
        r = parse_argv(argc, argv, spec, &c, &json_path);
        if (r <= 0)
                return r < 0 ? PROFD_EXIT_USAGE : EXIT_SUCCESS;
        r = session_spec_validate(spec, &message);
        if (r < 0) {
                log_error("%s.", message);
                return PROFD_EXIT_USAGE;
        }

        /* Open the JSON file now: a typo in its path must not cost a whole run. */
        if (json_path && streq(json_path, "-"))
                c.json = stdout;
        else if (json_path) {
                c.json = fopen(json_path, "we");
                if (!c.json) {
                        log_error_errno(errno, "Failed to open JSON output '%s': %m", json_path);
                        return PROFD_EXIT_USAGE;
                }
        }

        /* Orphans of the session come to us, so that they are reaped and their process group's end is
         * seen. PID 1 gets them anyway. */
        if (getpid() != 1 && prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
                r = log_error_errno(errno, "Failed to become a subreaper: %m");
                goto fail;
        }

        r = block_signals(&mask);
        if (r < 0) {
                log_error_errno(r, "Failed to block signals: %m");
                goto fail;
        }
        r = sd_event_new(&event);
        if (r < 0) {
                log_error_errno(r, "Failed to allocate event loop: %m");
                goto fail;
        }
        c.event = event;
        r = watch_signals(event, &mask, &c);
        if (r < 0) {
                log_error_errno(r, "Failed to watch signals: %m");
                goto fail;
        }

        r = executor_new(&executor, event, on_session_changed, &c);
        if (r < 0) {
                log_error_errno(r, "Failed to set up the executor: %m");
                goto fail;
        }
        executor_set_terminal(executor, foreground_terminal());

        /* The working directory is inherited at fork: every process of this session is forked now,
         * before we leave for "/". */
        char id[32];
        snprintf(id, sizeof(id), "run-%d", (int) getpid());
        r = executor_add_session(executor, id, TAKE_PTR(spec), &c.session);
        if (r < 0) {
                log_error_errno(r, "Failed to create the session: %m");
                goto fail;
        }
        executor_adopt_strays(c.session);
        r = session_dispatch(c.session, &(SessionEvent) { .type = SESSION_EVENT_START });
        if (r < 0)
                log_error_errno(r, "Failed to start the session: %m");
        else if (c.session->state != SESSION_FINISHED) {
                /* Do not keep the caller's directory (or its mount) busy. */
                if (chdir("/") < 0)
                        log_debug_errno(errno, "Failed to change to /, ignoring: %m");
                r = sd_event_loop(event);
                if (r < 0)
                        log_error_errno(r, "Event loop failed: %m");
        }

        if (c.session->state != SESSION_FINISHED) {
                /* Only a broken loop gets here: leave nothing behind. */
                for (size_t i = 0; i < c.session->n_processes; i++)
                        if (c.session->processes[i]->pid > 0 && !process_is_gone(c.session->processes[i]))
                                (void) kill(-c.session->processes[i]->pid, SIGKILL);
                status = PROFD_EXIT_FAILURE;
        } else {
                if (!c.quiet)
                        print_summary(c.session);
                if (c.json)
                        write_json(c.json, c.session);
                status = session_exit_status(c.session);
        }

        c.session = executor_remove_session(c.session);
        goto finish;

fail:
        status = PROFD_EXIT_FAILURE;
finish:
        sd_event_source_disable_unref(c.signal_source);
        if (c.json && c.json != stdout)
                fclose(c.json);
        return status;
}
