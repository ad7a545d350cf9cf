/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>

#include "log.h"
#include "spec-options.h"

void log_shell_split_error(const char *what, const char *value, const ShellSplitError *e) {
        log_error("Invalid %s '%s': %s.", what, value, e->reason);
        /* Mark the offending character, as a compiler would. */
        fprintf(stderr, "    %s\n    %*s^\n", value, (int) e->offset, "");
}

static int check_count(const SpecOptions *o) {
        if (o->spec->n_supporters > SPEC_SUPPORTERS_MAX)
                return log_error_errno(E2BIG, "Too many supporters (at most %d).", SPEC_SUPPORTERS_MAX);
        return 0;
}

int spec_options_add_supporter(SpecOptions *o, const char *value) {
        ShellSplitError e = { 0 };
        int r;

        r = session_spec_add_supporter(o->spec, value, &e);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0) {
                log_shell_split_error("supporter", value, &e);
                return r;
        }
        o->ready_given = false;
        return check_count(o);
}

int spec_options_add_supporter_spec(SpecOptions *o, SupporterSpec *s) {
        int r;

        r = session_spec_add_supporter_spec(o->spec, s);
        if (r == -ENOMEM)
                return log_oom();
        if (r == -EEXIST)
                return log_error_errno(r, "Duplicate supporter name '%s'.", s->name);
        if (r < 0)
                return log_error_errno(r, "Invalid supporter name '%s' (" SUPPORTER_NAME_RULES ").",
                                       strempty(s->name));
        o->ready_given = false;
        return check_count(o);
}

int spec_options_set_ready(SpecOptions *o, const char *value) {
        SupporterSpec *last;
        int r;

        if (o->spec->n_supporters == 0)
                return log_error_errno(EINVAL, "--ready=%s must follow the -s/--supporter it applies to.", value);
        last = &o->spec->supporters[o->spec->n_supporters - 1];
        if (o->ready_given)
                return log_error_errno(EINVAL, "--ready given twice for supporter '%s'.", last->name);
        r = ready_parse(value, &last->ready, &last->ready_delay);
        if (r < 0)
                return log_error_errno(r, "Invalid --ready '%s': expected exec, notify or delay:MS.", value);
        o->ready_given = true;
        return 0;
}

int spec_options_parse_duration(const char *option, const char *value, usec_t *ret) {
        usec_t t;
        int r;

        r = parse_timespan(value, USEC_PER_SEC, &t);
        if (r < 0 || t == 0)
                return log_error_errno(EINVAL, "Invalid %s '%s': expected a positive duration such as 10, 1.5s or 500ms.",
                                       option, value);
        *ret = t;
        return 0;
}
