/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>
#include <stdio.h>
#include <unistd.h>

#include "bus-errors.h"
#include "config.h"
#include "log.h"
#include "manager.h"
#include "profd-help.h"
#include "run.h"

static void help(void) {
        print_help_profd(program_invocation_short_name);
}

enum {
        ARG_VERSION = 0x100,
        ARG_USER,
        ARG_LISTEN,
        ARG_BACKEND,
        ARG_CONFIG,
        ARG_STATE_DIRECTORY,
        ARG_BUS_INTROSPECT,
};

static int run_daemon(int argc, char *argv[]) {
        static const struct option options[] = {
                { "help",            no_argument,       NULL, 'h'                 },
                { "version",         no_argument,       NULL, ARG_VERSION         },
                { "user",            no_argument,       NULL, ARG_USER            },
                { "listen",          required_argument, NULL, ARG_LISTEN          },
                { "backend",         required_argument, NULL, ARG_BACKEND         },
                { "config",          required_argument, NULL, ARG_CONFIG          },
                { "state-directory", required_argument, NULL, ARG_STATE_DIRECTORY },
                { "bus-introspect",  no_argument,       NULL, ARG_BUS_INTROSPECT  },
                { "verbose",         no_argument,       NULL, 'v'                 },
                { NULL, 0, NULL, 0 }
        };
        _cleanup_(manager_freep) Manager *m = NULL;
        const char *listen_address = NULL, *config_path = PROFD_CONFIG_FILE, *state_directory = NULL;
        ScopeBackendType backend = SCOPE_BACKEND_AUTO;
        ManagerMode mode = MANAGER_SYSTEM;
        bool user = false;
        int c, r;

        while ((c = getopt_long(argc, argv, "hv", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("profd %s\n", PACKAGE_VERSION);
                        return 0;
                case ARG_USER:
                        user = true;
                        break;
                case ARG_LISTEN:
                        listen_address = optarg;
                        break;
                case ARG_BACKEND:
                        backend = scope_backend_type_from_string(optarg);
                        if (backend < 0) {
                                log_error("Invalid --backend '%s': expected auto, systemd or direct.", optarg);
                                return PROFD_EXIT_USAGE;
                        }
                        break;
                case ARG_CONFIG:
                        config_path = optarg;
                        break;
                case ARG_STATE_DIRECTORY:
                        if (optarg[0] != '/') {
                                log_error("Invalid --state-directory '%s': expected an absolute path.", optarg);
                                return PROFD_EXIT_USAGE;
                        }
                        state_directory = optarg;
                        break;
                case ARG_BUS_INTROSPECT:
                        r = manager_bus_introspect(stdout);
                        if (r < 0) {
                                log_error_errno(r, "Failed to introspect: %m");
                                return PROFD_EXIT_FAILURE;
                        }
                        return 0;
                case 'v':
                        log_set_max_level(LOG_DEBUG);
                        break;
                case '?':
                        return PROFD_EXIT_USAGE;
                default:
                        return PROFD_EXIT_FAILURE;
                }
        if (optind < argc) {
                log_error("Unknown verb '%s'. See '%s --help'.", argv[optind], program_invocation_short_name);
                return PROFD_EXIT_USAGE;
        }
        if (user && listen_address) {
                log_error("--user and --listen exclude each other: one serves the session bus, the other a socket.");
                return PROFD_EXIT_USAGE;
        }
        mode = listen_address ? MANAGER_LISTEN : user ? MANAGER_USER : MANAGER_SYSTEM;

        bus_error_register_profd();
        r = manager_new(&m, mode);
        if (r < 0) {
                log_error_errno(r, "Failed to set up: %m");
                return PROFD_EXIT_FAILURE;
        }
        r = config_load(&m->config, config_path);
        if (r < 0)
                return PROFD_EXIT_FAILURE;
        if (state_directory) {
                m->state_directory = strdup(state_directory);
                if (!m->state_directory) {
                        log_oom();
                        return PROFD_EXIT_FAILURE;
                }
        }
        r = manager_start(m, listen_address, backend);
        if (r < 0)
                return PROFD_EXIT_FAILURE;
        r = manager_run(m);
        if (r < 0) {
                log_error_errno(r, "Event loop failed: %m");
                return PROFD_EXIT_FAILURE;
        }
        return 0;
}

int main(int argc, char *argv[]) {
        log_open();
        if (argc >= 2 && streq(argv[1], "run")) {
                /* getopt_long() in the verb starts at argv[1]. */
                optind = 1;
                return verb_run(argc - 1, argv + 1);
        }
        return run_daemon(argc, argv);
}
