/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include "log.h"

static int log_max_level = LOG_INFO;
static bool log_to_journal = false;
static const char *log_session = NULL;

void log_set_max_level(int level) {
        log_max_level = level;
}

int log_get_max_level(void) {
        return log_max_level;
}

/* systemd sets $JOURNAL_STREAM to the device and inode of the stream it connected to stderr: if
 * stderr is still that stream, the journal is where we are read, so write to it natively. */
void log_open(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        log_to_journal = e && sscanf(e, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) >= 0 &&
                         st.st_dev == (dev_t) dev && st.st_ino == (ino_t) ino;
}

const char *log_set_session(const char *id) {
        const char *previous = log_session;

        log_session = id;
        return previous;
}

int log_internal(int level, int error, const char *format, ...) {
        char buf[2048];
        va_list ap;

        /* %m expands errno: make it the error we were given. */
        errno = error;
        va_start(ap, format);
        vsnprintf(buf, sizeof(buf), format, ap);
        va_end(ap);

        if (log_to_journal) {
                if (log_session)
                        (void) sd_journal_send("MESSAGE=%s", buf, "PRIORITY=%i", level, "PROFD_SESSION=%s",
                                               log_session, error ? "ERRNO=%i" : NULL, error, NULL);
                else
                        (void) sd_journal_send("MESSAGE=%s", buf, "PRIORITY=%i", level,
                                               error ? "ERRNO=%i" : NULL, error, NULL);
        } else
                fprintf(stderr, "%s: %s\n", program_invocation_short_name, buf);
        return -error;
}

int log_with_fields(int level, char * const *fields, const char *format, ...) {
        char buf[2048];
        va_list ap;

        if (level > log_get_max_level())
                return 0;
        va_start(ap, format);
        vsnprintf(buf, sizeof(buf), format, ap);
        va_end(ap);

        if (log_to_journal) {
                _cleanup_free_ char *message = NULL, *priority = NULL, *session = NULL;
                size_t n_fields = 0, n = 0;

                while (fields && fields[n_fields])
                        n_fields++;
                if (n_fields > 64)
                        n_fields = 64;
                struct iovec iov[64 + 3];

                if (asprintf(&message, "MESSAGE=%s", buf) < 0 || asprintf(&priority, "PRIORITY=%i", level) < 0 ||
                    (log_session && asprintf(&session, "PROFD_SESSION=%s", log_session) < 0))
                        return -ENOMEM;
                iov[n++] = (struct iovec) { message, strlen(message) };
                iov[n++] = (struct iovec) { priority, strlen(priority) };
                if (session)
                        iov[n++] = (struct iovec) { session, strlen(session) };
                for (size_t i = 0; i < n_fields; i++)
                        iov[n++] = (struct iovec) { fields[i], strlen(fields[i]) };
                (void) sd_journal_sendv(iov, (int) n);
        } else
                fprintf(stderr, "%s: %s\n", program_invocation_short_name, buf);
        return 0;
}
