/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "log.h"
#include "store.h"
#include "strv.h"

#define RECORD_VERSION 1
#define RECORD_SUFFIX ".record"
/* Where the highest id goes when its record is removed (see store_highest_id()). */
#define HIGHEST_ID_FILE "highest-id"
/* Temporary files are "<name>.XXXXXX". */
#define TEMP_SUFFIX_LEN 6
#define ID_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"

struct Store {
        int dir_fd;                     /* <state>/records */
        char *path;                     /* the same, for messages */
};

/* The record's layout, in one table: the writer goes through it in order, the parser looks keys up
 * in it, and freeing and initializing follow it, so that a new field is one line here. */

typedef enum Section {
        SECTION_SESSION,                /* the keys before the first [Section] */
        SECTION_SUPPORTER,
        SECTION_PROCESS,
        _SECTION_MAX,
        _SECTION_INVALID = -EINVAL,     /* a section of a later version: skipped */
} Section;

static const char * const section_header[_SECTION_MAX] = {
        [SECTION_SUPPORTER] = "Supporter",
        [SECTION_PROCESS] = "Process",
};

typedef enum FieldType {
        FIELD_ID,                       /* char *, store_id_is_valid() */
        FIELD_STRING,                   /* char *; left out when NULL */
        FIELD_STRV,                     /* char **; one line per word */
        FIELD_U64,                      /* uint64_t; left out when equal to .unset */
        FIELD_INT,
        FIELD_BOOL,                     /* "yes" or "no"; with .unset 1 (FLAG) left out when no */
        FIELD_UID,
        FIELD_GID,
        FIELD_PID,                      /* 0 or positive */
        FIELD_GROUPS,                   /* gid_t *, with the count at .count_offset; one line each */
        FIELD_EXIT_CODE,                /* int, CLD_*: "exited", "killed", "dumped"; left out when 0 */
} FieldType;

typedef struct RecordItem {
        Section section;
        const char *key;
        FieldType type;
        bool required;
        size_t offset;
        size_t count_offset;
        uint64_t unset;
} RecordItem;

#define ITEM(section, key, type, required, st, field) \
        { section, key, type, required, offsetof(st, field), 0, 0 }
#define SESSION(key, type, field) ITEM(SECTION_SESSION, key, type, false, StoredSession, field)
#define SUPPORTER(key, type, field) ITEM(SECTION_SUPPORTER, key, type, false, StoredSupporter, field)
#define PROCESS(key, type, field) ITEM(SECTION_PROCESS, key, type, false, StoredProcess, field)
/* A bool added after the first version: absent from records that do not use it, old ones included. */
#define FLAG(section, key, st, field) \
        { section, key, FIELD_BOOL, false, offsetof(st, field), 0, 1 }
#define U64(section, key, st, field, unset) \
        { section, key, FIELD_U64, false, offsetof(st, field), 0, unset }

static const RecordItem record_items[] = {
        ITEM(SECTION_SESSION, "Id", FIELD_ID, true, StoredSession, id),
        SESSION("BootID", FIELD_STRING, boot_id),
        ITEM(SECTION_SESSION, "State", FIELD_STRING, true, StoredSession, state),
        SESSION("Result", FIELD_STRING, result),
        SESSION("StopCause", FIELD_STRING, stop_cause),
        SESSION("ExitStatus", FIELD_INT, exit_status),
        SESSION("UID", FIELD_UID, uid),
        SESSION("GID", FIELD_GID, gid),
        { SECTION_SESSION, "Group", FIELD_GROUPS, false, offsetof(StoredSession, groups),
          offsetof(StoredSession, n_groups), 0 },
        SESSION("Description", FIELD_STRING, description),
        SESSION("Target", FIELD_STRV, target),
        SESSION("WorkingDirectory", FIELD_STRING, working_directory),
        SESSION("Claims", FIELD_STRV, claims),
        SESSION("Uses", FIELD_STRV, uses),
        SESSION("Priority", FIELD_INT, priority),
        SESSION("BindToCaller", FIELD_BOOL, bind_to_caller),
        SESSION("Caller", FIELD_STRING, caller),
        SESSION("SessionGroup", FIELD_STRING, session_group),
        FLAG(SECTION_SESSION, "Exclusive", StoredSession, group_exclusive),
        SESSION("After", FIELD_STRV, after),
        FLAG(SECTION_SESSION, "AfterSuccess", StoredSession, after_success),
        FLAG(SECTION_SESSION, "Adopted", StoredSession, adopted),
        U64(SECTION_SESSION, "StopTimeoutUSec", StoredSession, stop_timeout, USEC_INFINITY),
        U64(SECTION_SESSION, "MaxDurationUSec", StoredSession, max_duration, USEC_INFINITY),
        SESSION("Slice", FIELD_STRING, slice),
        U64(SECTION_SESSION, "CreatedTimestamp", StoredSession, created_realtime, 0),
        U64(SECTION_SESSION, "CreatedTimestampMonotonic", StoredSession, created_monotonic, 0),
        U64(SECTION_SESSION, "FinishedTimestamp", StoredSession, finished_realtime, 0),
        SESSION("OutputDirectory", FIELD_STRING, output_directory),
        SESSION("OutputFile", FIELD_STRV, output_files),

        ITEM(SECTION_SUPPORTER, "Name", FIELD_STRING, true, StoredSupporter, name),
        SUPPORTER("Argv", FIELD_STRV, argv),
        SUPPORTER("Ready", FIELD_STRING, ready),
        SUPPORTER("Requires", FIELD_STRV, requires),
        SUPPORTER("Provides", FIELD_STRV, provides),
        SUPPORTER("WorkingDirectory", FIELD_STRING, working_directory),

        ITEM(SECTION_PROCESS, "Name", FIELD_STRING, true, StoredProcess, name),
        ITEM(SECTION_PROCESS, "Role", FIELD_STRING, true, StoredProcess, role),
        PROCESS("Argv", FIELD_STRV, argv),
        ITEM(SECTION_PROCESS, "State", FIELD_STRING, true, StoredProcess, state),
        PROCESS("PID", FIELD_PID, pid),
        U64(SECTION_PROCESS, "PIDStartTime", StoredProcess, start_time, 0),
        PROCESS("Unit", FIELD_STRING, unit),
        PROCESS("CGroup", FIELD_STRING, cgroup),
        PROCESS("Released", FIELD_BOOL, released),
        PROCESS("ExitCode", FIELD_EXIT_CODE, exit_code),
        PROCESS("ExitStatus", FIELD_INT, exit_status),
        FLAG(SECTION_PROCESS, "ExitUnknown", StoredProcess, exit_unknown),
        PROCESS("End", FIELD_STRING, end),
        U64(SECTION_PROCESS, "CPUUSec", StoredProcess, cpu_usec, UINT64_MAX),
        U64(SECTION_PROCESS, "MemoryBytes", StoredProcess, memory_bytes, UINT64_MAX),
};

