/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "spec.h"

/* The command-line options that build a SessionSpec (-s/--supporter, --ready, --stop-timeout,
 * --max-duration), shared by `profd run` and `profctl run/start` so that an option means the same
 * thing and is refused with the same message in both. Unlike the rest of common/ these log: they
 * are the front end of a command line. All return a negative errno after saying what was wrong. */

typedef struct SpecOptions {
        SessionSpec *spec;      /* borrowed */
        bool ready_given;       /* the last supporter got its --ready already */
} SpecOptions;

/* -s '[NAME=]CMD ARGS'. A syntax error is shown as the value with a caret under its column. */
int spec_options_add_supporter(SpecOptions *o, const char *value);

/* A supporter the caller built itself (as profctl's --perf does); a --ready may still follow it.
 * Takes the members of `s`. */
int spec_options_add_supporter_spec(SpecOptions *o, SupporterSpec *s);

/* --ready=exec|notify|delay:MS, for the supporter given just before. */
int spec_options_set_ready(SpecOptions *o, const char *value);

/* --stop-timeout=SEC, --max-duration=SEC: positive, with units; a bare number is seconds. */
int spec_options_parse_duration(const char *option, const char *value, usec_t *ret);

/* "Invalid WHAT 'VALUE': REASON." and then the value again, with a caret under the offending
 * column, as a compiler marks an error. */
void log_shell_split_error(const char *what, const char *value, const ShellSplitError *e);
