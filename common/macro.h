/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _pure_ __attribute__((pure))
#define _const_ __attribute__((const))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _noreturn_ __attribute__((noreturn))
#define _likely_(x) (__builtin_expect(!!(x), 1))
#define _unlikely_(x) (__builtin_expect(!!(x), 0))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* Hand over ownership: return the value and leave NULL (or -EBADF) behind. */
#define TAKE_GENERIC(var, type, nullvalue)                       \
        __extension__ ({                                         \
                type *_pvar_ = &(var);                           \
                type _var_ = *_pvar_;                            \
                type _nullvalue_ = nullvalue;                    \
                *_pvar_ = _nullvalue_;                           \
                _var_;                                           \
        })
#define TAKE_PTR(ptr) TAKE_GENERIC(ptr, __typeof__(ptr), NULL)
#define TAKE_FD(fd) TAKE_GENERIC(fd, int, -EBADF)

/* Lets a macro that defines functions be followed by ';' even under -Wpedantic. */
#define _ALLOW_TRAILING_SEMICOLON_ struct __useless_struct_to_allow_trailing_semicolon__

#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)                  \
        static inline void func##p(type *p) {                    \
                if (*p)                                          \
                        *p = func(*p);                           \
        }                                                        \
        _ALLOW_TRAILING_SEMICOLON_

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

/* strerror() of a negative or positive errno, for messages that cannot use %m (D-Bus errors). */
static inline const char *strerror_abs(int error) {
        return strerror(error < 0 ? -error : error);
}

/* For tdestroy() of trees that do not own their nodes. */
static inline void free_nothing(void *p) {
}

static inline void *mfree(void *p) {
        free(p);
        return NULL;
}

static inline int safe_close(int fd) {
        if (fd >= 0) {
                int saved = errno;
                (void) close(fd);
                errno = saved;
        }
        return -EBADF;
}

static inline void closep(int *fd) {
        *fd = safe_close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

static inline void close_pair(int (*p)[2]) {
        (*p)[0] = safe_close((*p)[0]);
        (*p)[1] = safe_close((*p)[1]);
}
#define _cleanup_close_pair_ _cleanup_(close_pair)

static inline bool streq_ptr(const char *a, const char *b) {
        if (!a || !b)
                return a == b;
        return strcmp(a, b) == 0;
}
#define streq(a, b) (strcmp((a), (b)) == 0)

static inline const char *strempty(const char *s) {
        return s ? s : "";
}

/* "TERM" for SIGTERM; never NULL, so it can go straight into "SIG%s". */
static inline const char *signal_abbrev(int sig) {
        const char *s = sigabbrev_np(sig);
        return s ? s : "?";
}

static inline const char *startswith(const char *s, const char *prefix) {
        size_t l = strlen(prefix);
        return strncmp(s, prefix, l) == 0 ? s + l : NULL;
}

#define IN_SET(x, first, ...)                                                    \
        __extension__ ({                                                         \
                bool _found_ = false;                                            \
                const __typeof__(first) _set_[] = { first, __VA_ARGS__ };            \
                for (size_t _i_ = 0; _i_ < ELEMENTSOF(_set_); _i_++)             \
                        if ((x) == _set_[_i_]) {                                 \
                                _found_ = true;                                  \
                                break;                                           \
                        }                                                        \
                _found_;                                                         \
        })

/* Negative errno from a libc call that sets errno; never returns 0 by accident. */
static inline int negative_errno(void) {
        return errno > 0 ? -errno : -EIO;
}

/* Enum <-> string tables: `name_to_string()` / `name_from_string()`. */
#define DEFINE_STRING_TABLE_LOOKUP(name, type, max)                              \
        const char *name##_to_string(type i) {                                   \
                if (i < 0 || i >= (type) (max))                                  \
                        return NULL;                                             \
                return name##_table[i];                                          \
        }                                                                        \
        type name##_from_string(const char *s) {                                 \
                if (!s)                                                          \
                        return -EINVAL;                                          \
                for (size_t i = 0; i < (size_t) (max); i++)                      \
                        if (name##_table[i] && streq(name##_table[i], s))        \
                                return (type) i;                                 \
                return -EINVAL;                                                  \
        }                                                                        \
        _ALLOW_TRAILING_SEMICOLON_

#define new0(type, n) ((type *) calloc((n), sizeof(type)))

static inline void closedirp(DIR **d) {
        if (*d)
                (void) closedir(*d);
}

static inline void fclosep(FILE **f) {
        if (*f)
                (void) fclose(*f);
}
