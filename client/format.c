/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <signal.h>
#include <stdarg.h>
#include <strings.h>

#include "format.h"
#include "shell-split.h"

const char *format_bytes(char *buf, size_t size, uint64_t bytes) {
        static const char suffixes[] = "KMGTPE";
        double v = (double) bytes;
        size_t i;

        if (bytes == UINT64_MAX) {
                snprintf(buf, size, "-");
                return buf;
        }
        if (bytes < 1024) {
                snprintf(buf, size, "%" PRIu64 "B", bytes);
                return buf;
        }
        for (i = 0, v /= 1024.0; v >= 1024.0 && i + 1 < sizeof(suffixes) - 1; i++)
                v /= 1024.0;
        snprintf(buf, size, "%.1f%c", v, suffixes[i]);
        return buf;
}

const char *format_cpu(char *buf, size_t size, uint64_t usec) {
        if (usec == UINT64_MAX)
                snprintf(buf, size, "-");
        else if (usec >= 60 * USEC_PER_SEC)
                snprintf(buf, size, "%" PRIu64 "min %.3fs", usec / (60 * USEC_PER_SEC),
                         (double) (usec % (60 * USEC_PER_SEC)) / (double) USEC_PER_SEC);
        else
                snprintf(buf, size, "%.3fs", (double) usec / (double) USEC_PER_SEC);
        return buf;
}

const char *format_age(char *buf, size_t size, usec_t t) {
        uint64_t s = t / USEC_PER_SEC;

        if (t < USEC_PER_SEC)
                snprintf(buf, size, "%" PRIu64 "ms", t / USEC_PER_MSEC);
        else if (s < 60)
                snprintf(buf, size, "%" PRIu64 "s", s);
        else if (s < 3600)
                snprintf(buf, size, "%" PRIu64 "min %" PRIu64 "s", s / 60, s % 60);
        else if (s < 24 * 3600)
                snprintf(buf, size, "%" PRIu64 "h %" PRIu64 "min", s / 3600, (s / 60) % 60);
        else
                snprintf(buf, size, "%" PRIu64 "d %" PRIu64 "h", s / (24 * 3600), (s / 3600) % 24);
        return buf;
}

static int parse_small_number(const char *s, int *ret) {
        char *end;
        long v;

        if (!isdigit((unsigned char) *s))
                return -EINVAL;
        errno = 0;
        v = strtol(s, &end, 10);
        if (errno != 0 || *end || v > 1000)
                return -EINVAL;
        *ret = (int) v;
        return 0;
}

int signal_from_string(const char *s) {
        const char *name;
        int n;

        if (!s || !*s)
                return -EINVAL;
        if (isdigit((unsigned char) *s)) {
                if (parse_small_number(s, &n) < 0 || n <= 0 || n >= _NSIG)
                        return -EINVAL;
                return n;
        }

        name = strncasecmp(s, "SIG", 3) == 0 ? s + 3 : s;
        /* Real-time signals are numbered from the ends of their range, as kill(1) spells them. */
        if (strncasecmp(name, "RTMIN", 5) == 0 || strncasecmp(name, "RTMAX", 5) == 0) {
                bool min = toupper((unsigned char) name[3]) == 'I';
                const char *rest = name + 5;
                int offset = 0;

                if (*rest) {
                        if (*rest != (min ? '+' : '-') || parse_small_number(rest + 1, &offset) < 0)
                                return -EINVAL;
                }
                n = min ? SIGRTMIN + offset : SIGRTMAX - offset;
                if (n < SIGRTMIN || n > SIGRTMAX)
                        return -EINVAL;
                return n;
        }
        for (n = 1; n < SIGRTMIN; n++) {
                const char *abbrev = sigabbrev_np(n);

                if (abbrev && strcasecmp(abbrev, name) == 0)
                        return n;
        }
        return -EINVAL;
}

const char *session_ref_to_id(const char *ref) {
        return ref[0] == '%' && ref[1] ? ref + 1 : ref;
}

bool session_id_is_numeric(const char *id, uint64_t *ret) {
        char *end;
        unsigned long long v;

        if (!isdigit((unsigned char) *id))
                return false;
        errno = 0;
        v = strtoull(id, &end, 10);
        if (errno != 0 || *end)
                return false;
        if (ret)
                *ret = v;
        return true;
}

bool session_id_is_valid(const char *id) {
        size_t n;

        if (!id)
                return false;
        n = strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
        return n > 0 && n <= SESSION_ID_MAX && id[n] == '\0';
}

const char *format_queued(char *buf, size_t size, uint32_t position, const char *waiting_for) {
        bool why = waiting_for && *waiting_for;

        if (position > 0)
                snprintf(buf, size, "queued (position %" PRIu32 ")%s%s", position, why ? ": " : "",
                         why ? waiting_for : "");
        else
                snprintf(buf, size, "queued%s%s", why ? ": " : "", why ? waiting_for : "");
        return buf;
}

char *strv_join(char * const *l, const char *separator) {
        size_t n = 1, k = strlen(separator);
        char *r, *p;

        for (char * const *s = l; s && *s; s++)
                n += strlen(*s) + (s == l ? 0 : k);
        r = malloc(n);
        if (!r)
                return NULL;
        p = r;
        for (char * const *s = l; s && *s; s++) {
                if (s != l)
                        p = stpcpy(p, separator);
                p = stpcpy(p, *s);
        }
        *p = '\0';
        return r;
}

int session_id_compare(const char *a, const char *b) {
        uint64_t x, y;
        bool na = session_id_is_numeric(a, &x), nb = session_id_is_numeric(b, &y);

        if (na && nb)
                return x < y ? -1 : x > y;
        if (na != nb)
                return na ? -1 : 1;
        return strcmp(a, b);
}