/* The parser keeps which keys it has seen in a section as bits. */
_Static_assert(ELEMENTSOF(record_items) <= 64, "too many record items for RecordParser.seen");

static const char * const exit_code_table[] = {
        [CLD_EXITED] = "exited",
        [CLD_KILLED] = "killed",
        [CLD_DUMPED] = "dumped",
};

static void *field_of(void *base, const RecordItem *item) {
        return (uint8_t *) base + item->offset;
}

static void section_init(Section section, void *base, size_t size) {
        memset(base, 0, size);
        for (size_t i = 0; i < ELEMENTSOF(record_items); i++)
                if (record_items[i].section == section && record_items[i].type == FIELD_U64)
                        *(uint64_t *) field_of(base, &record_items[i]) = record_items[i].unset;
}

static void section_done(Section section, void *base) {
        for (size_t i = 0; i < ELEMENTSOF(record_items); i++) {
                const RecordItem *item = &record_items[i];
                void *field = field_of(base, item);

                if (item->section != section)
                        continue;
                switch (item->type) {
                case FIELD_ID:
                case FIELD_STRING:
                        free(*(char **) field);
                        break;
                case FIELD_GROUPS:
                        free(*(gid_t **) field);
                        break;
                case FIELD_STRV:
                        strv_free(*(char ***) field);
                        break;
                default:
                        break;
                }
        }
}

int stored_session_new(StoredSession **ret) {
        StoredSession *r;

        assert(ret);

        r = malloc(sizeof(StoredSession));
        if (!r)
                return -ENOMEM;
        section_init(SECTION_SESSION, r, sizeof(StoredSession));
        *ret = r;
        return 0;
}

StoredSession *stored_session_free(StoredSession *r) {
        if (!r)
                return NULL;
        for (size_t i = 0; i < r->n_supporters; i++)
                section_done(SECTION_SUPPORTER, &r->supporters[i]);
        free(r->supporters);
        for (size_t i = 0; i < r->n_processes; i++)
                section_done(SECTION_PROCESS, &r->processes[i]);
        free(r->processes);
        section_done(SECTION_SESSION, r);
        return mfree(r);
}

void stored_sessions_free(StoredSession **l, size_t n) {
        for (size_t i = 0; i < n; i++)
                stored_session_free(l[i]);
        free(l);
}

/* Makes room for `need` elements. Grows by doubling, so that a record of many entries is read in
 * linear time; `allocated` is what the caller knows to be there. */
static void *greedy_realloc(void *array, size_t need, size_t *allocated, size_t size) {
        size_t n;
        void *a;

        if (need <= *allocated)
                return array;
        n = MAX(need, 2 * *allocated);
        a = reallocarray(array, n, size);
        if (!a)
                return NULL;
        *allocated = n;
        return a;
}

static int add_supporter(StoredSession *r, size_t *allocated, StoredSupporter **ret) {
        StoredSupporter *a;

        a = greedy_realloc(r->supporters, r->n_supporters + 1, allocated, sizeof(StoredSupporter));
        if (!a)
                return -ENOMEM;
        r->supporters = a;
        section_init(SECTION_SUPPORTER, &a[r->n_supporters], sizeof(StoredSupporter));
        *ret = &a[r->n_supporters++];
        return 0;
}

static int add_process(StoredSession *r, size_t *allocated, StoredProcess **ret) {
        StoredProcess *a;

        a = greedy_realloc(r->processes, r->n_processes + 1, allocated, sizeof(StoredProcess));
        if (!a)
                return -ENOMEM;
        r->processes = a;
        section_init(SECTION_PROCESS, &a[r->n_processes], sizeof(StoredProcess));
        *ret = &a[r->n_processes++];
        return 0;
}

int stored_session_add_supporter(StoredSession *r, StoredSupporter **ret) {
        /* The caller may have allocated the array itself: assume no room beyond what is used. */
        size_t allocated = r->n_supporters;

        assert(ret);
        return add_supporter(r, &allocated, ret);
}

int stored_session_add_process(StoredSession *r, StoredProcess **ret) {
        size_t allocated = r->n_processes;

        assert(ret);
        return add_process(r, &allocated, ret);
}

bool store_id_is_valid(const char *id) {
        size_t n;

        if (!id)
                return false;
        n = strspn(id, ID_CHARS);
        return n > 0 && n <= STORE_ID_MAX && id[n] == '\0';
}

/* CRC-32 as zlib and gzip compute it (reflected, polynomial 0xedb88320), four bits at a time: a
 * table of 16 is enough for records of a few kilobytes. */
static uint32_t crc32_update(uint32_t crc, const void *data, size_t size) {
        static const uint32_t table[16] = {
                0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4, 0x4db26158, 0x5005713c,
                0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c, 0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
        };
        const uint8_t *p = data;

        crc = ~crc;
        for (size_t i = 0; i < size; i++) {
                crc ^= p[i];
                crc = (crc >> 4) ^ table[crc & 0xf];
                crc = (crc >> 4) ^ table[crc & 0xf];
        }
        return ~crc;
}

uint32_t store_checksum(const void *data, size_t size) {
        return crc32_update(0, data, size);
}

/* Formatting */

typedef struct Writer {
        char *data;
        size_t size, allocated;
        size_t line_start;
        int error;                      /* the first one; later writes do nothing */
} Writer;

static void writer_fail(Writer *w, int error) {
        if (w->error == 0)
                w->error = error;
}

static void writer_append(Writer *w, const char *s, size_t n) {
        char *a;

        if (w->error < 0)
                return;
        /* The limit holds for what we write too, so that everything written can be read back. */
        if (n > STORE_RECORD_SIZE_MAX - w->size) {
                writer_fail(w, -E2BIG);
                return;
        }
        a = greedy_realloc(w->data, w->size + n + 1, &w->allocated, 1);
        if (!a) {
                writer_fail(w, -ENOMEM);
                return;
        }
        w->data = a;
        memcpy(w->data + w->size, s, n);
        w->size += n;
        w->data[w->size] = '\0';
}

