/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "macro.h"
#include "shell-split.h"
#include "time-util.h"

/* What a session is asked to run, as decoded from a command line or (later) a D-Bus spec. Pure
 * data: validation lives here so that every front end rejects the same things the same way. */

#define SPEC_SUPPORTERS_MAX 64
#define SPEC_ARGV_MAX 4096                 /* words in one argv */
#define SPEC_ARGV_BYTES_MAX (1024 * 1024)  /* bytes of one argv, terminators included */
#define SPEC_NAME_MAX 32                   /* bytes of a supporter or resource name */
#define SPEC_NAMES_MAX 64                  /* names in Claims, Uses, After, Requires, Provides */
#define SPEC_ENVIRONMENT_MAX 16384         /* entries of Environment */
#define SPEC_DESCRIPTION_MAX 1024          /* bytes of a Description */
#define SPEC_PRIORITY_MIN (-1000)
#define SPEC_PRIORITY_MAX 1000
#define SPEC_STOP_TIMEOUT_DEFAULT (10 * USEC_PER_SEC)

typedef enum ReadyMode {
        READY_EXEC,     /* ready once execve() succeeded */
        READY_NOTIFY,   /* ready on READY=1 on $NOTIFY_SOCKET */
        READY_DELAY,    /* ready a fixed time after execve() succeeded */
        _READY_MODE_MAX,
        _READY_MODE_INVALID = -EINVAL,
} ReadyMode;

const char *ready_mode_to_string(ReadyMode m) _const_;
ReadyMode ready_mode_from_string(const char *s) _pure_;

typedef struct SupporterSpec {
        char *name;
        char **argv;            /* may contain {pid} */
        ReadyMode ready;
        usec_t ready_delay;     /* READY_DELAY only */
        char **requires;        /* resource names; NULL: none */
        char **provides;
        char *working_directory; /* NULL: the session's */
} SupporterSpec;

typedef struct SessionSpec {
        char *description;
        char **target;          /* argv of the process under test */
        char *working_directory;
        char **environment;     /* NULL: inherit */
        SupporterSpec *supporters;
        size_t n_supporters;
        usec_t stop_timeout;    /* grace per teardown stage */
        usec_t max_duration;    /* USEC_INFINITY: none */
        char **claims;          /* resource names held exclusively; NULL: none */
        char **uses;            /* resource names shared with other users */
        int priority;           /* SPEC_PRIORITY_MIN..SPEC_PRIORITY_MAX; lower runs first, as nice(1) */
        char *group;            /* NULL: none */
        bool group_exclusive;   /* the group's sessions run one at a time */
        char **after;           /* session ids to wait for; NULL: none */
        bool after_success;     /* ... and they must have succeeded (AfterSuccess) */
        bool bind_to_caller;    /* stop when the D-Bus caller goes away */
} SessionSpec;

/* Frees the members and leaves *s zeroed; usable as a _cleanup_ function on a SupporterSpec. */
void supporter_spec_done(SupporterSpec *s);

SessionSpec *session_spec_free(SessionSpec *spec);
DEFINE_TRIVIAL_CLEANUP_FUNC(SessionSpec *, session_spec_free);
int session_spec_new(SessionSpec **ret);

/* "delay:500" (milliseconds), "exec", "notify". */
int ready_parse(const char *s, ReadyMode *ret_mode, usec_t *ret_delay);

/* "[NAME=]CMD ARGS…" as given to -s/--supporter. The new supporter is appended to `spec` with a
 * unique name (derived from CMD when none is given). On a syntax error returns -EINVAL with
 * `ret_error` saying where; on a bad or duplicate name returns -EINVAL/-EEXIST with
 * ret_error->offset 0. */
int session_spec_add_supporter(SessionSpec *spec, const char *cmdline, ShellSplitError *ret_error);

/* The same split without a spec to add to, for a supporter that joins a running session
 * (AddSupporter): ret->name stays NULL when none is given, so that the daemon picks one unique
 * within the session. Errors as above, but for the duplicate name. */
int supporter_spec_parse(const char *cmdline, SupporterSpec *ret, ShellSplitError *ret_error);

/* Appends `s`, taking over its members and zeroing it; on failure *s is left as it was. Returns
 * -EINVAL for an invalid name and -EEXIST for one already in use. */
int session_spec_add_supporter_spec(SessionSpec *spec, SupporterSpec *s);

const SupporterSpec *session_spec_find_supporter(const SessionSpec *spec, const char *name) _pure_;

/* A name for a supporter without one: the base name of argv[0] made valid ("my tool" → "my_tool")
 * and unique within `spec` ("perf", then "perf_2"). */
int supporter_name_derive(const SessionSpec *spec, const char *argv0, char **ret);

/* The name becomes part of the unit name profd-<id>-<name>.scope and of file names, where '-'
 * separates fields: so letters, digits, '_' and '.', starting with a letter or digit. */
#define SUPPORTER_NAME_RULES \
        "letters, digits, '_' and '.', starting with a letter or digit, at most 32, not 'target'"
bool supporter_name_is_valid(const char *name) _pure_;

/* Names in Claims, Uses, Requires and Provides: printable ASCII without blanks, at most
 * SPEC_NAME_MAX bytes. */
bool resource_name_is_valid(const char *name) _pure_;

/* Checks limits and consistency. Returns 0 or a negative errno with a static message naming the
 * offending field in *ret_message. */
int session_spec_validate(const SessionSpec *spec, const char **ret_message);
/* The same for one supporter on its own, as AddSupporter brings it; uniqueness is the caller's. */
int supporter_spec_validate(const SupporterSpec *s, const char **ret_message);

/* Every Requires of a supporter is provided by another supporter, and they form no cycle. Returns 0,
 * or -EINVAL (unknown requirement) / -ELOOP (cycle) with an allocated message naming it. */
int session_spec_check_requirements(const SessionSpec *spec, char **ret_message);

/* Copies argv with every "{pid}" replaced by `pid`. */
int argv_substitute_pid(char * const *argv, pid_t pid, char ***ret);
