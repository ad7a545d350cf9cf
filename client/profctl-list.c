/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <time.h>

#include "bus-errors.h"
#include "format.h"
#include "json.h"
#include "log.h"
#include "profctl.h"
#include "profctl-help.h"
#include "strv.h"

/* list (jobs) and status: what runs, for people (tables that fit the terminal, colours on a
 * terminal only) and for scripts (--json, stable keys). */

#define OUTPUT_FILES_MAX 20

static void list_help(void) {
        print_help_profctl_list(program_invocation_short_name);
}

static void status_help(void) {
        print_help_profctl_status(program_invocation_short_name);
}

static const char *state_color(const char *state) {
        if (streq(state, "running"))
                return ansi(ANSI_GREEN);
        if (streq(state, "paused") || startswith(state, "stopping"))
                return ansi(ANSI_YELLOW);
        if (streq(state, "queued"))
                return ansi(ANSI_GREY);
        return NULL;
}

static const char *result_color(const char *result) {
        if (!result || !*result || streq(result, "success"))
                return NULL;
        return ansi(ANSI_RED);
}

/* The sessions that left the bus, from their records (ListRecords has every record, live sessions'
 * too): added to `l` where the bus has no session of that id. */
static int add_records(sd_bus *bus, SessionInfo **l, size_t *n) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *id, *state, *result, *description;
        uint32_t uid;
        uint64_t created, finished;
        size_t n_live = *n;
        int r;

        r = bus_call_manager(bus, "ListRecords", &error, &reply, NULL);
        if (r < 0)
                return log_bus_error(bus, &error, r, NULL, "list the records of finished sessions");
        r = sd_bus_message_enter_container(reply, 'a', "(sssustt)");
        while (r >= 0 &&
               (r = sd_bus_message_read(reply, "(sssustt)", &id, &state, &result, &uid, &description, &created,
                                        &finished)) > 0) {
                SessionInfo *grown, *s;
                bool live = false;

                for (size_t i = 0; i < n_live && !live; i++)
                        live = streq((*l)[i].id, id);
                if (live)
                        continue;
                grown = reallocarray(*l, *n + 1, sizeof(SessionInfo));
                if (!grown)
                        return log_oom();
                *l = grown;
                s = &(*l)[(*n)++];
                *s = (SessionInfo) {
                        .id = strdup(id),
                        .state = strdup(state),
                        .result = strdup(result),
                        .owner_uid = uid,
                        .description = strdup(description),
                        .created_usec = created,
                        .finished_usec = finished,
                };
                if (!s->id || !s->state || !s->result || !s->description)
                        return log_oom();
        }
        if (r < 0)
                return log_error_errno(r, "Failed to parse the list of records: %m");
        qsort(*l, *n, sizeof(SessionInfo), compare_session_info);
        return 0;
}

/* Where the queued sessions stand, for those whose Status we may read (ours; everybody's for
 * root); the others' stays unknown. */
static int read_queue_positions(sd_bus *bus, SessionInfo *l, size_t n) {
        for (size_t i = 0; i < n; i++) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
                const char *key;
                int r;

                if (!streq(l[i].state, "queued") || !l[i].path)
                        continue;
                /* Others' are not ours to read: no call to be refused. Over -H/-M, who we are there
                 * is not known here. */
                if (!profctl_is_remote() && geteuid() != 0 && l[i].owner_uid != geteuid())
                        continue;
                r = bus_call_manager(bus, "Status", &error, &reply, "s", l[i].id);
                if (r < 0) {
                        log_debug("Status of session %s, skipping: %s", l[i].id, strempty(error.message));
                        continue;
                }
                r = sd_bus_message_enter_container(reply, 'a', "{sv}");
                while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                        const char *v;

                        r = sd_bus_message_read(reply, "s", &key);
                        if (r < 0)
                                break;
                        if (streq(key, "QueuePosition"))
                                r = sd_bus_message_read(reply, "v", "u", &l[i].queue_position);
                        else if (streq(key, "WaitingFor")) {
                                r = sd_bus_message_read(reply, "v", "s", &v);
                                if (r >= 0) {
                                        free(l[i].waiting_for);
                                        l[i].waiting_for = strdup(v);
                                        if (!l[i].waiting_for)
                                                return log_oom();
                                }
                        } else
                                r = sd_bus_message_skip(reply, "v");
                        if (r >= 0)
                                r = sd_bus_message_exit_container(reply);
                }
                if (r < 0)
                        log_debug_errno(r, "Failed to parse the status of session %s, ignoring: %m", l[i].id);
        }
        return 0;
}

