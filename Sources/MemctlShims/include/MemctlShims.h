// What memctl needs that Swift cannot do safely by itself: a child that waits at a gate
// before it becomes the command, with nothing of memctl running in it.
#ifndef MEMCTL_SHIMS_H
#define MEMCTL_SHIMS_H

#include <pthread.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <time.h>

/// Starts `path` (a path, already searched in PATH) with `argv` and `envp` as a child held at a
/// gate: the child blocks reading `gate_fd` until the parent closes `release_fd`, the pipe's
/// other end (which the child closes at once), then
/// closes it and execve()s the command, so its pid is known (and watched) before the command's
/// first instruction, and no other process (no shell) stands between memctl and the command.
///
/// fork(), not posix_spawn: posix_spawn cannot hold a child before exec. memctl may have other
/// threads, so the child runs only async-signal-safe calls (sigaction, sigprocmask, read,
/// close, execve, write, _exit). SIGINT, SIGQUIT, SIGTERM and SIGPIPE are reset to their
/// defaults and the signal mask emptied, as GNU time leaves them for the command.
///
/// If the exec fails, its errno is written to `error_fd` (close-on-exec, so a successful exec
/// leaves it empty) and the child exits with 127 (ENOENT) or 126.
/// Returns 0 and sets *pid, or an errno value.
int memctl_spawn_gated(const char *path, char *const argv[], char *const envp[], int gate_fd, int release_fd,
                       int error_fd, pid_t *pid);

/// While it waits at the gate the child already bears the command's name (`comm`, the base
/// name of `path`, as exec will set it), so a sample taken before the exec does not show
/// "memctl".

/// A thread that reaps one child the moment it ends: its wait status, its rusage, and the
/// CLOCK_MONOTONIC time wait4 returned (time -v's end of the elapsed time), while the caller is
/// busy elsewhere (reading memd's samples).
struct memctl_reaper {
    pid_t pid;
    pthread_t thread;
    int status;
    struct rusage usage;
    struct timespec ended;
};

/// Starts reaping `pid` on a thread of its own. Returns 0 or an errno value.
int memctl_reaper_start(struct memctl_reaper *reaper, pid_t pid);

/// Waits for the reaper's thread (the child's end); its figures are then in `reaper`.
void memctl_reaper_join(struct memctl_reaper *reaper);

/// pipe2(2) with O_CLOEXEC. Returns 0 or an errno value.
int memctl_pipe_cloexec(int fds[2]);

#endif