static void writer_puts(Writer *w, const char *s) {
        writer_append(w, s, strlen(s));
}

static void writer_end_line(Writer *w) {
        writer_append(w, "\n", 1);
        if (w->error == 0 && w->size - w->line_start - 1 > STORE_LINE_MAX)
                writer_fail(w, -E2BIG);
        w->line_start = w->size;
}

static void writer_escaped(Writer *w, const char *s) {
        const char *plain = s;

        for (; *s; s++) {
                unsigned char c = *s;
                char esc[5];

                if (c >= 0x20 && c != 0x7f && c != '\\')
                        continue;
                writer_append(w, plain, s - plain);
                plain = s + 1;
                switch (c) {
                case '\\': writer_puts(w, "\\\\"); break;
                case '\n': writer_puts(w, "\\n"); break;
                case '\t': writer_puts(w, "\\t"); break;
                case '\r': writer_puts(w, "\\r"); break;
                default:
                        snprintf(esc, sizeof(esc), "\\x%02x", c);
                        writer_puts(w, esc);
                }
        }
        writer_append(w, plain, s - plain);
}

static void writer_string(Writer *w, const char *key, const char *value) {
        writer_puts(w, key);
        writer_puts(w, "=");
        writer_escaped(w, value);
        writer_end_line(w);
}

static void writer_unsigned(Writer *w, const char *key, uint64_t value) {
        char buf[32];

        snprintf(buf, sizeof(buf), "%" PRIu64, value);
        writer_string(w, key, buf);
}

static void writer_int(Writer *w, const char *key, int value) {
        char buf[32];

        snprintf(buf, sizeof(buf), "%i", value);
        writer_string(w, key, buf);
}

static void write_item(Writer *w, const RecordItem *item, const void *base) {
        const void *field = (const uint8_t *) base + item->offset;

        switch (item->type) {
        case FIELD_ID:
        case FIELD_STRING: {
                const char *s = *(char * const *) field;

                if (item->type == FIELD_ID && s && !store_id_is_valid(s))
                        writer_fail(w, -EINVAL);
                else if (s)
                        writer_string(w, item->key, s);
                else if (item->required)
                        writer_fail(w, -EINVAL);
                break;
        }

        case FIELD_STRV: {
                char * const *l = *(char ** const *) field;

                if (strv_length(l) > STORE_LIST_MAX)
                        writer_fail(w, -E2BIG);
                for (; l && *l; l++)
                        writer_string(w, item->key, *l);
                break;
        }

        case FIELD_GROUPS: {
                const gid_t *groups = *(gid_t * const *) field;
                size_t n = *(const size_t *) ((const uint8_t *) base + item->count_offset);

                assert(n == 0 || groups);
                if (n > STORE_LIST_MAX)
                        writer_fail(w, -E2BIG);
                for (size_t i = 0; i < n; i++)
                        writer_unsigned(w, item->key, groups[i]);
                break;
        }

        case FIELD_U64:
                if (*(const uint64_t *) field != item->unset)
                        writer_unsigned(w, item->key, *(const uint64_t *) field);
                break;
        case FIELD_INT:
                writer_int(w, item->key, *(const int *) field);
                break;
        case FIELD_BOOL:
                if (item->unset != 0 && !*(const bool *) field)
                        break; /* a flag: written only when set */
                writer_string(w, item->key, *(const bool *) field ? "yes" : "no");
                break;
        case FIELD_UID:
                writer_unsigned(w, item->key, *(const uid_t *) field);
                break;
        case FIELD_GID:
                writer_unsigned(w, item->key, *(const gid_t *) field);
                break;
        case FIELD_PID:
                if (*(const pid_t *) field < 0)
                        writer_fail(w, -EINVAL);
                else
                        writer_int(w, item->key, *(const pid_t *) field);
                break;

        case FIELD_EXIT_CODE: {
                int code = *(const int *) field;

                if (code == 0)
                        break;
                if (code < 0 || (size_t) code >= ELEMENTSOF(exit_code_table) || !exit_code_table[code])
                        writer_fail(w, -EINVAL);
                else
                        writer_string(w, item->key, exit_code_table[code]);
                break;
        }

        default:
                assert(false);
        }
}

static void write_section(Writer *w, Section section, const void *base) {
        if (section_header[section]) {
                writer_end_line(w);     /* a blank line before each section, for people */
                writer_puts(w, "[");
                writer_puts(w, section_header[section]);
                writer_puts(w, "]");
                writer_end_line(w);
        }
        for (size_t i = 0; i < ELEMENTSOF(record_items); i++)
                if (record_items[i].section == section)
                        write_item(w, &record_items[i], base);
}

int stored_session_format(const StoredSession *r, char **ret_text, size_t *ret_size) {
        Writer w = { .error = 0 };
        char checksum[16];

        assert(r);
        assert(ret_text);
        assert(r->n_supporters == 0 || r->supporters);
        assert(r->n_processes == 0 || r->processes);

        if (r->n_supporters > STORE_SECTIONS_MAX || r->n_processes > STORE_SECTIONS_MAX)
                return -E2BIG;

        writer_unsigned(&w, "ProfdRecord", RECORD_VERSION);
        write_section(&w, SECTION_SESSION, r);
        for (size_t i = 0; i < r->n_supporters; i++)
                write_section(&w, SECTION_SUPPORTER, &r->supporters[i]);
        for (size_t i = 0; i < r->n_processes; i++)
                write_section(&w, SECTION_PROCESS, &r->processes[i]);
        if (w.error == 0) {
                snprintf(checksum, sizeof(checksum), "%08" PRIx32, crc32_update(0, w.data, w.size));
                writer_string(&w, "Checksum", checksum);
        }
        if (w.error < 0) {
                free(w.data);
                return w.error;
        }

        if (ret_size)
                *ret_size = w.size;
        *ret_text = w.data;
        return 0;
}

/* Parsing. Total over any bytes: every length is checked against the line it comes from, nothing
 * is read past `size`, and nothing recurses. */

typedef struct RecordParser {
        StoredSession *record;
        Section section;
        void *base;                     /* the struct the current section's keys fill; NULL: skipped */
        unsigned line;
        uint64_t seen;                  /* record_items of the current section given so far */
        size_t n[ELEMENTSOF(record_items)];             /* words in each list of the section */
        size_t allocated[ELEMENTSOF(record_items)];     /* and room for them */
        size_t allocated_supporters, allocated_processes;
        StoreParseError error;
} RecordParser;

