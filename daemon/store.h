/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"
#include "time-util.h"

/* Session records: what is left of a session in <state>/records/<id>.record, written when it
 * starts, on every change of state and when it finishes, so that a restarted daemon can re-adopt
 * the sessions still running and `profctl list` still shows the finished ones after a reboot.
 *
 * A record is plain data, apart from Session and Manager: the daemon converts. Strings are stored
 * as given (the *_to_string() names of session.h for states, results and roles), so that a record
 * of a newer daemon with a state this one does not know still loads and is shown.
 *
 * The file is text, one KEY=VALUE per line: session keys first, then one [Supporter] and one
 * [Process] section each. Lists are repeated keys; a missing key is NULL, an empty list, or the
 * "unset" value noted below. Values are C-escaped (\\ \n \t \r and \xHH for other control bytes;
 * other bytes, UTF-8 or not, are written as they are). The first line is the format version, the
 * last one the CRC-32 (as zlib's crc32()) of every byte before it, so a truncated or damaged file
 * is told apart from a record:
 *
 *   ProfdRecord=1
 *   Id=42
 *   BootID=8a5a9e43-5f1e-4a8b-a2d7-5b7f0c1e9d11
 *   State=finished
 *   Result=success
 *   StopCause=target-exited
 *   ExitStatus=0
 *   UID=1000
 *   GID=1000
 *   Group=27
 *   Description=nightly\tbench
 *   Target=./bench
 *   Target=--iterations=10
 *   WorkingDirectory=/home/ann/src
 *   Priority=0
 *   BindToCaller=no
 *   SessionGroup=nightly
 *   Exclusive=yes
 *   After=41
 *   Adopted=yes
 *   StopTimeoutUSec=10000000
 *   Slice=profd-42.slice
 *   CreatedTimestamp=1718000000000000
 *   CreatedTimestampMonotonic=5000000
 *   FinishedTimestamp=1718000012000000
 *   OutputDirectory=/var/lib/profd/sessions/42
 *   OutputFile=target.stdout
 *   OutputFile=perf.log
 *
 *   [Supporter]
 *   Name=perf
 *   Argv=perf
 *   Argv=record
 *   Argv=-p
 *   Argv={pid}
 *   Ready=exec
 *
 *   [Process]
 *   Name=target
 *   Role=target
 *   Argv=./bench
 *   Argv=--iterations=10
 *   State=exited
 *   PID=4242
 *   PIDStartTime=1234567
 *   Unit=profd-42-target.scope
 *   CGroup=/sys/fs/cgroup/profd.slice/profd-42.slice/profd-42-target.scope
 *   Released=yes
 *   ExitCode=exited
 *   ExitStatus=0
 *   End=exited 0
 *   CPUUSec=11800000
 *   MemoryBytes=52428800
 *   Checksum=56c4159f
 *
 * Unknown keys and sections are skipped, so that an older daemon reads a newer record; the
 * version changes only when that would mislead. Anything else out of shape (a line that is no
 * KEY=VALUE, a bad escape, a number that is not one, a repeated single key, a missing Id=) makes the
 * whole record invalid: nothing in it is trusted, since pids in it get signalled on re-adoption.
 *
 * No environment and no file descriptors are kept: the environment is where secrets are. */

#define STORE_RECORD_SIZE_MAX (4U * 1024U * 1024U)
#define STORE_LINE_MAX (1024U * 1024U)
#define STORE_SECTIONS_MAX 4096U        /* processes, and supporters */
#define STORE_LIST_MAX 65536U           /* entries of one list: argv words, groups, files */
#define STORE_ID_MAX 64U

typedef struct Store Store;

typedef struct StoredSupporter {
        char *name;
        char **argv;                    /* as asked for: {pid} not substituted */
        char *ready;                    /* "exec", "notify", "delay:MS"; NULL: the default */
        char **requires;
        char **provides;
        char *working_directory;        /* NULL: the session's */
} StoredSupporter;

typedef struct StoredProcess {
        char *name;                     /* required */
        char *role;                     /* required: "target" or "supporter" */
        char **argv;                    /* as executed: {pid} substituted */
        char *state;                    /* required: process_state_to_string() */
        pid_t pid;                      /* 0: never forked */
        uint64_t start_time;            /* of the pid: field 22 of /proc/PID/stat, in clock ticks
                                         * after boot, to tell it from a reused pid; 0: unknown */
        char *unit;                     /* its scope; NULL without systemd */
        char *cgroup;                   /* the directory of its cgroup (cgroup.procs), when known */
        bool released;                  /* its gate was opened */
        int exit_code;                  /* CLD_EXITED, CLD_KILLED or CLD_DUMPED; 0: not exited */
        int exit_status;                /* exit status or signal number */
        bool exit_unknown;              /* exited while profd was not its parent: no status */
        char *end;                      /* process_format_end(), for people */
        uint64_t cpu_usec;              /* UINT64_MAX: unknown */
        uint64_t memory_bytes;          /* UINT64_MAX: unknown */
} StoredProcess;

