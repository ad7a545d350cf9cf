/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <sys/socket.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "fuzz.h"
#include "spec-bus.h"

/* StartSession's and AddSupporter's a{sv} decoders, fed from raw D-Bus message bytes: the input
 * goes down a socket to a peer-to-peer sd-bus server, as a client would send it, so sd-bus's own
 * parser sees it first and whatever it lets through reaches the decoders. */

static int on_message(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        SessionSpec *spec = NULL;
        SupporterSpec sup = { 0 };
        int stdio[3];

        if (bus_message_read_session_spec(m, &spec, stdio, &error) >= 0) {
                for (int i = 0; i < 3; i++)
                        safe_close(stdio[i]);
                session_spec_free(spec);
        }
        sd_bus_error_free(&error);

        /* AddSupporter(s id, a{sv} supporter): past the id, if there is one. */
        if (sd_bus_message_rewind(m, true) >= 0 && sd_bus_message_skip(m, "s") >= 0 && session_spec_new(&spec) >= 0) {
                if (bus_message_read_supporter_spec(m, spec, &sup, &error) >= 0)
                        supporter_spec_done(&sup);
                session_spec_free(spec);
        }
        return 1; /* handled: no reply */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const char auth[] = "\0AUTH ANONYMOUS\r\nBEGIN\r\n";
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *server = NULL;
        _cleanup_close_pair_ int pair[2] = { -EBADF, -EBADF };
        sd_id128_t id = SD_ID128_MAKE(5a,f1,7e,0c,d2,31,45,9e,8b,1f,93,11,4c,6d,20,aa);

        if (size > 64 * 1024)
                return 0;
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, pair) < 0)
                return 0;
        if (sd_bus_new(&server) < 0 || sd_bus_set_fd(server, pair[0], pair[0]) < 0)
                return 0;
        pair[0] = -EBADF; /* the bus has it */
        if (sd_bus_set_server(server, 1, id) < 0 || sd_bus_set_anonymous(server, 1) < 0 ||
            sd_bus_add_filter(server, NULL, on_message, NULL) < 0 || sd_bus_start(server) < 0)
                return 0;

        if (write(pair[1], auth, sizeof(auth) - 1) != (ssize_t) sizeof(auth) - 1 ||
            (size > 0 && write(pair[1], data, size) != (ssize_t) size))
                return 0;
        (void) shutdown(pair[1], SHUT_WR);

        /* Until it has read everything (or given up on the stream): each call handles one thing. */
        for (unsigned i = 0; i < 1024; i++)
                if (sd_bus_process(server, NULL) <= 0)
                        break;
        return 0;
}
