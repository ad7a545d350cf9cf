/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "macro.h"

/* profctl: the client of org.profd.Profd1. profctl.c has main(), the global options, the verb
 * table, connecting and what the verbs share; each verb group has a file of its own. Verbs return
 * the exit status: 0, PROFCTL_EXIT_FAILURE or PROFCTL_EXIT_USAGE, or the target's status for the
 * verbs that wait (run, fg, wait). */

#define PROFCTL_EXIT_FAILURE 1
#define PROFCTL_EXIT_USAGE 2

/* The global options: before or after the verb, as systemctl takes them. */
extern bool arg_user;
extern const char *arg_address;         /* peer-to-peer: no bus daemon, no destination */
extern const char *arg_host;            /* -H [USER@]HOST */
extern const char *arg_machine;         /* -M MACHINE */
extern bool arg_json;
extern bool arg_no_legend;
extern bool arg_quiet;

/* A verb's own option; it returns < 0 on a usage error after saying what was wrong. */
typedef int (*VerbOptionFn)(int opt, const char *arg, void *userdata);

/* Parses argv[0]'s (the verb's) options, its own and the global ones. `shortopts` starting with
 * '+' ends the options at the first operand (run's command has options of its own). Returns 1 to
 * go on with argv[optind], 0 when --help was shown, < 0 on a usage error (said already). Option
 * values of verbs start at VERB_OPTION_FIRST so as not to clash with the global ones. */
#define VERB_OPTION_FIRST 0x200
int verb_parse_options(int argc, char *argv[], const char *shortopts, const struct option *options,
                       VerbOptionFn f, void *userdata, void (*help)(void));

/* Connects as the global options say; logs why not. */
int profctl_connect(sd_bus **ret);
/* Over -H/-M: the daemon's files and our fds are on different machines. */
bool profctl_is_remote(void);

/* A method of the Manager. `error` is filled in, nothing is logged. */
int bus_call_manager(sd_bus *bus, const char *member, sd_bus_error *error, sd_bus_message **ret_reply,
                     const char *types, ...);
/* org.freedesktop.DBus.Properties.GetAll of a session object, a public read. */
int bus_get_session_properties(sd_bus *bus, const char *path, sd_bus_error *error, sd_bus_message **ret_reply);
int bus_match_signal(sd_bus *bus, sd_bus_slot **ret, const char *path, const char *interface,
                     const char *member, sd_bus_message_handler_t callback, void *userdata);

/* Says in one line what went wrong and what to do, as users of systemctl expect: "profd is not
 * running …", "session 3 belongs to another user …", "no session '9'. Sessions: 3, 4, 7." and
 * the daemon's own messages. `id` is the session the call was about (or NULL), `what` completes
 * "Failed to …" for errors that carry no message. Returns r (negative). */
int log_bus_error(sd_bus *bus, const sd_bus_error *error, int r, const char *id, const char *what);

/* "3", "%3" or an id: the id; logs and returns -EINVAL for an empty one. */
int session_ref_parse(const char *ref, const char **ret_id);

/* A row of ListSessions, and what the session object adds; or a row of ListRecords. */
typedef struct SessionInfo {
        char *id;
        char *state;
        uint32_t owner_uid;
        uint32_t pid;
        char *description;
        char *path;             /* NULL: a record only, no longer on the bus */
        char *result;           /* with properties only */
        uint64_t created_usec;  /* CLOCK_REALTIME; with properties only */
        uint64_t finished_usec; /* CLOCK_REALTIME, 0 until finished; with properties only */
        uint32_t queue_position; /* list: 0 unless queued */
        char *waiting_for;      /* list: what a queued session waits for; NULL: not known */
} SessionInfo;

/* Every session the daemon has on the bus, ordered by id; with `properties`, Result and the
 * timestamps too (sessions that went away meanwhile are left out). Logs on failure. */
int list_sessions(sd_bus *bus, bool properties, SessionInfo **ret, size_t *ret_n);
void session_infos_free(SessionInfo *l, size_t n);
/* By id, as session_id_compare() orders them: for qsort(). */
int compare_session_info(const void *a, const void *b);

/* The most recent unfinished session of ours, as bash's "current job" for fg and bg without an
 * id. Logs and returns -ESRCH if there is none. */
int current_session(sd_bus *bus, char **ret_id);

/* Waits until every session in `ids` finished (run.c). Returns the exit status of the last one,
 * or PROFCTL_EXIT_FAILURE when one could not be waited for or its exit status is not known (it
 * ended while profd was restarted); *ret_lost (if not NULL) tells the two apart: true when one
 * could not be followed to its end. Signals keep their default effect. */
int wait_sessions(char * const *ids, size_t n, bool *ret_lost);

/* Terminal: colours only on a terminal and without $NO_COLOR; "●" and "…" only with UTF-8. */
bool use_colors(void);
bool use_utf8(void);
/* Columns of the terminal on stdout, $COLUMNS, or SIZE_MAX (no limit) in a pipe. */
size_t terminal_columns(void);
#define ANSI_RED "\033[0;31m"
#define ANSI_GREEN "\033[0;32m"
#define ANSI_YELLOW "\033[0;33m"
#define ANSI_GREY "\033[0;38;5;245m"
#define ANSI_BOLD "\033[1m"
#define ANSI_HEADER "\033[1;4m"
static inline const char *ansi(const char *color) {
        return use_colors() ? color : NULL;
}

/* The user name of `uid`, or the number; numbers only over -H/-M, where our user database is not
 * the daemon's. */
const char *owner_name(uid_t uid, char *buf, size_t size);

int verb_run(int argc, char *argv[]);
int verb_start(int argc, char *argv[]);
int verb_fg(int argc, char *argv[]);
int verb_bg(int argc, char *argv[]);
int verb_wait(int argc, char *argv[]);
int verb_list(int argc, char *argv[]);
int verb_status(int argc, char *argv[]);
int verb_stop(int argc, char *argv[]);
int verb_kill(int argc, char *argv[]);
int verb_pause(int argc, char *argv[]);
int verb_resume(int argc, char *argv[]);
int verb_attach(int argc, char *argv[]);
int verb_forget(int argc, char *argv[]);
