/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "spec.h"

/* -s/--supporter values: the shell-like tokenizer and the NAME= prefix, as profd run and profctl
 * take them from a command line. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(session_spec_freep) SessionSpec *spec = NULL;
        ShellSplitError e;
        char *s;

        if (size > 64 * 1024)
                return 0;
        s = strndup((const char *) data, size);
        if (!s || session_spec_new(&spec) < 0) {
                free(s);
                return 0;
        }
        /* Twice: the second one exercises unique naming against the first. */
        (void) session_spec_add_supporter(spec, s, &e);
        (void) session_spec_add_supporter(spec, s, &e);
        free(s);
        return 0;
}
