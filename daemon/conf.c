/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "spec.h"

/* sd-bus refuses messages above 128M anyway. */
#define SPEC_BYTES_MAX (128 * 1024 * 1024)

void config_init(Config *c) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);

        *c = (Config) {
                .sessions_per_user = 64,
                .processes_per_session = SPEC_SUPPORTERS_MAX + 1,
                .argument_bytes = SPEC_ARGV_BYTES_MAX,
                .environment_bytes = SPEC_ARGV_BYTES_MAX,
                .spec_bytes = 4 * 1024 * 1024,
                .keep_finished = 60 * USEC_PER_SEC,
                /* One session per CPU: what benchmarks that must not disturb each other want. */
                .max_parallel_sessions = cpus > 0 ? (unsigned) cpus : 1,
                .max_parallel_sessions_per_user = 0,
                .keep_records = 1000,
                .keep_records_age = 30 * USEC_PER_DAY,
        };
}

typedef enum ConfigType {
        CONFIG_UNSIGNED,
        CONFIG_SIZE,
        CONFIG_TIMESPAN,
} ConfigType;

typedef struct ConfigItem {
        const char *section;
        const char *key;
        ConfigType type;
        size_t offset, size;
        uint64_t min, max;      /* for numbers and sizes */
} ConfigItem;

#define CONFIG_ITEM(section, key, type, field, min, max) \
        { section, key, type, offsetof(Config, field), sizeof(((Config *) NULL)->field), min, max }

static const ConfigItem config_items[] = {
        CONFIG_ITEM("Limits", "SessionsPerUser", CONFIG_UNSIGNED, sessions_per_user, 1, UINT_MAX),
        /* The spec's own limits stay in force: these can only lower them. */
        CONFIG_ITEM("Limits", "ProcessesPerSession", CONFIG_UNSIGNED, processes_per_session,
                    1, SPEC_SUPPORTERS_MAX + 1),
        CONFIG_ITEM("Limits", "TasksMax", CONFIG_UNSIGNED, tasks_max, 0, UINT_MAX),
        CONFIG_ITEM("Limits", "ArgumentBytes", CONFIG_SIZE, argument_bytes, 1, SPEC_ARGV_BYTES_MAX),
        CONFIG_ITEM("Limits", "EnvironmentBytes", CONFIG_SIZE, environment_bytes, 1, SPEC_ARGV_BYTES_MAX),
        CONFIG_ITEM("Limits", "SpecBytes", CONFIG_SIZE, spec_bytes, 1, SPEC_BYTES_MAX),
        CONFIG_ITEM("Sessions", "KeepFinishedSec", CONFIG_TIMESPAN, keep_finished, 0, 0),
        CONFIG_ITEM("Scheduling", "MaxParallelSessions", CONFIG_UNSIGNED, max_parallel_sessions, 1, UINT_MAX),
        CONFIG_ITEM("Scheduling", "MaxParallelSessionsPerUser", CONFIG_UNSIGNED, max_parallel_sessions_per_user,
                    0, UINT_MAX),
        CONFIG_ITEM("Records", "KeepRecords", CONFIG_UNSIGNED, keep_records, 0, UINT_MAX),
        CONFIG_ITEM("Records", "KeepRecordsSec", CONFIG_TIMESPAN, keep_records_age, 0, 0),
};

/* Digits only: strtoull() would take blanks, signs and "0x". */
static int parse_number(const char *s, const char **ret_end, uint64_t *ret) {
        unsigned long long v;
        char *end;

        if (!isdigit((unsigned char) *s))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        if (errno != 0)
                return -EINVAL;
        *ret_end = end;
        *ret = v;
        return 0;
}

static int parse_size(const char *s, uint64_t *ret) {
        static const struct {
                char suffix;
                uint64_t factor;
        } suffixes[] = {
                { 'K', UINT64_C(1) << 10 },
                { 'M', UINT64_C(1) << 20 },
                { 'G', UINT64_C(1) << 30 },
        };
        const char *end;
        uint64_t v, factor = 1;
        int r;

        r = parse_number(s, &end, &v);
        if (r < 0)
                return r;
        if (*end) {
                size_t i;

                for (i = 0; i < ELEMENTSOF(suffixes); i++)
                        if (end[0] == suffixes[i].suffix && end[1] == '\0')
                                break;
                if (i >= ELEMENTSOF(suffixes))
                        return -EINVAL;
                factor = suffixes[i].factor;
        }
        if (v > UINT64_MAX / factor)
                return -ERANGE;
        *ret = v * factor;
        return 0;
}

static int parse_unsigned(const char *s, uint64_t *ret) {
        const char *end;
        uint64_t v;
        int r;

        r = parse_number(s, &end, &v);
        if (r < 0)
                return r;
        if (*end)
                return -EINVAL;
        *ret = v;
        return 0;
}

static const char *section_of(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(config_items); i++)
                if (streq(config_items[i].section, name))
                        return config_items[i].section;
        return NULL;
}

