/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "store.h"

/* Session records (<state>/records/<id>.record), as the daemon reads them back after a restart: a
 * record names pids that get signalled on re-adoption, so the parser must be total over any bytes
 * and must never take damage for a record.
 *
 * Every input is parsed twice: as it is, and with its last line replaced by (or, without one,
 * followed by) a correct Checksum= line, since random bytes almost never carry the right CRC and
 * would otherwise only ever reach the error paths. What parses must then survive a round trip:
 * formatted again it parses again, and formatting that gives the same bytes. */

#define CHECKSUM_PREFIX "Checksum="
#define CHECKSUM_LINE_LEN (strlen(CHECKSUM_PREFIX) + 8 + 1)

/* Not assert(): it must hold in every build type. */
#define check(expr)                                                                           \
        do {                                                                                  \
                if (!(expr)) {                                                                \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #expr); \
                        abort();                                                              \
                }                                                                             \
        } while (0)

static void round_trip(const StoredSession *record) {
        _cleanup_(stored_session_freep) StoredSession *again = NULL;
        _cleanup_free_ char *text = NULL, *text2 = NULL;
        size_t size, size2;
        StoreParseError error = { .reason = NULL };
        int r;

        r = stored_session_format(record, &text, &size);
        /* More default keys than the input had can make a record of many sections too large. */
        if (r == -E2BIG)
                return;
        check(r == 0);
        check(strlen(text) == size);

        r = stored_session_parse(text, size, &again, &error);
        if (r < 0)
                fprintf(stderr, "formatted record does not parse back: line %u: %s\n%s\n", error.line,
                        error.reason, text);
        check(r == 0);

        r = stored_session_format(again, &text2, &size2);
        check(r == 0);
        if (size != size2 || memcmp(text, text2, size) != 0)
                fprintf(stderr, "formatting is not stable:\n%s\n---\n%s\n", text, text2);
        check(size == size2 && memcmp(text, text2, size) == 0);
}

static void parse_one(const char *text, size_t size) {
        _cleanup_(stored_session_freep) StoredSession *record = NULL;
        StoreParseError error = { .reason = NULL };
        int r;

        r = stored_session_parse(text, size, &record, &error);
        if (r < 0) {
                check(!record);
                check(IN_SET(r, -EBADMSG, -EPROTONOSUPPORT, -ENOMEM));
                check(error.reason);
                return;
        }
        check(record);
        check(store_id_is_valid(record->id));
        check(record->state);
        for (size_t i = 0; i < record->n_supporters; i++)
                check(record->supporters[i].name);
        for (size_t i = 0; i < record->n_processes; i++)
                check(record->processes[i].name && record->processes[i].role && record->processes[i].state);
        round_trip(record);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *in = (const char *) data;
        _cleanup_free_ char *buf = NULL;
        size_t body;

        /* Larger inputs only test memchr() and the size check. */
        if (size > 256 * 1024)
                return 0;

        parse_one(in, size);

        /* The body: everything before the last line if that is a Checksum= line, else all of it,
         * ended with a newline if it is not. */
        body = size;
        if (size >= CHECKSUM_LINE_LEN && in[size - 1] == '\n' &&
            memcmp(in + size - CHECKSUM_LINE_LEN, CHECKSUM_PREFIX, strlen(CHECKSUM_PREFIX)) == 0 &&
            (size == CHECKSUM_LINE_LEN || in[size - CHECKSUM_LINE_LEN - 1] == '\n'))
                body = size - CHECKSUM_LINE_LEN;

        buf = malloc(body + 1 + CHECKSUM_LINE_LEN + 1);
        if (!buf)
                return 0;
        if (body > 0)
                memcpy(buf, in, body);
        if (body > 0 && buf[body - 1] != '\n')
                buf[body++] = '\n';
        snprintf(buf + body, CHECKSUM_LINE_LEN + 1, CHECKSUM_PREFIX "%08" PRIx32 "\n",
                 store_checksum(buf, body));
        parse_one(buf, body + CHECKSUM_LINE_LEN);
        return 0;
}
