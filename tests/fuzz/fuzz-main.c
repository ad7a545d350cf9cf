/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

/* Without libFuzzer: feeds every file named on the command line, or found in a directory named
 * there, to the target once. A crash or a sanitizer report fails the test. */

static int run_file(const char *path) {
        struct stat st;
        uint8_t *buf;
        ssize_t n;
        int fd;

        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) < 0) {
                fprintf(stderr, "%s: %s\n", path, strerror(errno));
                return -errno;
        }
        buf = malloc(st.st_size + 1);
        if (!buf) {
                close(fd);
                return -ENOMEM;
        }
        n = read(fd, buf, st.st_size);
        close(fd);
        if (n < 0) {
                free(buf);
                return -errno;
        }
        (void) LLVMFuzzerTestOneInput(buf, n);
        free(buf);
        return 0;
}

int main(int argc, char *argv[]) {
        unsigned n = 0;
        int r = 0;

        for (int i = 1; i < argc; i++) {
                DIR *d = opendir(argv[i]);

                if (!d) {
                        if (run_file(argv[i]) < 0)
                                r = 1;
                        n++;
                        continue;
                }
                for (struct dirent *de; (de = readdir(d));) {
                        char path[4096];

                        if (de->d_name[0] == '.')
                                continue;
                        snprintf(path, sizeof(path), "%s/%s", argv[i], de->d_name);
                        if (run_file(path) < 0)
                                r = 1;
                        n++;
                }
                closedir(d);
        }
        printf("1..1\n%s 1 - %u inputs\n", r == 0 && n > 0 ? "ok" : "not ok", n);
        return r == 0 && n > 0 ? 0 : 1;
}