static int parse_fail(RecordParser *p, const char *reason) {
        p->error = (StoreParseError) { .line = p->line, .reason = reason };
        return -EBADMSG;
}

/* Canonical decimal only: no sign, no blanks, no leading zeros, so that damage shows. */
static int parse_u64(const char *s, size_t n, uint64_t *ret) {
        uint64_t v = 0;

        if (n == 0 || n > 20 || (s[0] == '0' && n > 1))
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                unsigned d;

                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                d = s[i] - '0';
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        *ret = v;
        return 0;
}

static int parse_int(const char *s, size_t n, int *ret) {
        bool negative = n > 0 && s[0] == '-';
        uint64_t v;
        int r;

        r = parse_u64(s + negative, n - negative, &v);
        if (r < 0)
                return r;
        if (negative) {
                if (v == 0 || v > (uint64_t) INT_MAX + 1)
                        return -ERANGE;
                *ret = (int) (-(int64_t) v);
        } else {
                if (v > INT_MAX)
                        return -ERANGE;
                *ret = (int) v;
        }
        return 0;
}

static int unhex(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -EINVAL;
}

/* Decodes a value into a new string; with `ret` NULL only checks it (values of unknown keys). */
static int unescape(RecordParser *p, const char *s, size_t n, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t k = 0;

        if (ret) {
                buf = malloc(n + 1);
                if (!buf)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
                unsigned char c = s[i];

                if (c < 0x20 || c == 0x7f)
                        return parse_fail(p, "control character in a value");
                if (c == '\\') {
                        if (++i >= n)
                                return parse_fail(p, "incomplete escape");
                        switch (s[i]) {
                        case '\\': c = '\\'; break;
                        case 'n': c = '\n'; break;
                        case 't': c = '\t'; break;
                        case 'r': c = '\r'; break;
                        case 'x': {
                                int hi, lo;

                                if (n - i < 3)
                                        return parse_fail(p, "incomplete escape");
                                hi = unhex(s[i + 1]);
                                lo = unhex(s[i + 2]);
                                if (hi < 0 || lo < 0)
                                        return parse_fail(p, "invalid \\x escape");
                                c = (unsigned char) (hi << 4 | lo);
                                if (c == 0)
                                        return parse_fail(p, "\\x00 in a value");
                                i += 2;
                                break;
                        }
                        default:
                                return parse_fail(p, "unknown escape");
                        }
                }
                if (buf)
                        buf[k++] = (char) c;
        }
        if (ret) {
                buf[k] = '\0';
                *ret = TAKE_PTR(buf);
        }
        return 0;
}