static void list_write_json(const SessionInfo *l, size_t n, bool all) {
        bool first = true;

        fputc('[', stdout);
        for (size_t i = 0; i < n; i++) {
                const SessionInfo *s = &l[i];
                bool finished = streq(s->state, "finished"), queued = streq(s->state, "queued");
                char owner[64];

                if (!all && finished)
                        continue;
                fputs(first ? "{\"id\":" : ",{\"id\":", stdout);
                first = false;
                json_write_string(stdout, s->id);
                fputs(",\"state\":", stdout);
                json_write_string(stdout, s->state);
                fputs(",\"result\":", stdout);
                json_write_string(stdout, strempty(s->result));
                if (s->pid > 0 && !finished)
                        fprintf(stdout, ",\"pid\":%" PRIu32, s->pid);
                else
                        fputs(",\"pid\":null", stdout);
                fprintf(stdout, ",\"owner_uid\":%" PRIu32 ",\"owner\":", s->owner_uid);
                json_write_string(stdout, owner_name(s->owner_uid, owner, sizeof(owner)));
                fprintf(stdout, ",\"created_usec\":%" PRIu64 ",\"finished_usec\":%" PRIu64 ",\"description\":",
                        s->created_usec, s->finished_usec);
                json_write_string(stdout, s->description);
                fputs(",\"path\":", stdout);
                if (s->path)
                        json_write_string(stdout, s->path);
                else
                        fputs("null", stdout);
                /* Known for queued sessions whose Status we may read; not queued: 0 and "". */
                if (queued && !s->waiting_for)
                        fputs(",\"queue_position\":null,\"waiting_for\":null", stdout);
                else {
                        fprintf(stdout, ",\"queue_position\":%" PRIu32 ",\"waiting_for\":", s->queue_position);
                        json_write_string(stdout, strempty(s->waiting_for));
                }
                fputc('}', stdout);
        }
        fputs("]\n", stdout);
}

static int list_option(int opt, const char *arg, void *userdata) {
        bool *all = userdata;

        *all = true; /* -a, the only one */
        return 0;
}

/* "5s ago", or "-" before it finished. */
static const char *format_finished(char *buf, size_t size, usec_t finished, usec_t now) {
        char age[FORMAT_SIZE_MAX];

        if (finished == 0)
                snprintf(buf, size, "-");
        else
                snprintf(buf, size, "%s ago", format_age(age, sizeof(age), now > finished ? now - finished : 0));
        return buf;
}

