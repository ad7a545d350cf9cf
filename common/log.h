/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <syslog.h>

#include "macro.h"

/* Logging for the daemon and the client: "prog: message" on stderr. Messages may use %m, which
 * prints the error passed to the _errno variants. The *_errno() functions return -abs(error) so that
 * `return log_error_errno(r, "Failed to …: %m");` reads naturally. */

void log_set_max_level(int level);

/* Logs to the journal, with structured fields, when stderr is connected to it. */
void log_open(void);

/* Messages from now on carry PROFD_SESSION=id in the journal (NULL: none). Returns the previous id,
 * for restoring: the session being worked on is a property of the call stack, not of the message. */
const char *log_set_session(const char *id);
int log_get_max_level(void);

int log_internal(int level, int error, const char *format, ...) _printf_(3, 4);

/* One message with fields of its own ("KEY=VALUE", NULL-terminated) besides MESSAGE, PRIORITY and
 * PROFD_SESSION: in the journal they are fields; on stderr only the message is printed. */
int log_with_fields(int level, char * const *fields, const char *format, ...) _printf_(3, 4);

#define log_full_errno(level, error, ...)                                        \
        __extension__ ({                                                         \
                int _level_ = (level), _e_ = (error);                            \
                _e_ = _e_ < 0 ? -_e_ : _e_;                                      \
                _level_ <= log_get_max_level()                                   \
                        ? log_internal(_level_, _e_, __VA_ARGS__)                \
                        : -_e_;                                                  \
        })

#define log_debug(...) log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...) log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...) log_full_errno(LOG_ERR, 0, __VA_ARGS__)

#define log_debug_errno(e, ...) log_full_errno(LOG_DEBUG, e, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, e, __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_ERR, e, __VA_ARGS__)

#define log_oom() log_error_errno(ENOMEM, "Out of memory.")
