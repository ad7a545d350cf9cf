/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Resolving a command name the way execvp() would, but against the PATH of the environment the
 * command will run with rather than our own. */

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* A name containing '/' is returned as is (copied, not checked). Otherwise the first regular file
 * with any execute bit in the directories of the first "PATH=" in `envp` (DEFAULT_PATH when envp is
 * NULL or has none). Returns -ENOENT when there is none. */
int find_executable(const char *name, char * const *envp, char **ret_path);
