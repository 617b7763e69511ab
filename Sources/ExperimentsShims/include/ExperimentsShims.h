// The few calls the Experiments module needs that Swift cannot make by itself
// (variadic prctl) or that read better in C (posix_spawn's attribute dance).
#ifndef MEMD_EXPERIMENTS_SHIMS_H
#define MEMD_EXPERIMENTS_SHIMS_H

#include <sys/types.h>

/// Starts `path` with `argv` and a clean environment (PATH, LANG=C) in a new process group
/// (pgid = its pid), its stdin and stdout on `stdio_fd`, stderr on `stderr_fd`,
/// every other descriptor closed, no signal blocked and every signal at its
/// default action. posix_spawn, never fork: memd is multithreaded.
/// Returns 0 and sets *pid, or an errno value.
int memd_spawn_helper(const char *path, char *const argv[], int stdio_fd, int stderr_fd, pid_t *pid);

/// Makes this process a child subreaper (prctl PR_SET_CHILD_SUBREAPER): a helper's
/// own child orphaned by a kill is reparented here, where it is reaped, instead of
/// to a PID 1 that may never reap it. Returns 0 or an errno value.
int memd_become_child_subreaper(void);

/// pipe2(2), which Glibc's Swift module does not export: `flags` of O_CLOEXEC,
/// O_NONBLOCK. Returns 0 or an errno value.
int memd_pipe2(int fds[2], int flags);

/// pidfd_open(2) (Linux 5.3+): a descriptor that polls readable when `pid` exits.
/// Returns the descriptor, or -errno.
int memd_pidfd_open(pid_t pid);

/// renameat2(2) with RENAME_NOREPLACE (Glibc's Swift module has no renameat2): moves
/// `old_name` in `old_dir` to `new_name` in `new_dir`, failing with EEXIST rather than
/// replacing an entry. Returns 0 or an errno value.
int memd_rename_noreplace(int old_dir, const char *old_name, int new_dir, const char *new_name);

#endif