int verb_list(int argc, char *argv[]) {
        static const struct option options[] = {
                { "all", no_argument, NULL, 'a' },
                { NULL, 0, NULL, 0 }
        };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(table_freep) Table *t = NULL;
        SessionInfo *l = NULL;
        size_t n = 0, hidden = 0;
        bool all = false;
        usec_t now = now_usec(CLOCK_REALTIME);
        int r, status = EXIT_SUCCESS;

        r = verb_parse_options(argc, argv, "a", options, list_option, &all, list_help);
        if (r <= 0)
                return r < 0 ? PROFCTL_EXIT_USAGE : EXIT_SUCCESS;
        if (optind < argc) {
                log_error("Unexpected argument '%s': profctl list takes no sessions; see 'profctl status ID'.",
                          argv[optind]);
                return PROFCTL_EXIT_USAGE;
        }

        r = profctl_connect(&bus);
        if (r < 0)
                return PROFCTL_EXIT_FAILURE;
        r = list_sessions(bus, true, &l, &n);
        if (r < 0)
                return PROFCTL_EXIT_FAILURE;
        /* What the bus has is listed even when the records cannot be: but not as a success. */
        if (all && add_records(bus, &l, &n) < 0)
                status = PROFCTL_EXIT_FAILURE;
        if (read_queue_positions(bus, l, n) < 0) {
                status = PROFCTL_EXIT_FAILURE;
                goto finish;
        }

        if (arg_json) {
                list_write_json(l, n, all);
                goto finish;
        }

        /* With --all, when each finished too: the point of listing finished sessions. */
        if (all)
                r = table_new(&t, 7, "ID", "STATE", "RESULT", "PID", "OWNER", "AGE", "FINISHED", "DESCRIPTION",
                              NULL);
        else
                r = table_new(&t, 6, "ID", "STATE", "RESULT", "PID", "OWNER", "AGE", "DESCRIPTION", NULL);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                const SessionInfo *s = &l[i];
                bool finished = streq(s->state, "finished");
                char pid[16] = "", owner[64], age[FORMAT_SIZE_MAX] = "-", ended[FORMAT_SIZE_MAX + 8];

                if (!all && finished) {
                        hidden++;
                        continue;
                }
                if (s->pid > 0 && !finished)
                        snprintf(pid, sizeof(pid), "%" PRIu32, s->pid);
                if (s->created_usec > 0 && s->created_usec <= now)
                        format_age(age, sizeof(age), now - s->created_usec);
                r = table_add(t, s->id, NULL);
                if (r >= 0)
                        r = table_add(t, s->state, state_color(s->state));
                if (r >= 0)
                        r = table_add(t, s->result && *s->result ? s->result : "-", result_color(s->result));
                if (r >= 0)
                        r = table_add(t, pid, NULL);
                if (r >= 0)
                        r = table_add(t, owner_name(s->owner_uid, owner, sizeof(owner)), NULL);
                if (r >= 0)
                        r = table_add(t, age, NULL);
                if (r >= 0 && all)
                        r = table_add(t, format_finished(ended, sizeof(ended), s->finished_usec, now), NULL);
                if (r >= 0)
                        r = table_add(t, s->description, NULL);
        }
        if (r < 0) {
                log_oom();
                status = PROFCTL_EXIT_FAILURE;
                goto finish;
        }

        if (table_rows(t) > 0)
                table_print(t, stdout, terminal_columns(), !arg_no_legend, ansi(ANSI_HEADER), use_utf8());
        if (!arg_no_legend) {
                bool blank = table_rows(t) > 0;

                /* What the queued sessions wait for, as far as we may know. */
                for (size_t i = 0; i < n; i++) {
                        char queued[FORMAT_QUEUED_MAX];

                        if (!streq(l[i].state, "queued") || !l[i].waiting_for)
                                continue;
                        printf("%sSession %s is %s.\n", blank ? "\n" : "", l[i].id,
                               format_queued(queued, sizeof(queued), l[i].queue_position, l[i].waiting_for));
                        blank = false;
                }
                printf("%s%zu session%s listed.", blank ? "\n" : "", table_rows(t), table_rows(t) == 1 ? "" : "s");
                if (hidden > 0)
                        printf(" Pass --all to see %zu finished session%s too.", hidden, hidden == 1 ? "" : "s");
                fputc('\n', stdout);
        }

finish:
        session_infos_free(l, n);
        return status;
}

/* The Status dictionary as JSON: variants unwrapped, a{sv} as objects, other arrays and structs
 * as arrays. A uint64 of all ones is how the bus says "unknown" or "infinity": null. */
