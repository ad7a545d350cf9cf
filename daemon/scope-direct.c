/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "scope.h"

/* Without a service manager the process group made at fork is the scope: placed at once, signalled
 * and judged empty through the group. */

static int direct_place(ScopeBackend *b, Scope *scope, const char *description, usec_t stop_timeout) {
        return 1;
}

static const ScopeBackendVTable direct_vtable = {
        .place = direct_place,
};

int scope_backend_new_direct(ScopeBackend **ret) {
        ScopeBackend *b;

        b = new0(ScopeBackend, 1);
        if (!b)
                return -ENOMEM;
        b->vtable = &direct_vtable;
        b->type = SCOPE_BACKEND_DIRECT;
        *ret = b;
        return 0;
}