static bool key_is_valid(const char *s, size_t n) {
        if (n == 0 || n > 64)
                return false;
        if (!((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z')))
                return false;
        for (size_t i = 1; i < n; i++)
                if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
                      (s[i] >= '0' && s[i] <= '9')))
                        return false;
        return true;
}

static bool memeq_str(const char *s, size_t n, const char *str) {
        return strlen(str) == n && memcmp(s, str, n) == 0;
}

static int assign(RecordParser *p, size_t i, const char *value, size_t n) {
        const RecordItem *item = &record_items[i];
        void *field = field_of(p->base, item);
        uint64_t v;
        int r;

        /* Lists are repeated keys; anything else given twice is damage. */
        if (item->type != FIELD_STRV && item->type != FIELD_GROUPS && (p->seen & (UINT64_C(1) << i)))
                return parse_fail(p, "key given twice");
        p->seen |= UINT64_C(1) << i;

        switch (item->type) {
        case FIELD_ID:
        case FIELD_STRING: {
                char *s;

                r = unescape(p, value, n, &s);
                if (r < 0)
                        return r;
                *(char **) field = s;
                if (item->type == FIELD_ID && !store_id_is_valid(s))
                        return parse_fail(p, "invalid id");
                return 0;
        }

        case FIELD_STRV: {
                char ***l = field;
                char **a;
                char *s;

                if (p->n[i] >= STORE_LIST_MAX)
                        return parse_fail(p, "too many entries in a list");
                a = greedy_realloc(*l, p->n[i] + 2, &p->allocated[i], sizeof(char *));
                if (!a)
                        return -ENOMEM;
                a[p->n[i]] = NULL;      /* a list again, whatever follows */
                *l = a;
                r = unescape(p, value, n, &s);
                if (r < 0)
                        return r;
                a[p->n[i]++] = s;
                a[p->n[i]] = NULL;
                return 0;
        }

        case FIELD_GROUPS: {
                size_t *count = (size_t *) ((uint8_t *) p->base + item->count_offset);
                gid_t **groups = field;
                gid_t *a;

                if (*count >= STORE_LIST_MAX)
                        return parse_fail(p, "too many entries in a list");
                if (parse_u64(value, n, &v) < 0 || v > UINT32_MAX)
                        return parse_fail(p, "invalid group");
                a = greedy_realloc(*groups, *count + 1, &p->allocated[i], sizeof(gid_t));
                if (!a)
                        return -ENOMEM;
                *groups = a;
                a[(*count)++] = (gid_t) v;
                return 0;
        }

        case FIELD_U64:
                if (parse_u64(value, n, &v) < 0)
                        return parse_fail(p, "invalid number");
                *(uint64_t *) field = v;
                return 0;
        case FIELD_INT:
                if (parse_int(value, n, (int *) field) < 0)
                        return parse_fail(p, "invalid number");
                return 0;
        case FIELD_BOOL:
                if (memeq_str(value, n, "yes"))
                        *(bool *) field = true;
                else if (memeq_str(value, n, "no"))
                        *(bool *) field = false;
                else
                        return parse_fail(p, "expected yes or no");
                return 0;
        case FIELD_UID:
        case FIELD_GID:
                if (parse_u64(value, n, &v) < 0 || v > UINT32_MAX)
                        return parse_fail(p, "invalid user or group id");
                if (item->type == FIELD_UID)
                        *(uid_t *) field = (uid_t) v;
                else
                        *(gid_t *) field = (gid_t) v;
                return 0;
        case FIELD_PID:
                if (parse_u64(value, n, &v) < 0 || v > INT_MAX)
                        return parse_fail(p, "invalid pid");
                *(pid_t *) field = (pid_t) v;
                return 0;
        case FIELD_EXIT_CODE:
                for (size_t c = 0; c < ELEMENTSOF(exit_code_table); c++)
                        if (exit_code_table[c] && memeq_str(value, n, exit_code_table[c])) {
                                *(int *) field = (int) c;
                                return 0;
                        }
                return parse_fail(p, "invalid exit code");
        }
        assert(false);
        return -EINVAL;
}

/* The end of a section: were its required keys all there? */
static int section_end(RecordParser *p) {
        if (!p->base)
                return 0;
        for (size_t i = 0; i < ELEMENTSOF(record_items); i++)
                if (record_items[i].section == p->section && record_items[i].required &&
                    !(p->seen & (UINT64_C(1) << i)))
                        return parse_fail(p, p->section == SECTION_SESSION
                                                     ? "a required session key is missing"
                                                     : "a required key is missing in a section");
        return 0;
}

static int section_begin(RecordParser *p, const char *name, size_t n) {
        int r;

        r = section_end(p);
        if (r < 0)
                return r;
        p->seen = 0;
        memset(p->n, 0, sizeof(p->n));
        memset(p->allocated, 0, sizeof(p->allocated));
        p->section = _SECTION_INVALID;
        p->base = NULL;

        if (memeq_str(name, n, section_header[SECTION_SUPPORTER])) {
                StoredSupporter *s;

                if (p->record->n_supporters >= STORE_SECTIONS_MAX)
                        return parse_fail(p, "too many supporters");
                r = add_supporter(p->record, &p->allocated_supporters, &s);
                if (r < 0)
                        return r;
                p->section = SECTION_SUPPORTER;
                p->base = s;
        } else if (memeq_str(name, n, section_header[SECTION_PROCESS])) {
                StoredProcess *s;

                if (p->record->n_processes >= STORE_SECTIONS_MAX)
                        return parse_fail(p, "too many processes");
                r = add_process(p->record, &p->allocated_processes, &s);
                if (r < 0)
                        return r;
                p->section = SECTION_PROCESS;
                p->base = s;
        }
        return 0;
}

static int parse_line(RecordParser *p, const char *line, size_t n) {
        const char *eq;
        size_t k;

        if (n == 0)
                return 0;

        if (line[0] == '[') {
                if (n < 2 || line[n - 1] != ']' || !key_is_valid(line + 1, n - 2))
                        return parse_fail(p, "invalid section header");
                return section_begin(p, line + 1, n - 2);
        }

        eq = memchr(line, '=', n);
        if (!eq)
                return parse_fail(p, "expected KEY=VALUE");
        k = eq - line;
        if (!key_is_valid(line, k))
                return parse_fail(p, "invalid key");

        if (p->base)
                for (size_t i = 0; i < ELEMENTSOF(record_items); i++)
                        if (record_items[i].section == p->section && memeq_str(line, k, record_items[i].key))
                                return assign(p, i, eq + 1, n - k - 1);

        /* A key of a later version, or a section of one: skipped, but it must be well-formed. */
        return unescape(p, eq + 1, n - k - 1, NULL);
}

static int parse_version(RecordParser *p, const char *line, size_t n) {
        static const char prefix[] = "ProfdRecord=";
        uint64_t v;

        if (n < strlen(prefix) || memcmp(line, prefix, strlen(prefix)) != 0)
                return parse_fail(p, "not a profd session record");
        if (parse_u64(line + strlen(prefix), n - strlen(prefix), &v) < 0 || v == 0)
                return parse_fail(p, "invalid format version");
        if (v != RECORD_VERSION) {
                p->error = (StoreParseError) {
                        .line = p->line,
                        .reason = "written in a later version of the format",
                };
                return -EPROTONOSUPPORT;
        }
        return 0;
}

static int parse_checksum(RecordParser *p, const char *text, const char *line, size_t n) {
        static const char prefix[] = "Checksum=";
        uint32_t expected = 0;

        if (n != strlen(prefix) + 8)
                return parse_fail(p, "invalid checksum");
        for (size_t i = strlen(prefix); i < n; i++) {
                /* Lower case only, as written. */
                if (!((line[i] >= '0' && line[i] <= '9') || (line[i] >= 'a' && line[i] <= 'f')))
                        return parse_fail(p, "invalid checksum");
                expected = expected << 4 | (uint32_t) unhex(line[i]);
        }
        if (crc32_update(0, text, line - text) != expected)
                return parse_fail(p, "checksum mismatch: the record is damaged");
        return 0;
}

static int record_parse(RecordParser *p, const char *text, size_t size) {
        size_t pos = 0;
        int r;

        if (size > STORE_RECORD_SIZE_MAX)
                return parse_fail(p, "larger than 4 MiB");

        for (;;) {
                const char *line = NULL, *nl = NULL;
                size_t n;

                p->line++;
                /* (Not even text + 0 when there is no text: that is NULL + 0.) */
                if (pos < size) {
                        line = text + pos;
                        nl = memchr(line, '\n', size - pos);
                }
                if (!nl) {
                        p->line = 0;
                        return parse_fail(p, "truncated: no Checksum= line at the end");
                }
                n = nl - line;
                if (n > STORE_LINE_MAX)
                        return parse_fail(p, "line longer than 1 MiB");
                if (memchr(line, '\0', n))
                        return parse_fail(p, "NUL byte");
                pos += n + 1;

                if (p->line == 1) {
                        r = parse_version(p, line, n);
                        if (r < 0)
                                return r;
                        continue;
                }

                if (n >= strlen("Checksum=") && memcmp(line, "Checksum=", strlen("Checksum=")) == 0) {
                        r = section_end(p);
                        if (r < 0)
                                return r;
                        r = parse_checksum(p, text, line, n);
                        if (r < 0)
                                return r;
                        if (pos != size)
                                return parse_fail(p, "data after the Checksum= line");
                        return 0;
                }

                r = parse_line(p, line, n);
                if (r < 0)
                        return r;
        }
}

int stored_session_parse(const char *text, size_t size, StoredSession **ret, StoreParseError *ret_error) {
        _cleanup_(stored_session_freep) StoredSession *record = NULL;
        RecordParser p = { .section = SECTION_SESSION };
        int r;

        assert(text || size == 0);
        assert(ret);

        r = stored_session_new(&record);
        if (r < 0)
                return r;
        p.record = record;
        p.base = record;

        r = record_parse(&p, text, size);
        if (r < 0) {
                if (ret_error)
                        *ret_error = r == -ENOMEM ? (StoreParseError) { .reason = "out of memory" } : p.error;
                return r;
        }
        *ret = TAKE_PTR(record);
        return 0;
}

/* The store */

typedef enum NameKind {
        NAME_OTHER,
        NAME_RECORD,                    /* "<id>.record" */
        NAME_TEMPORARY,                 /* "<id>.record.XXXXXX" or "highest-id.XXXXXX" */
} NameKind;

/* What a directory entry is; for a record, its id goes to `ret_id` (STORE_ID_MAX + 1 bytes). */
static NameKind classify_name(const char *name, char *ret_id) {
        const char *dot = strchr(name, '.'), *rest;
        size_t n;

        if (!dot)
                return NAME_OTHER;
        n = dot - name;
        if (n == strlen(HIGHEST_ID_FILE) && memcmp(name, HIGHEST_ID_FILE, n) == 0)
                rest = dot;
        else {
                if (n == 0 || n > STORE_ID_MAX || strspn(name, ID_CHARS) != n)
                        return NAME_OTHER;
                rest = startswith(dot, RECORD_SUFFIX);
                if (!rest)
                        return NAME_OTHER;
                if (*rest == '\0') {
                        if (ret_id) {
                                memcpy(ret_id, name, n);
                                ret_id[n] = '\0';
                        }
                        return NAME_RECORD;
                }
        }
        if (rest[0] == '.' && strlen(rest + 1) == TEMP_SUFFIX_LEN)
                return NAME_TEMPORARY;
        return NAME_OTHER;
}

static char *record_file_name(const char *id) {
        char *name;

        if (asprintf(&name, "%s" RECORD_SUFFIX, id) < 0)
                return NULL;
        return name;
}

/* A fresh DIR for `s`, from its start. */
static int store_opendir(Store *s, DIR **ret) {
        int fd;
        DIR *d;

        fd = openat(s->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                safe_close(fd);
                return -errno;
        }
        *ret = d;
        return 0;
}

static int mkdir_parents_and_self(const char *path, mode_t mode) {
        _cleanup_free_ char *p = NULL;

        p = strdup(path);
        if (!p)
                return -ENOMEM;
        for (char *slash = p; (slash = strchr(slash + 1, '/'));) {
                *slash = '\0';
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return -errno;
                *slash = '/';
        }
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

/* Nothing writes records but this daemon, and only from inside store_save(): any temporary file
 * there now is a leftover of a crash, and the record it was to replace is still whole. */
static void store_remove_temporary_files(Store *s) {
        _cleanup_(closedirp) DIR *d = NULL;

        if (store_opendir(s, &d) < 0)
                return;
        for (struct dirent *de; (de = readdir(d));) {
                if (classify_name(de->d_name, NULL) != NAME_TEMPORARY)
                        continue;
                if (unlinkat(s->dir_fd, de->d_name, 0) < 0)
                        log_warning_errno(errno, "Failed to remove %s/%s, ignoring: %m", s->path, de->d_name);
                else
                        log_debug("Removed the leftover temporary file %s/%s.", s->path, de->d_name);
        }
}

int store_open(Store **ret, const char *state_directory) {
        _cleanup_(store_freep) Store *s = NULL;
        _cleanup_close_ int state_fd = -EBADF;
        int r;

        assert(ret);
        assert(state_directory);

        s = new0(Store, 1);
        if (!s)
                return -ENOMEM;
        s->dir_fd = -EBADF;
        if (asprintf(&s->path, "%s/records", state_directory) < 0) {
                s->path = NULL;
                return -ENOMEM;
        }

        r = mkdir_parents_and_self(state_directory, 0755);
        if (r < 0)
                return r;
        state_fd = open(state_directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (state_fd < 0)
                return -errno;
        if (mkdirat(state_fd, "records", 0700) < 0 && errno != EEXIST)
                return -errno;
        /* Not a symlink: records are written as root. */
        s->dir_fd = openat(state_fd, "records", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (s->dir_fd < 0)
                return -errno;

        store_remove_temporary_files(s);
        *ret = TAKE_PTR(s);
        return 0;
}

Store *store_free(Store *s) {
        if (!s)
                return NULL;
        safe_close(s->dir_fd);
        free(s->path);
        return mfree(s);
}

static int loop_write(int fd, const char *data, size_t size) {
        while (size > 0) {
                ssize_t n = write(fd, data, size);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                data += n;
                size -= n;
        }
        return 0;
}

/* Replaces `name` in the store with `data` all at once: readers (and a daemon started after a
 * crash) see the old file or the new one, never part of one. */
static int write_atomic(Store *s, const char *name, const char *data, size_t size, bool sync) {
        static const char chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        _cleanup_close_ int fd = -EBADF;
        char temp[STORE_ID_MAX + sizeof(RECORD_SUFFIX) + 1 + TEMP_SUFFIX_LEN + 1];
        int r;

        assert(strlen(name) + 1 + TEMP_SUFFIX_LEN < sizeof(temp));

        for (unsigned attempt = 0; fd < 0; attempt++) {
                uint8_t random[TEMP_SUFFIX_LEN];
                size_t n = strlen(name);

                if (attempt >= 100)
                        return -EEXIST;
                /* Uniqueness is all we need of it: fall back to anything when there is no entropy yet. */
                if (getrandom(random, sizeof(random), GRND_NONBLOCK) != (ssize_t) sizeof(random)) {
                        uint64_t t = now_usec(CLOCK_MONOTONIC) + attempt;

                        for (size_t i = 0; i < sizeof(random); i++)
                                random[i] = (uint8_t) (t >> (8 * i));
                }
                memcpy(temp, name, n);
                temp[n] = '.';
                for (size_t i = 0; i < TEMP_SUFFIX_LEN; i++)
                        temp[n + 1 + i] = chars[random[i] % (sizeof(chars) - 1)];
                temp[n + 1 + TEMP_SUFFIX_LEN] = '\0';

                fd = openat(s->dir_fd, temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
                            0600);
                if (fd < 0 && errno != EEXIST)
                        return -errno;
        }

        r = loop_write(fd, data, size);
        if (r >= 0 && sync && fsync(fd) < 0)
                r = -errno;
        if (r >= 0 && renameat(s->dir_fd, temp, s->dir_fd, name) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlinkat(s->dir_fd, temp, 0);
                return r;
        }
        /* The rename itself is only durable once the directory is. */
        if (sync && fsync(s->dir_fd) < 0)
                return -errno;
        return 0;
}

int store_save(Store *s, const StoredSession *r, StoreSaveFlags flags) {
        _cleanup_free_ char *text = NULL, *name = NULL;
        size_t size;
        int k;

        assert(s);
        assert(r);

        k = stored_session_format(r, &text, &size);
        if (k < 0)
                return k;
        name = record_file_name(r->id);
        if (!name)
                return -ENOMEM;
        return write_atomic(s, name, text, size, !(flags & STORE_SAVE_NO_SYNC));
}

/* Reads a whole small file of the store; -EBADMSG if it is no regular file or larger than `max`. */
static int read_file_at(Store *s, const char *name, size_t max, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        size_t size = 0, limit;
        struct stat st;

        fd = openat(s->dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) || st.st_size < 0 || (uint64_t) st.st_size > max)
                return -EBADMSG;

        /* Files here are replaced, never changed in place, but read one byte more than it has to
         * see one that grew. */
        limit = (size_t) st.st_size + 1;
        buf = malloc(limit + 1);
        if (!buf)
                return -ENOMEM;
        while (size < limit) {
                ssize_t n = read(fd, buf + size, limit - size);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                size += n;
        }
        if (size > max)
                return -EBADMSG;
        buf[size] = '\0';
        *ret = TAKE_PTR(buf);
        *ret_size = size;
        return 0;
}

static int store_load_internal(Store *s, const char *id, StoredSession **ret, StoreParseError *ret_error) {
        _cleanup_(stored_session_freep) StoredSession *record = NULL;
        _cleanup_free_ char *name = NULL, *text = NULL;
        size_t size;
        int r;

        if (!store_id_is_valid(id))
                return -EINVAL;
        name = record_file_name(id);
        if (!name)
                return -ENOMEM;

        r = read_file_at(s, name, STORE_RECORD_SIZE_MAX, &text, &size);
        if (r == -EBADMSG) {
                if (ret_error)
                        *ret_error = (StoreParseError) { .reason = "not a regular file of at most 4 MiB" };
                return r;
        }
        if (r < 0)
                return r;

        r = stored_session_parse(text, size, &record, ret_error);
        if (r < 0)
                return r;
        /* A record copied or renamed by hand: its processes are not this session's. */
        if (!streq(record->id, id)) {
                if (ret_error)
                        *ret_error = (StoreParseError) {
                                .reason = "the Id= inside is not the one in the file name",
                        };
                return -EBADMSG;
        }
        *ret = TAKE_PTR(record);
        return 0;
}

int store_load(Store *s, const char *id, StoredSession **ret) {
        assert(s);
        assert(ret);

        return store_load_internal(s, id, ret, NULL);
}

/* Numbers in numeric order ("9" before "10"), then the others, alphabetically. */
static int id_compare(const char *a, const char *b) {
        size_t na = strlen(a), nb = strlen(b);
        bool da = strspn(a, "0123456789") == na, db = strspn(b, "0123456789") == nb;

        if (da != db)
                return da ? -1 : 1;
        if (da && na != nb)
                return na < nb ? -1 : 1;
        return strcmp(a, b);
}

static int stored_session_compare(const void *a, const void *b) {
        const StoredSession * const *x = a, * const *y = b;

        return id_compare((*x)->id, (*y)->id);
}

/* Every readable record; the others are logged at `level`, naming the file and why. */
static int load_all(Store *s, int level, StoredSession ***ret, size_t *ret_n) {
        _cleanup_(closedirp) DIR *d = NULL;
        StoredSession **l = NULL;
        size_t n = 0, allocated = 0;
        int r;

        r = store_opendir(s, &d);
        if (r < 0)
                return r;

        for (struct dirent *de; (de = readdir(d));) {
                StoreParseError error = { .reason = NULL };
                char id[STORE_ID_MAX + 1];
                StoredSession *record, **a;

                if (classify_name(de->d_name, id) != NAME_RECORD)
                        continue;

                r = store_load_internal(s, id, &record, &error);
                if (r == -ENOMEM) {
                        stored_sessions_free(l, n);
                        return r;
                }
                if (r < 0) {
                        if (!error.reason)
                                log_full_errno(level, r, "Skipping the session record %s/%s: %m",
                                               s->path, de->d_name);
                        else if (error.line > 0)
                                log_full_errno(level, 0, "Skipping the session record %s/%s: line %u: %s.",
                                               s->path, de->d_name, error.line, error.reason);
                        else
                                log_full_errno(level, 0, "Skipping the session record %s/%s: %s.",
                                               s->path, de->d_name, error.reason);
                        continue;
                }

                a = greedy_realloc(l, n + 1, &allocated, sizeof(StoredSession *));
                if (!a) {
                        stored_session_free(record);
                        stored_sessions_free(l, n);
                        return -ENOMEM;
                }
                l = a;
                l[n++] = record;
        }

        if (n > 0)
                qsort(l, n, sizeof(StoredSession *), stored_session_compare);
        *ret = l;
        *ret_n = n;
        return 0;
}

int store_load_all(Store *s, StoredSession ***ret, size_t *ret_n) {
        assert(s);
        assert(ret);
        assert(ret_n);

        return load_all(s, LOG_WARNING, ret, ret_n);
}

static int read_highest_id_note(Store *s, unsigned long long *ret) {
        _cleanup_free_ char *text = NULL;
        uint64_t v = 0;
        size_t size;
        int r;

        r = read_file_at(s, HIGHEST_ID_FILE, 32, &text, &size);
        if (r == -ENOENT) {
                *ret = 0;
                return 0;
        }
        if (r >= 0 && (size == 0 || text[size - 1] != '\n' || parse_u64(text, size - 1, &v) < 0))
                r = -EBADMSG;
        if (r < 0) {
                /* The records themselves still give a lower bound: do not stop the daemon over it. */
                log_warning_errno(r, "Failed to read %s/" HIGHEST_ID_FILE ", ignoring: %m", s->path);
                *ret = 0;
                return 0;
        }
        *ret = v;
        return 0;
}

static int highest_record_id(Store *s, unsigned long long *ret) {
        _cleanup_(closedirp) DIR *d = NULL;
        unsigned long long highest = 0;
        int r;

        r = store_opendir(s, &d);
        if (r < 0)
                return r;
        for (struct dirent *de; (de = readdir(d));) {
                char id[STORE_ID_MAX + 1];
                uint64_t v;

                if (classify_name(de->d_name, id) == NAME_RECORD && parse_u64(id, strlen(id), &v) >= 0)
                        highest = MAX(highest, (unsigned long long) v);
        }
        *ret = highest;
        return 0;
}

int store_highest_id(Store *s, unsigned long long *ret) {
        unsigned long long records, note;
        int r;

        assert(s);
        assert(ret);

        r = highest_record_id(s, &records);
        if (r < 0)
                return r;
        r = read_highest_id_note(s, &note);
        if (r < 0)
                return r;
        *ret = MAX(records, note);
        return 0;
}

/* Before a record goes: if it may be the highest, note its id, so that it is never handed out
 * again. */
static int store_note_highest_id(Store *s) {
        unsigned long long records, note;
        char text[32];
        int r;

        r = highest_record_id(s, &records);
        if (r < 0)
                return r;
        r = read_highest_id_note(s, &note);
        if (r < 0)
                return r;
        if (records <= note)
                return 0;
        snprintf(text, sizeof(text), "%llu\n", records);
        return write_atomic(s, HIGHEST_ID_FILE, text, strlen(text), true);
}

static int store_remove(Store *s, const char *id) {
        _cleanup_free_ char *name = NULL;

        name = record_file_name(id);
        if (!name)
                return -ENOMEM;
        if (unlinkat(s->dir_fd, name, 0) < 0)
                return -errno;
        return 0;
}

int store_forget(Store *s, const char *id) {
        _cleanup_free_ char *name = NULL;
        struct stat st;
        int r;

        assert(s);

        if (!store_id_is_valid(id))
                return -EINVAL;
        name = record_file_name(id);
        if (!name)
                return -ENOMEM;
        if (fstatat(s->dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;

        r = store_note_highest_id(s);
        if (r < 0)
                return r;
        r = store_remove(s, id);
        if (r < 0)
                return r;
        (void) fsync(s->dir_fd);
        return 0;
}

/* When a finished record finished, for its age; oldest first, then by id. */
static usec_t stored_session_finished(const StoredSession *r) {
        return r->finished_realtime != 0 ? r->finished_realtime : r->created_realtime;
}

static int stored_session_compare_age(const void *a, const void *b) {
        const StoredSession * const *x = a, * const *y = b;
        usec_t tx = stored_session_finished(*x), ty = stored_session_finished(*y);

        if (tx != ty)
                return tx < ty ? -1 : 1;
        return id_compare((*x)->id, (*y)->id);
}

/* Removes from `finished`, oldest first, what is too old or too many. */
static int prune_finished(Store *s, StoredSession **finished, size_t n, unsigned keep_max, usec_t max_age,
                          usec_t now, char ***removed) {
        size_t n_removed = 0;
        bool noted = false;
        int r;

        for (size_t i = 0; i < n; i++) {
                usec_t t = stored_session_finished(finished[i]);
                bool too_old = max_age != USEC_INFINITY && now >= t && now - t >= max_age;
                bool too_many = keep_max != UINT_MAX && n - i > keep_max;

                if (!too_old && !too_many)
                        break;

                if (!noted) {
                        r = store_note_highest_id(s);
                        if (r < 0)
                                return r;
                        noted = true;
                }
                r = store_remove(s, finished[i]->id);
                if (r == -ENOENT)
                        continue;
                if (r < 0)
                        return r;
                if (removed) {
                        r = strv_extend(removed, &n_removed, finished[i]->id);
                        if (r < 0)
                                return r;
                }
        }
        if (noted)
                (void) fsync(s->dir_fd);
        return 0;
}

int store_prune(Store *s, unsigned keep_max, usec_t max_age, usec_t now, char ***ret_removed) {
        _cleanup_strv_free_ char **removed = NULL;
        StoredSession **all = NULL;
        size_t n_all = 0, n_finished = 0;
        int r;

        assert(s);

        /* This runs again and again: what cannot be read was reported by store_load_all(). */
        r = load_all(s, LOG_DEBUG, &all, &n_all);
        if (r < 0)
                return r;

        /* The finished ones to the front, oldest first. */
        for (size_t i = 0; i < n_all; i++)
                if (streq(all[i]->state, "finished")) {
                        StoredSession *t = all[n_finished];

                        all[n_finished++] = all[i];
                        all[i] = t;
                }
        if (n_finished > 0)
                qsort(all, n_finished, sizeof(StoredSession *), stored_session_compare_age);

        r = prune_finished(s, all, n_finished, keep_max, max_age, now, ret_removed ? &removed : NULL);
        stored_sessions_free(all, n_all);
        if (r < 0)
                return r;
        if (ret_removed)
                *ret_removed = TAKE_PTR(removed);
        return 0;
}

int read_boot_id(char **ret) {
        _cleanup_close_ int fd = -EBADF;
        char buf[64];
        ssize_t n;
        char *id;

        assert(ret);

        fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        n = read(fd, buf, sizeof(buf) - 1);
        if (n < 0)
                return -errno;
        /* 8-4-4-4-12 hex digits and a newline. */
        if (n != 37 || buf[36] != '\n' || strspn(buf, "0123456789abcdef-") != 36)
                return -EBADMSG;
        id = strndup(buf, 36);
        if (!id)
                return -ENOMEM;
        *ret = id;
        return 0;
}

int pid_get_start_time(pid_t pid, uint64_t *ret) {
        _cleanup_close_ int fd = -EBADF;
        char path[64], buf[2048];
        const char *p;
        uint64_t v;
        ssize_t n;

        assert(ret);

        if (pid <= 0)
                return -EINVAL;
        snprintf(path, sizeof(path), "/proc/%i/stat", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return errno == ENOENT ? -ESRCH : -errno;
        n = read(fd, buf, sizeof(buf) - 1);
        if (n < 0)
                return errno == ESRCH ? -ESRCH : -errno;
        buf[n] = '\0';

        /* "PID (COMM) STATE PPID …": COMM may hold blanks and parentheses, so count from the last
         * ')'. STATE is field 3; the start time is field 22. */
        p = strrchr(buf, ')');
        if (!p)
                return -EBADMSG;
        p++;
        for (unsigned field = 3;; field++) {
                if (*p != ' ')
                        return -EBADMSG;
                p++;
                if (field == 22)
                        break;
                p += strcspn(p, " ");
        }
        if (parse_u64(p, strcspn(p, " \n"), &v) < 0)
                return -EBADMSG;
        *ret = v;
        return 0;
}