static int json_write_bus_value(FILE *f, sd_bus_message *m) {
        const char *contents;
        char type;
        int r;

        r = sd_bus_message_peek_type(m, &type, &contents);
        if (r < 0)
                return r;
        if (r == 0)
                return -EBADMSG;

        if (type == SD_BUS_TYPE_VARIANT || type == SD_BUS_TYPE_STRUCT || type == SD_BUS_TYPE_ARRAY) {
                bool dict = type == SD_BUS_TYPE_ARRAY && contents[0] == SD_BUS_TYPE_DICT_ENTRY_BEGIN;
                bool first = true;

                r = sd_bus_message_enter_container(m, type, contents);
                if (r < 0)
                        return r;
                if (type == SD_BUS_TYPE_VARIANT)
                        r = json_write_bus_value(f, m);
                else {
                        fputc(dict ? '{' : '[', f);
                        for (;;) {
                                r = sd_bus_message_peek_type(m, NULL, NULL);
                                if (r <= 0)
                                        break;
                                if (!first)
                                        fputc(',', f);
                                first = false;
                                if (dict) {
                                        r = sd_bus_message_enter_container(m, SD_BUS_TYPE_DICT_ENTRY, NULL);
                                        if (r < 0)
                                                break;
                                        /* Keys are strings here; anything else is quoted. */
                                        r = sd_bus_message_peek_type(m, &type, NULL);
                                        if (r > 0 && IN_SET(type, SD_BUS_TYPE_STRING, SD_BUS_TYPE_OBJECT_PATH,
                                                            SD_BUS_TYPE_SIGNATURE))
                                                r = json_write_bus_value(f, m);
                                        else if (r > 0) {
                                                fputc('"', f);
                                                r = json_write_bus_value(f, m);
                                                fputc('"', f);
                                        }
                                        if (r < 0)
                                                break;
                                        fputc(':', f);
                                        r = json_write_bus_value(f, m);
                                        if (r < 0)
                                                break;
                                        r = sd_bus_message_exit_container(m);
                                } else
                                        r = json_write_bus_value(f, m);
                                if (r < 0)
                                        break;
                        }
                        fputc(dict ? '}' : ']', f);
                }
                if (r < 0)
                        return r;
                return sd_bus_message_exit_container(m);
        }

        union {
                uint8_t u8;
                int16_t s16;
                uint16_t u16;
                int32_t s32;
                uint32_t u32;
                int64_t s64;
                uint64_t u64;
                double d;
                int b;
                const char *s;
        } v;

        r = sd_bus_message_read_basic(m, type, &v);
        if (r < 0)
                return r;
        switch (type) {
        case SD_BUS_TYPE_STRING:
        case SD_BUS_TYPE_OBJECT_PATH:
        case SD_BUS_TYPE_SIGNATURE:
                json_write_string(f, v.s);
                break;
        case SD_BUS_TYPE_BOOLEAN:
                fputs(v.b ? "true" : "false", f);
                break;
        case SD_BUS_TYPE_BYTE:
                fprintf(f, "%u", (unsigned) v.u8);
                break;
        case SD_BUS_TYPE_INT16:
                fprintf(f, "%d", (int) v.s16);
                break;
        case SD_BUS_TYPE_UINT16:
                fprintf(f, "%u", (unsigned) v.u16);
                break;
        case SD_BUS_TYPE_INT32:
        case SD_BUS_TYPE_UNIX_FD:
                fprintf(f, "%" PRIi32, v.s32);
                break;
        case SD_BUS_TYPE_UINT32:
                fprintf(f, "%" PRIu32, v.u32);
                break;
        case SD_BUS_TYPE_INT64:
                fprintf(f, "%" PRIi64, v.s64);
                break;
        case SD_BUS_TYPE_UINT64:
                if (v.u64 == UINT64_MAX)
                        fputs("null", f);
                else
                        fprintf(f, "%" PRIu64, v.u64);
                break;
        case SD_BUS_TYPE_DOUBLE:
                if (isfinite(v.d))
                        fprintf(f, "%.17g", v.d);
                else
                        fputs("null", f);
                break;
        default:
                return -EBADMSG;
        }
        return 0;
}

typedef struct ProcessDetails {
        const char *name, *role, *state, *end;
        uint32_t pid;
        uint64_t cpu_usec, memory_bytes;
        int exit_unknown;       /* it ended while profd was not watching */
} ProcessDetails;

typedef struct StatusInfo {
        const char *id, *state, *result, *description, *slice, *output_directory, *stop_cause;
        const char *waiting_for, *group;
        uint32_t owner, target_pid, queue_position;
        int exit_status, priority, exclusive, persisted, adopted;
        uint64_t created_usec, finished_usec;
        char **target, **claims, **uses, **after;
        bool after_success;     /* `after` came as AfterSuccess */
        ProcessDetails *processes;
        size_t n_processes;
} StatusInfo;

static void status_info_done(StatusInfo *s) {
        strv_free(s->target);
        strv_free(s->claims);
        strv_free(s->uses);
        strv_free(s->after);
        free(s->processes);
}

/* An `as` in a variant. */
static int read_strv_variant(sd_bus_message *m, char ***ret) {
        char **l = NULL;
        int r;

        r = sd_bus_message_enter_container(m, 'v', "as");
        if (r < 0)
                return r;
        r = sd_bus_message_read_strv(m, &l);
        if (r < 0)
                return r;
        strv_free(*ret);
        *ret = l;
        return sd_bus_message_exit_container(m);
}

