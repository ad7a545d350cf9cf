/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>

#include "config.h"
#include "log.h"
#include "run.h"

static void help(void) {
        printf("%s [OPTIONS] VERB ...\n"
               "\n"
               "Run profiling sessions: a process under test and the processes that watch it.\n"
               "\n"
               "Verbs:\n"
               "  run [OPTIONS] -- TARGET [ARGS...]  Run one session in this process\n"
               "\n"
               "Options:\n"
               "  -h --help      Show this help\n"
               "     --version  Show the version\n"
               "\n"
               "See '%s run --help' and profd(8).\n",
               program_invocation_short_name, program_invocation_short_name);
}

int main(int argc, char *argv[]) {
        if (argc >= 2 && streq(argv[1], "run")) {
                /* getopt_long() in the verb starts at argv[1]. */
                optind = 1;
                return verb_run(argc - 1, argv + 1);
        }
        if (argc >= 2 && (streq(argv[1], "-h") || streq(argv[1], "--help"))) {
                help();
                return 0;
        }
        if (argc >= 2 && streq(argv[1], "--version")) {
                printf("profd %s\n", PACKAGE_VERSION);
                return 0;
        }
        if (argc < 2)
                log_error("Missing verb. See '%s --help'.", program_invocation_short_name);
        else
                log_error("Unknown verb or option '%s'. See '%s --help'.", argv[1], program_invocation_short_name);
        return PROFD_EXIT_USAGE;
}
