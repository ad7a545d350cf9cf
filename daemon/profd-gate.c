/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "spawn.h"

/* profd-gate: what profd's service posix_spawn()s for every process of a session. It waits at the
 * gate and then becomes the program (see spawn.c). Not for people to run. */

int main(int argc, char *argv[], char *envp[]) {
        return gate_helper_main(argc, argv, envp);
}