static int read_process_details(sd_bus_message *m, StatusInfo *s) {
        const char *key;
        int r;

        r = sd_bus_message_enter_container(m, 'v', "aa{sv}");
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(m, 'a', "a{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'a', "{sv}")) > 0) {
                ProcessDetails *grown, *p;

                grown = reallocarray(s->processes, s->n_processes + 1, sizeof(ProcessDetails));
                if (!grown)
                        return -ENOMEM;
                s->processes = grown;
                p = &s->processes[s->n_processes++];
                *p = (ProcessDetails) { .name = "", .role = "", .state = "", .end = "",
                                        .cpu_usec = UINT64_MAX, .memory_bytes = UINT64_MAX };

                while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                        r = sd_bus_message_read(m, "s", &key);
                        if (r < 0)
                                return r;
                        if (streq(key, "Name"))
                                r = sd_bus_message_read(m, "v", "s", &p->name);
                        else if (streq(key, "Role"))
                                r = sd_bus_message_read(m, "v", "s", &p->role);
                        else if (streq(key, "State"))
                                r = sd_bus_message_read(m, "v", "s", &p->state);
                        else if (streq(key, "End"))
                                r = sd_bus_message_read(m, "v", "s", &p->end);
                        else if (streq(key, "PID"))
                                r = sd_bus_message_read(m, "v", "u", &p->pid);
                        else if (streq(key, "CPUUSec"))
                                r = sd_bus_message_read(m, "v", "t", &p->cpu_usec);
                        else if (streq(key, "MemoryBytes"))
                                r = sd_bus_message_read(m, "v", "t", &p->memory_bytes);
                        else if (streq(key, "ExitUnknown"))
                                r = sd_bus_message_read(m, "v", "b", &p->exit_unknown);
                        else
                                r = sd_bus_message_skip(m, "v");
                        if (r < 0)
                                return r;
                        r = sd_bus_message_exit_container(m);
                        if (r < 0)
                                return r;
                }
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

/* Strings point into `m`, which must outlive `ret`. */
static int read_status_info(sd_bus_message *m, StatusInfo *ret) {
        const char *key;
        int r;

        *ret = (StatusInfo) { .exit_status = -1, .id = "", .state = "", .result = "", .description = "",
                              .slice = "", .output_directory = "", .stop_cause = "", .waiting_for = "",
                              .group = "" };
        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                r = sd_bus_message_read(m, "s", &key);
                if (r < 0)
                        return r;
                if (streq(key, "Id"))
                        r = sd_bus_message_read(m, "v", "s", &ret->id);
                else if (streq(key, "State"))
                        r = sd_bus_message_read(m, "v", "s", &ret->state);
                else if (streq(key, "Result"))
                        r = sd_bus_message_read(m, "v", "s", &ret->result);
                else if (streq(key, "StopCause"))
                        r = sd_bus_message_read(m, "v", "s", &ret->stop_cause);
                else if (streq(key, "Description"))
                        r = sd_bus_message_read(m, "v", "s", &ret->description);
                else if (streq(key, "Slice"))
                        r = sd_bus_message_read(m, "v", "s", &ret->slice);
                else if (streq(key, "OutputDirectory"))
                        r = sd_bus_message_read(m, "v", "s", &ret->output_directory);
                else if (streq(key, "Owner"))
                        r = sd_bus_message_read(m, "v", "u", &ret->owner);
                else if (streq(key, "ExitStatus"))
                        r = sd_bus_message_read(m, "v", "i", &ret->exit_status);
                else if (streq(key, "CreatedTimestamp"))
                        r = sd_bus_message_read(m, "v", "t", &ret->created_usec);
                else if (streq(key, "FinishedTimestamp"))
                        r = sd_bus_message_read(m, "v", "t", &ret->finished_usec);
                else if (streq(key, "TargetPID"))
                        r = sd_bus_message_read(m, "v", "u", &ret->target_pid);
                else if (streq(key, "QueuePosition"))
                        r = sd_bus_message_read(m, "v", "u", &ret->queue_position);
                else if (streq(key, "WaitingFor"))
                        r = sd_bus_message_read(m, "v", "s", &ret->waiting_for);
                else if (streq(key, "Persisted"))
                        r = sd_bus_message_read(m, "v", "b", &ret->persisted);
                else if (streq(key, "Adopted"))
                        r = sd_bus_message_read(m, "v", "b", &ret->adopted);
                else if (streq(key, "Group"))
                        r = sd_bus_message_read(m, "v", "s", &ret->group);
                else if (streq(key, "Exclusive"))
                        r = sd_bus_message_read(m, "v", "b", &ret->exclusive);
                else if (streq(key, "Priority"))
                        r = sd_bus_message_read(m, "v", "i", &ret->priority);
                else if (streq(key, "Target"))
                        r = read_strv_variant(m, &ret->target);
                else if (streq(key, "Claims"))
                        r = read_strv_variant(m, &ret->claims);
                else if (streq(key, "Uses"))
                        r = read_strv_variant(m, &ret->uses);
                else if (streq(key, "After") || streq(key, "AfterSuccess")) {
                        ret->after_success = streq(key, "AfterSuccess");
                        r = read_strv_variant(m, &ret->after);
                } else if (streq(key, "ProcessDetails"))
                        r = read_process_details(m, ret);
                else
                        r = sd_bus_message_skip(m, "v");
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

static void print_field(const char *label, const char *format, ...) _printf_(2, 3);
static void print_field(const char *label, const char *format, ...) {
        va_list ap;

        /* Labels right-aligned on their colon, as systemctl status has them. */
        printf("%9s: ", label);
        va_start(ap, format);
        vprintf(format, ap);
        va_end(ap);
        fputc('\n', stdout);
}

static const char *format_timestamp(char *buf, size_t size, usec_t t) {
        time_t sec = (time_t) (t / USEC_PER_SEC);
        struct tm tm;

        if (t == 0 || !localtime_r(&sec, &tm) || strftime(buf, size, "%a %Y-%m-%d %H:%M:%S %Z", &tm) == 0)
                snprintf(buf, size, "-");
        return buf;
}

static int compare_strings(const void *a, const void *b) {
        return strcmp(*(char * const *) a, *(char * const *) b);
}

/* The output directory's files with their sizes: the profile is what the user came for. Only
 * where the directory is ours to read (not over -H/-M). */
static void print_output_files(const char *path) {
        _cleanup_(closedirp) DIR *d = NULL;
        _cleanup_strv_free_ char **names = NULL;
        size_t n = 0, width = 0, shown;
        int dfd;

        if (profctl_is_remote() || !*path)
                return;
        d = opendir(path);
        if (!d) {
                printf("%11s(cannot list: %s)\n", "", strerror(errno));
                return;
        }
        for (struct dirent *de; (de = readdir(d));) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (strv_extend(&names, &n, de->d_name) < 0)
                        return;
        }
        if (n == 0) {
                printf("%11s(empty)\n", "");
                return;
        }
        qsort(names, n, sizeof(char *), compare_strings);
        for (size_t i = 0; i < n; i++)
                width = MAX(width, utf8_width(names[i]));

        dfd = dirfd(d);
        shown = MIN(n, (size_t) OUTPUT_FILES_MAX);
        for (size_t i = 0; i < shown; i++) {
                char size[FORMAT_SIZE_MAX] = "-";
                struct stat st;
                bool dir = false;

                if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) >= 0) {
                        dir = S_ISDIR(st.st_mode);
                        if (S_ISREG(st.st_mode))
                                format_bytes(size, sizeof(size), (uint64_t) st.st_size);
                }
                printf("%11s%s%s%*s  %s\n", "", names[i], dir ? "/" : "",
                       (int) (width - utf8_width(names[i]) + (dir ? 0 : 1)), "", dir ? "" : size);
        }
        if (n > shown)
                printf("%11s%s and %zu more\n", "", use_utf8() ? "…" : "...", n - shown);
}

