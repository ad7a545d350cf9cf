/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdlib.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs-identity.h"
#include "log.h"
#include "macro.h"

int fs_identity_enter(FsIdentity *id, uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups) {
        int n;

        *id = (FsIdentity) { .switched = false };
        if (geteuid() != 0 || uid == 0)
                return 0;

        n = getgroups(0, NULL);
        if (n < 0)
                return negative_errno();
        if (n > 0) {
                id->saved_groups = calloc(n, sizeof(gid_t));
                if (!id->saved_groups)
                        return -ENOMEM;
                n = getgroups(n, id->saved_groups);
                if (n < 0)
                        return negative_errno();
        }
        id->n_saved_groups = n;
        /* An invalid id changes nothing and returns the current one. */
        id->saved_uid = (uid_t) setfsuid((uid_t) -1);
        id->saved_gid = (gid_t) setfsgid((gid_t) -1);
        id->switched = true;

        if (setgroups(n_groups, groups) < 0)
                return negative_errno();
        (void) setfsgid(gid);
        (void) setfsuid(uid);
        if ((uid_t) setfsuid((uid_t) -1) != uid || (gid_t) setfsgid((gid_t) -1) != gid)
                return -EPERM;
        return 0;
}

void fs_identity_leave(FsIdentity *id) {
        if (id->switched) {
                (void) setfsuid(id->saved_uid);
                (void) setfsgid(id->saved_gid);
                /* Going on with another caller's groups would hand them to every later check and
                 * every file profd creates: that is not a state to continue in. */
                if (setgroups(id->n_saved_groups, id->saved_groups) < 0 ||
                    (uid_t) setfsuid((uid_t) -1) != id->saved_uid) {
                        log_error_errno(errno, "Cannot return to profd's own filesystem identity: %m");
                        abort();
                }
        }
        id->saved_groups = mfree(id->saved_groups);
        id->switched = false;
}

int fs_check_directory(const char *path) {
        struct stat st;

        if (stat(path, &st) < 0)
                return negative_errno();
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        /* AT_EACCESS: with the filesystem identity in force, not the real uid. */
        if (faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) < 0)
                return negative_errno();
        return 0;
}