typedef struct StoredSession {
        char *id;                       /* required; see store_id_is_valid() */
        char *boot_id;                  /* of the boot it ran in: a live record of another boot is dead */
        char *state;                    /* required: session_state_to_string() */
        char *result;                   /* session_result_to_string() */
        char *stop_cause;               /* stop_cause_to_string() */
        int exit_status;                /* session_exit_status() */

        /* The owner. */
        uid_t uid;
        gid_t gid;
        gid_t *groups;
        size_t n_groups;

        /* The spec, but for its environment and standard I/O. */
        char *description;
        char **target;
        char *working_directory;
        StoredSupporter *supporters;
        size_t n_supporters;
        char **claims;
        char **uses;
        int priority;
        bool bind_to_caller;
        char *caller;                   /* BindToCaller on the bus: the caller's unique name */
        char *session_group;            /* the spec's Group ("Group=" is the owner's groups) */
        bool group_exclusive;
        char **after;
        bool after_success;
        bool adopted;                   /* re-adopted after a restart of profd */
        usec_t stop_timeout;            /* USEC_INFINITY: unset */
        usec_t max_duration;            /* USEC_INFINITY: none */

        char *slice;                    /* NULL without systemd */
        usec_t created_realtime;        /* 0: unset */
        usec_t created_monotonic;       /* 0: unset; meaningless in another boot */
        usec_t finished_realtime;       /* 0: not finished */
        char *output_directory;
        char **output_files;            /* names in output_directory */

        StoredProcess *processes;       /* the target first, then the supporters */
        size_t n_processes;
} StoredSession;

/* Why a text is not a record, for the log. */
typedef struct StoreParseError {
        unsigned line;                  /* 1-based; 0: not one line's fault (size, truncation) */
        const char *reason;             /* static string */
} StoreParseError;

/* A new, empty record: NULL strings, empty lists and the unset values above. */
int stored_session_new(StoredSession **ret);
StoredSession *stored_session_free(StoredSession *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(StoredSession *, stored_session_free);
/* Frees an array as store_load_all() returns it. */
void stored_sessions_free(StoredSession **l, size_t n);

/* Append an empty supporter or process (unset values as above) and return it. The pointer is
 * valid until the next one is added. */
int stored_session_add_supporter(StoredSession *r, StoredSupporter **ret);
int stored_session_add_process(StoredSession *r, StoredProcess **ret);

/* 1 to STORE_ID_MAX letters, digits and '_': what a D-Bus object path element and a unit name
 * part take, and no '.', so that "<id>.record" cannot be read two ways. */
bool store_id_is_valid(const char *id) _pure_;

/* Pure, for the tests and for fuzzing. stored_session_format() returns -EINVAL for a record it
 * cannot represent (an invalid id, a missing required string, an exit code that is no CLD_*) and
 * -E2BIG for one over the limits above, so that whatever it writes parses back as it was.
 * stored_session_parse() returns -EBADMSG for anything that is not a complete record, with
 * `ret_error` (optional) saying where and why, and -EPROTONOSUPPORT for a record of a later
 * version of the format. */
int stored_session_format(const StoredSession *r, char **ret_text, size_t *ret_size);
int stored_session_parse(const char *text, size_t size, StoredSession **ret, StoreParseError *ret_error);

/* The CRC-32 of the Checksum= line: over `size` bytes of `data`, as zlib's crc32(0, data, size). */
uint32_t store_checksum(const void *data, size_t size) _pure_;

/* Opens <state_directory>/records (0700, since records name their owners' programs and
 * arguments), making both as needed, and removes temporary files a crash left behind. */
int store_open(Store **ret, const char *state_directory);
Store *store_free(Store *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Store *, store_free);

typedef enum StoreSaveFlags {
        /* Skip the fsync() of the file and of the directory. The replacement is still atomic, and
         * survives the daemon; what does not survive a power cut is the latest update. For the
         * records of live sessions, which a reboot makes dead anyway, and which are written on
         * every change from the event loop. */
        STORE_SAVE_NO_SYNC = 1 << 0,
} StoreSaveFlags;

/* Writes "<id>.record" atomically: a temporary file in the same directory, renamed over it. */
int store_save(Store *s, const StoredSession *r, StoreSaveFlags flags);

/* -ENOENT if there is none, -EINVAL for an invalid id, -EBADMSG if it is not a whole record (or
 * one of another id). */
int store_load(Store *s, const char *id, StoredSession **ret);

/* Every record, in the order of their ids (numerically where they are numbers). Records that
 * cannot be read are logged, naming the file and why, and skipped. */
int store_load_all(Store *s, StoredSession ***ret, size_t *ret_n);

/* Removes one record: -ENOENT if there is none. */
int store_forget(Store *s, const char *id);

/* Removes finished records (State=finished) that finished at least `max_age` before `now`
 * (CLOCK_REALTIME), then the oldest of the rest until at most `keep_max` are left. Live records
 * and records that cannot be read are never touched. UINT_MAX and USEC_INFINITY disable a limit.
 * `ret_removed` (optional) gets the ids removed, so that their output directories can go too. */
int store_prune(Store *s, unsigned keep_max, usec_t max_age, usec_t now, char ***ret_removed);

/* The highest numeric id ever recorded (0: none), even if its record has been removed since:
 * forgetting the highest record leaves a note of it behind, so ids never repeat. */
int store_highest_id(Store *s, unsigned long long *ret);

/* What a record needs from the system for re-adoption. */

/* /proc/sys/kernel/random/boot_id: the same until the next boot. */
int read_boot_id(char **ret);
/* Field 22 of /proc/PID/stat: when `pid` started, in clock ticks after boot. -ESRCH if it is
 * gone. A pid with the same start time is the same process. */
int pid_get_start_time(pid_t pid, uint64_t *ret);