static void print_processes(const StatusInfo *s) {
        _cleanup_(table_freep) Table *t = NULL;
        int r;

        r = table_new(&t, 4, "NAME", "ROLE", "PID", "STATE", "END", "CPU", "MEMORY", NULL);
        for (size_t i = 0; r >= 0 && i < s->n_processes; i++) {
                const ProcessDetails *p = &s->processes[i];
                char pid[16] = "-", cpu[FORMAT_SIZE_MAX], memory[FORMAT_SIZE_MAX];
                /* While it runs, "how it ended" only repeats the state. It ended unseen while profd
                 * was restarted: no status to tell, nor to call a failure. */
                const char *end = p->exit_unknown ? "exited, status unknown" :
                                  streq(p->end, p->state) ? "-" : p->end;
                bool failed = !p->exit_unknown && !streq(end, "-") && !streq(end, "exited 0") &&
                              !streq(end, "never started") && !startswith(end, "killed by SIGTERM");

                if (p->pid > 0)
                        snprintf(pid, sizeof(pid), "%" PRIu32, p->pid);
                r = table_add(t, p->name, ansi(ANSI_BOLD));
                if (r >= 0)
                        r = table_add(t, p->role, NULL);
                if (r >= 0)
                        r = table_add(t, pid, NULL);
                if (r >= 0)
                        r = table_add(t, p->state, state_color(p->state));
                if (r >= 0)
                        r = table_add(t, end, failed ? ansi(ANSI_RED) :
                                              p->exit_unknown ? ansi(ANSI_YELLOW) : NULL);
                if (r >= 0)
                        r = table_add(t, format_cpu(cpu, sizeof(cpu), p->cpu_usec), NULL);
                if (r >= 0)
                        r = table_add(t, format_bytes(memory, sizeof(memory), p->memory_bytes), NULL);
        }
        if (r < 0) {
                log_oom();
                return;
        }
        table_print(t, stdout, terminal_columns(), true, ansi(ANSI_HEADER), use_utf8());
}

