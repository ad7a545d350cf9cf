/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "macro.h"

/* Gated fork/exec. spawn_held() forks a child that puts itself into a fresh process group, sets up
 * its standard I/O, closes every other fd and then waits at a gate (a pipe) before it changes
 * directory and calls execve(). spawn_release() opens the gate. Whether execve() worked comes back
 * through a CLOEXEC pipe: EOF means it did; a SpawnReport means it did not, and says where. */

typedef enum SpawnStage {
        SPAWN_STAGE_SETUP,      /* standard I/O, fds */
        SPAWN_STAGE_CREDENTIALS,
        SPAWN_STAGE_CHDIR,
        SPAWN_STAGE_EXEC,
        _SPAWN_STAGE_MAX,
} SpawnStage;

typedef struct SpawnReport {
        int stage;              /* SpawnStage */
        int error;              /* positive errno */
} SpawnReport;

typedef struct SpawnParams {
        char * const *argv;             /* argv[0] is looked up in envp's PATH unless it has a '/' */
        char * const *envp;
        const char *working_directory;  /* NULL: inherit */
        int stdio[3];                   /* -1: inherit */
        const char *gate_helper;        /* posix_spawn() this helper instead of fork() (see spawn.c) */
        bool set_credentials;           /* become uid/gid/groups before the gate */
        uid_t uid;
        gid_t gid;
        const gid_t *groups;
        size_t n_groups;
} SpawnParams;

int spawn_held(const SpawnParams *params, pid_t *ret_pid, int *ret_gate_fd, int *ret_report_fd);

/* The part of the child after its fds are laid out: credentials, the gate, chdir, execve(). Shared
 * by the forked child and the gate helper. */
_noreturn_ void spawn_child_finish(const SpawnParams *params);

/* main() of the gate helper, profd-gate. */
int gate_helper_main(int argc, char *argv[], char *envp[]);

/* Finds profd-gate: next to this program (a build tree), else in the installed libexecdir.
 * NULL when there is none. */
const char *spawn_find_gate_helper(void);

/* Lets the held child go and closes the gate. */
int spawn_release(int *gate_fd);

/* Reads the outcome of execve() from the report fd: returns 1 with *ret_error 0 (success) or a
 * positive errno and *ret_stage, or 0 when the child has not got that far yet (EAGAIN). */
int spawn_read_report(int report_fd, int *ret_error, SpawnStage *ret_stage);

const char *spawn_stage_to_string(SpawnStage stage);
