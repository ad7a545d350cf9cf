/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/* profd checks, before anything starts, what a session's processes will need (their working
 * directories, their executables). As root it would see what the caller cannot, and its answer
 * would tell the caller whether paths it may not look at exist. So the checks run with the
 * caller's filesystem identity: fsuid, fsgid and supplementary groups, which the kernel's
 * permission checks use and which, unlike the effective uid, leave profd's other privileges
 * alone. Linux keeps fsuid per thread; profd has one. */

typedef struct FsIdentity {
        bool switched;
        uid_t saved_uid;
        gid_t saved_gid;
        gid_t *saved_groups;
        int n_saved_groups;
} FsIdentity;

/* Takes on uid/gid/groups for filesystem access; a no-op when profd is not root or already is
 * that uid. Undo with fs_identity_leave(), also after a failure. */
int fs_identity_enter(FsIdentity *id, uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups);
void fs_identity_leave(FsIdentity *id);

/* `path` is a directory that the current filesystem identity may enter: 0 or a negative errno
 * (-ENOTDIR for what exists and is not one). */
int fs_check_directory(const char *path);