/* What the session was queued with, where it was given. */
static void print_scheduling(const StatusInfo *s) {
        if (s->claims && s->claims[0]) {
                _cleanup_free_ char *l = strv_join(s->claims, ", ");

                print_field("Claims", "%s", l ? l : "?");
        }
        if (s->uses && s->uses[0]) {
                _cleanup_free_ char *l = strv_join(s->uses, ", ");

                print_field("Uses", "%s", l ? l : "?");
        }
        if (s->priority != 0)
                print_field("Priority", "%d (lower runs first)", s->priority);
        if (*s->group)
                print_field("Group", "%s%s", s->group, s->exclusive ? " (exclusive: one at a time)" : "");
        if (s->after && s->after[0]) {
                _cleanup_free_ char *l = strv_join(s->after, ", ");

                print_field("After", "%s%s", l ? l : "?", s->after_success ? " (each must succeed)" : "");
        }
}

static void print_status(const StatusInfo *s) {
        _cleanup_free_ char *command = NULL;
        const char *dot_color;
        char owner[64], when[128], age[FORMAT_SIZE_MAX];
        usec_t now = now_usec(CLOCK_REALTIME);
        bool finished = streq(s->state, "finished"), queued = streq(s->state, "queued");

        /* The dot says at a glance how it goes, as in systemctl status. */
        if (!finished)
                dot_color = streq(s->state, "running") ? ansi(ANSI_GREEN) : ansi(ANSI_YELLOW);
        else
                dot_color = streq(s->result, "success") ? NULL : ansi(ANSI_RED);
        printf("%s%s%s %s", strempty(dot_color), use_utf8() && isatty(STDOUT_FILENO) ? "●" : "*",
               dot_color ? "\033[0m" : "", s->id);
        if (*s->description)
                printf(" - %s", s->description);
        fputc('\n', stdout);

        if (queued) {
                char position[FORMAT_QUEUED_MAX];

                print_field("State", "%s%s%s", strempty(state_color(s->state)),
                            format_queued(position, sizeof(position), s->queue_position, NULL),
                            state_color(s->state) ? "\033[0m" : "");
                if (*s->waiting_for)
                        print_field("Waiting", "%s", s->waiting_for);
        } else
                print_field("State", "%s%s%s", strempty(state_color(s->state)), s->state,
                            state_color(s->state) ? "\033[0m" : "");
        if (finished) {
                char how[64];

                /* A session that never ran has no exit status but a made-up one. */
                if (s->target_pid == 0)
                        snprintf(how, sizeof(how), "never ran");
                else if (s->exit_status < 0)
                        snprintf(how, sizeof(how), "exit status unknown");
                else
                        snprintf(how, sizeof(how), "exit status %d", s->exit_status);
                print_field("Result", "%s%s%s (%s)", strempty(result_color(s->result)), s->result,
                            result_color(s->result) ? "\033[0m" : "", how);
        } else
                print_field("Result", "-");
        /* Not on the bus any more, or taken over after a restart: what is shown is what the record
         * kept, and how a process ended unseen is not known. */
        if (s->persisted || s->adopted)
                print_field("Record", "%s%s%s",
                            s->persisted ? "read from disk, the session is no longer on the bus" : "",
                            s->persisted && s->adopted ? "; " : "",
                            s->adopted ? "adopted after a restart of profd" : "");
        print_field("Owner", "%s (%" PRIu32 ")", owner_name(s->owner, owner, sizeof(owner)), s->owner);
        if (s->target) {
                command = command_line_description(s->target, SIZE_MAX, use_utf8());
                if (command)
                        print_field("Command", "%s", command);
        }
        print_scheduling(s);
        print_field("Slice", "%s", *s->slice ? s->slice : "-");
        print_field("Output", "%s", *s->output_directory ? s->output_directory : "-");
        print_output_files(s->output_directory);
        /* Created is when it was asked for; the target started then unless it had to wait. */
        if (s->created_usec > 0)
                print_field(queued ? "Queued" : s->target_pid == 0 ? "Created" : "Started", "%s; %s ago",
                            format_timestamp(when, sizeof(when), s->created_usec),
                            format_age(age, sizeof(age), now > s->created_usec ? now - s->created_usec : 0));
        if (finished && s->finished_usec > 0)
                print_field("Finished", "%s; %s ago", format_timestamp(when, sizeof(when), s->finished_usec),
                            format_age(age, sizeof(age), now > s->finished_usec ? now - s->finished_usec : 0));
        fputc('\n', stdout);
        print_processes(s);
}