typedef struct ConfigParser {
        Config config;          /* being built; copied out only if every line was good */
        const char *filename;
        unsigned line;
        const char *section;    /* NULL before the first [Section] */
} ConfigParser;

static char *strip(char *s) {
        char *e;

        while (isspace((unsigned char) *s))
                s++;
        e = s + strlen(s);
        while (e > s && isspace((unsigned char) e[-1]))
                *--e = '\0';
        return s;
}

static int assign(ConfigParser *p, const ConfigItem *item, const char *value) {
        void *field = (uint8_t *) &p->config + item->offset;
        uint64_t v;
        int r;

        /* Empty: back to the default, as in systemd's files. */
        if (!*value) {
                Config defaults;

                config_init(&defaults);
                memcpy(field, (uint8_t *) &defaults + item->offset, item->size);
                return 0;
        }

        switch (item->type) {
        case CONFIG_TIMESPAN:
                r = parse_timespan(value, USEC_PER_SEC, (usec_t *) field);
                if (r < 0)
                        return log_error_errno(EINVAL, "%s:%u: Invalid %s= value '%s': expected a "
                                               "duration such as 60, 90s, 5min or infinity.",
                                               p->filename, p->line, item->key, value);
                return 0;
        case CONFIG_UNSIGNED:
                r = parse_unsigned(value, &v);
                break;
        case CONFIG_SIZE:
                r = parse_size(value, &v);
                break;
        default:
                assert(false);
                return -EINVAL;
        }
        if (r == -EINVAL)
                return log_error_errno(EINVAL, "%s:%u: Invalid %s= value '%s': expected %s.",
                                       p->filename, p->line, item->key, value,
                                       item->type == CONFIG_SIZE ? "a size such as 4096, 512K or 4M"
                                                                 : "a number");
        if (r < 0 || v < item->min || v > item->max)
                return log_error_errno(EINVAL, "%s:%u: Invalid %s= value '%s': must be between %" PRIu64
                                       " and %" PRIu64 ".",
                                       p->filename, p->line, item->key, value, item->min, item->max);

        if (item->type == CONFIG_UNSIGNED)
                *(unsigned *) field = (unsigned) v;
        else
                *(size_t *) field = (size_t) v;
        return 0;
}

static int parse_line(ConfigParser *p, char *line) {
        char *l = strip(line), *eq, *key, *value;

        if (IN_SET(*l, '\0', '#', ';'))
                return 0;

        if (*l == '[') {
                size_t n = strlen(l);
                const char *section;

                if (l[n - 1] != ']')
                        return log_error_errno(EINVAL, "%s:%u: Invalid section header '%s'.",
                                               p->filename, p->line, l);
                l[n - 1] = '\0';
                section = section_of(l + 1);
                if (!section)
                        return log_error_errno(EINVAL, "%s:%u: Unknown section [%s].",
                                               p->filename, p->line, l + 1);
                p->section = section;
                return 0;
        }

        eq = strchr(l, '=');
        if (!eq)
                return log_error_errno(EINVAL, "%s:%u: Expected KEY=VALUE or [Section], got '%s'.",
                                       p->filename, p->line, l);
        *eq = '\0';
        key = strip(l);
        value = strip(eq + 1);
        if (!p->section)
                return log_error_errno(EINVAL, "%s:%u: %s= outside of any section.",
                                       p->filename, p->line, key);

        for (size_t i = 0; i < ELEMENTSOF(config_items); i++)
                if (streq(config_items[i].section, p->section) && streq(config_items[i].key, key))
                        return assign(p, &config_items[i], value);

        return log_error_errno(EINVAL, "%s:%u: Unknown key %s= in section [%s].",
                               p->filename, p->line, key, p->section);
}

int config_parse_string(Config *c, const char *text, const char *filename) {
        ConfigParser p = { .config = *c, .filename = filename };
        _cleanup_free_ char *copy = NULL;
        char *rest, *line;
        int r;

        copy = strdup(text);
        if (!copy)
                return -ENOMEM;
        rest = copy;
        while ((line = strsep(&rest, "\n"))) {
                p.line++;
                r = parse_line(&p, line);
                if (r < 0)
                        return r;
        }
        *c = p.config;
        return 0;
}

int config_load(Config *c, const char *path) {
        _cleanup_(fclosep) FILE *f = NULL;
        ConfigParser p = { .config = *c, .filename = path };
        _cleanup_free_ char *line = NULL;
        size_t size = 0;
        int r;

        f = fopen(path, "re");
        if (!f) {
                if (errno == ENOENT)
                        return 0;
                return log_error_errno(errno, "Failed to open %s: %m", path);
        }

        errno = 0;
        while (getline(&line, &size, f) >= 0) {
                p.line++;
                line[strcspn(line, "\n")] = '\0';
                r = parse_line(&p, line);
                if (r < 0)
                        return r;
        }
        if (ferror(f))
                return log_error_errno(errno, "Failed to read %s: %m", path);

        *c = p.config;
        return 0;
}
