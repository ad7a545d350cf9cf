/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdint.h>

#include "json.h"

/* Length of the valid UTF-8 sequence at s, or 0. */
static size_t utf8_sequence_length(const unsigned char *s) {
        size_t n;
        uint32_t cp;

        if (s[0] < 0x80)
                return 1;
        if ((s[0] & 0xe0) == 0xc0) {
                n = 2;
                cp = s[0] & 0x1f;
        } else if ((s[0] & 0xf0) == 0xe0) {
                n = 3;
                cp = s[0] & 0x0f;
        } else if ((s[0] & 0xf8) == 0xf0) {
                n = 4;
                cp = s[0] & 0x07;
        } else
                return 0;
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3f);
        }
        /* No overlong forms, no surrogates, nothing past U+10FFFF. */
        if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
            (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
                return 0;
        return n;
}

void json_write_string(FILE *f, const char *s) {
        const unsigned char *p = (const unsigned char *) s;

        fputc('"', f);
        while (*p) {
                size_t n;

                switch (*p) {
                case '"':  fputs("\\\"", f); p++; continue;
                case '\\': fputs("\\\\", f); p++; continue;
                case '\n': fputs("\\n", f); p++; continue;
                case '\t': fputs("\\t", f); p++; continue;
                case '\r': fputs("\\r", f); p++; continue;
                }
                if (*p < 0x20) {
                        fprintf(f, "\\u%04x", *p);
                        p++;
                        continue;
                }
                n = utf8_sequence_length(p);
                if (n == 0) {
                        fputs("\\ufffd", f);
                        p++;
                        continue;
                }
                fwrite(p, 1, n, f);
                p += n;
        }
        fputc('"', f);
}