int verb_status(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_strv_free_ char **ids = NULL;
        size_t n_ids = 0;
        int r, status = EXIT_SUCCESS;

        r = verb_parse_options(argc, argv, NULL, NULL, NULL, NULL, status_help);
        if (r <= 0)
                return r < 0 ? PROFCTL_EXIT_USAGE : EXIT_SUCCESS;
        for (int i = optind; i < argc; i++) {
                const char *id;

                if (session_ref_parse(argv[i], &id) < 0)
                        return PROFCTL_EXIT_USAGE;
                if (strv_extend(&ids, &n_ids, id) < 0) {
                        log_oom();
                        return PROFCTL_EXIT_FAILURE;
                }
        }

        r = profctl_connect(&bus);
        if (r < 0)
                return PROFCTL_EXIT_FAILURE;

        if (n_ids == 0) {
                SessionInfo *l = NULL;
                size_t n = 0;

                r = list_sessions(bus, false, &l, &n);
                if (r < 0)
                        return PROFCTL_EXIT_FAILURE;
                for (size_t i = 0; r >= 0 && i < n; i++)
                        if (l[i].owner_uid == geteuid() && !streq(l[i].state, "finished"))
                                r = strv_extend(&ids, &n_ids, l[i].id);
                session_infos_free(l, n);
                if (r < 0) {
                        log_oom();
                        return PROFCTL_EXIT_FAILURE;
                }
                if (n_ids == 0) {
                        if (!arg_quiet && !arg_json)
                                printf("No session of yours is running. See 'profctl list --all'.\n");
                        return EXIT_SUCCESS;
                }
        }

        for (size_t i = 0; i < n_ids; i++) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
                _cleanup_(status_info_done) StatusInfo info = { 0 };

                r = bus_call_manager(bus, "Status", &error, &reply, "s", ids[i]);
                if (r < 0) {
                        log_bus_error(bus, &error, r, ids[i], "get the status of the session");
                        status = PROFCTL_EXIT_FAILURE;
                        continue;
                }
                if (arg_json) {
                        r = json_write_bus_value(stdout, reply);
                        fputc('\n', stdout);
                } else {
                        r = read_status_info(reply, &info);
                        if (r >= 0) {
                                if (i > 0)
                                        fputc('\n', stdout);
                                print_status(&info);
                        }
                }
                if (r < 0) {
                        log_error_errno(r, "Failed to parse the status of session %s: %m", ids[i]);
                        status = PROFCTL_EXIT_FAILURE;
                }
        }
        return status;
}