uint64_t session_id_distance(const char *id, uint64_t n) {
        uint64_t v;

        if (!session_id_is_numeric(id, &v))
                return UINT64_MAX;
        return v > n ? v - n : n - v;
}

size_t utf8_width(const char *s) {
        size_t n = 0;

        for (const unsigned char *c = (const unsigned char *) s; *c; c++)
                if ((*c & 0xc0) != 0x80)
                        n++;
        return n;
}

char *ellipsize(const char *s, size_t width, bool utf8) {
        const char *dots = utf8 ? "…" : "...";
        size_t dots_width = utf8 ? 1 : 3, n = 0;
        const unsigned char *c;
        char *r;

        if (utf8_width(s) <= width)
                return strdup(s);
        if (width == 0)
                return strdup("");
        if (width <= dots_width)
                return utf8 ? strdup(dots) : strndup(dots, width);

        /* Whole characters only: stop at the start of the first one that does not fit. */
        for (c = (const unsigned char *) s; *c; c++)
                if ((*c & 0xc0) != 0x80 && n++ == width - dots_width)
                        break;
        if (asprintf(&r, "%.*s%s", (int) (c - (const unsigned char *) s), s, dots) < 0)
                return NULL;
        return r;
}

char *command_line_description(char * const *argv, size_t width, bool utf8) {
        _cleanup_free_ char *line = NULL;
        size_t n = 0;
        FILE *f;

        f = open_memstream(&line, &n);
        if (!f)
                return NULL;
        for (char * const *a = argv; a && *a; a++) {
                _cleanup_free_ char *q = shell_quote(*a);

                if (!q) {
                        fclose(f);
                        return NULL;
                }
                fprintf(f, "%s%s", a == argv ? "" : " ", q);
        }
        if (fclose(f) != 0)
                return NULL;

        /* C0, DEL and the C1 range in UTF-8 (0xc2 0x80-0x9f): the daemon refuses them. */
        for (unsigned char *c = (unsigned char *) line; *c; c++)
                if (*c < 0x20 || *c == 0x7f)
                        *c = '?';
                else if (*c == 0xc2 && c[1] >= 0x80 && c[1] <= 0x9f) {
                        c[0] = '?';
                        c[1] = '?';
                        c++;
                }
        return ellipsize(line, width, utf8);
}

int table_new(Table **ret, size_t shrink_column, ...) {
        _cleanup_(table_freep) Table *t = NULL;
        const char *header;
        va_list ap;
        int r = 0;

        t = new0(Table, 1);
        if (!t)
                return -ENOMEM;
        t->shrink_column = shrink_column;
        va_start(ap, shrink_column);
        while (r >= 0 && (header = va_arg(ap, const char *))) {
                t->n_columns++;
                r = table_add(t, header, NULL);
        }
        va_end(ap);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(t);
        return 0;
}

Table *table_free(Table *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_cells; i++)
                free(t->cells[i]);
        free(t->cells);
        free(t->colors);
        free(t);
        return NULL;
}

int table_add(Table *t, const char *cell, const char *color) {
        char **cells;
        const char **colors;
        char *copy;

        copy = strdup(strempty(cell));
        if (!copy)
                return -ENOMEM;
        cells = reallocarray(t->cells, t->n_cells + 1, sizeof(char *));
        if (!cells) {
                free(copy);
                return -ENOMEM;
        }
        t->cells = cells;
        colors = reallocarray(t->colors, t->n_cells + 1, sizeof(char *));
        if (!colors) {
                free(copy);
                return -ENOMEM;
        }
        t->colors = colors;
        t->cells[t->n_cells] = copy;
        t->colors[t->n_cells] = color;
        t->n_cells++;
        return 0;
}

size_t table_rows(const Table *t) {
        return t->n_columns == 0 ? 0 : t->n_cells / t->n_columns - 1;
}

void table_print(const Table *t, FILE *f, size_t width, bool header, const char *header_color, bool utf8) {
        _cleanup_free_ size_t *widths = NULL;
        size_t total = 0;

        if (t->n_columns == 0)
                return;
        widths = new0(size_t, t->n_columns);
        if (!widths)
                return;
        for (size_t i = header ? 0 : t->n_columns; i < t->n_cells; i++)
                widths[i % t->n_columns] = MAX(widths[i % t->n_columns], utf8_width(t->cells[i]));
        for (size_t c = 0; c < t->n_columns; c++)
                total += widths[c] + (c + 1 < t->n_columns ? 1 : 0);

        /* Too wide for the terminal: the shrinkable column gives way, down to its header's width
         * (or a few columns); the rest is the terminal's business. */
        if (total > width && t->shrink_column < t->n_columns) {
                size_t sc = t->shrink_column, floor = MAX(utf8_width(t->cells[sc]), (size_t) 8);
                size_t excess = total - width;

                if (widths[sc] > floor)
                        widths[sc] = widths[sc] - floor > excess ? widths[sc] - excess : floor;
        }

        for (size_t i = header ? 0 : t->n_columns; i < t->n_cells; i++) {
                size_t c = i % t->n_columns;
                bool last = c + 1 == t->n_columns;
                const char *color = i < t->n_columns ? header_color : t->colors[i];
                _cleanup_free_ char *cut = NULL;
                const char *text = t->cells[i];
                size_t w;

                if (utf8_width(text) > widths[c]) {
                        cut = ellipsize(text, widths[c], utf8);
                        if (cut)
                                text = cut;
                }
                w = utf8_width(text);
                fprintf(f, "%s%s%s", color ? color : "", text, color ? "\033[0m" : "");
                if (last)
                        fputc('\n', f);
                else
                        fprintf(f, "%*s", (int) (widths[c] - w + 1), "");
        }
}
