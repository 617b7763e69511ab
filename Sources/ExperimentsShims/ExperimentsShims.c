#define _GNU_SOURCE
#include "ExperimentsShims.h"

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int memd_spawn_helper(const char *path, char *const argv[], int stdio_fd, int stderr_fd, pid_t *pid) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    int rc = posix_spawn_file_actions_init(&actions);
    if (rc) return rc;
    rc = posix_spawnattr_init(&attr);
    if (rc) {
        posix_spawn_file_actions_destroy(&actions);
        return rc;
    }
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    if (!rc) rc = posix_spawn_file_actions_adddup2(&actions, stdio_fd, 0);
    if (!rc) rc = posix_spawn_file_actions_adddup2(&actions, stdio_fd, 1);
    if (!rc) rc = posix_spawn_file_actions_adddup2(&actions, stderr_fd, 2);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    if (!rc) rc = posix_spawn_file_actions_addclosefrom_np(&actions, 3);
#endif
    if (!rc) rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    if (!rc) rc = posix_spawnattr_setpgroup(&attr, 0);
    if (!rc) rc = posix_spawnattr_setsigmask(&attr, &none);
    if (!rc) rc = posix_spawnattr_setsigdefault(&attr, &all);
    // A clean environment: nothing of memd's (or its caller's) reaches the child.
    char *const env[] = {"PATH=/usr/bin:/bin", "LANG=C", NULL};
    if (!rc) rc = posix_spawn(pid, path, &actions, &attr, argv, env);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
    return rc;
}

int memd_become_child_subreaper(void) {
    return prctl(PR_SET_CHILD_SUBREAPER, 1UL, 0UL, 0UL, 0UL) == 0 ? 0 : errno;
}

int memd_pipe2(int fds[2], int flags) {
    return pipe2(fds, flags) == 0 ? 0 : errno;
}

int memd_pidfd_open(pid_t pid) {
    long fd = syscall(SYS_pidfd_open, pid, 0);
    return fd < 0 ? -errno : (int)fd;
}

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

int memd_rename_noreplace(int old_dir, const char *old_name, int new_dir, const char *new_name) {
    return syscall(SYS_renameat2, old_dir, old_name, new_dir, new_name, RENAME_NOREPLACE) == 0 ? 0 : errno;
}
