/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>

#include "time-util.h"

/* The daemon's settings, from a systemd-style INI file:
 *
 *   [Limits]
 *   SessionsPerUser=64        sessions one uid may have at a time, finished ones not counted
 *   ProcessesPerSession=65    target and supporters; caps the supporters of one session
 *   TasksMax=0                TasksMax= of each of a session's scopes; 0: systemd's default
 *   ArgumentBytes=1M          bytes of one argv, terminators included
 *   EnvironmentBytes=1M       bytes of one session's environment
 *   SpecBytes=4M              size of the whole StartSession message
 *   [Sessions]
 *   KeepFinishedSec=60s       how long a finished session stays on the bus
 *   [Scheduling]
 *   MaxParallelSessions=      sessions running at once (default: the CPUs); more wait, queued
 *   MaxParallelSessionsPerUser=0   the same per uid; 0: only the global limit
 *   [Records]
 *   KeepRecords=1000          records of finished sessions kept in <state>/records
 *   KeepRecordsSec=30d        ... and for how long; 0: no age limit
 *
 * Sizes take K, M and G (base 1024). An empty value sets the default again.
 *
 * (Not "config.h": that name is the build's generated header, which daemon sources include.) */

#define PROFD_CONFIG_FILE "/etc/profd/profd.conf"

typedef struct Config {
        unsigned sessions_per_user;
        unsigned processes_per_session;
        unsigned tasks_max;                             /* 0: none */
        size_t argument_bytes;
        size_t environment_bytes;
        size_t spec_bytes;
        usec_t keep_finished;
        unsigned max_parallel_sessions;
        unsigned max_parallel_sessions_per_user;        /* 0: none */
        unsigned keep_records;
        usec_t keep_records_age;                        /* 0: none */
} Config;

/* The defaults. */
void config_init(Config *c);

/* Parses `path` over the settings already in *c. A missing file is fine (returns 0); a bad line is
 * logged naming file:line and the key, and returns -EINVAL. *c changes only on success. */
int config_load(Config *c, const char *path);

/* The same for the contents of a file; `filename` is only for messages. */
int config_parse_string(Config *c, const char *text, const char *filename);
