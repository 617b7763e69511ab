#define _GNU_SOURCE
#include "MemctlShims.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int memctl_spawn_gated(const char *path, char *const argv[], char *const envp[], int gate_fd, int release_fd,
                       int error_fd, pid_t *pid) {
    sigset_t all, old;
    sigfillset(&all);
    // No signal handler of memctl may run in the child between fork and exec.
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t child = fork();
    if (child < 0) {
        int error = errno;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return error;
    }
    if (child == 0) {
        struct sigaction defaults;
        memset(&defaults, 0, sizeof defaults);
        defaults.sa_handler = SIG_DFL;
        const int reset[] = {SIGINT, SIGQUIT, SIGTERM, SIGPIPE, SIGCHLD};
        for (size_t i = 0; i < sizeof reset / sizeof reset[0]; i++) sigaction(reset[i], &defaults, NULL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        close(release_fd);  // else the gate never sees its end
        const char *base = strrchr(path, '/');
        prctl(PR_SET_NAME, base ? base + 1 : path, 0, 0, 0);
        char byte;
        ssize_t got;
        do {
            got = read(gate_fd, &byte, 1);
        } while (got < 0 && errno == EINTR);
        close(gate_fd);
        execve(path, argv, envp);
        int error = errno;
        ssize_t written;
        do {
            written = write(error_fd, &error, sizeof error);
        } while (written < 0 && errno == EINTR);
        _exit(error == ENOENT ? 127 : 126);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    *pid = child;
    return 0;
}

int memctl_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC) == 0 ? 0 : errno; }

static void *reap(void *argument) {
    struct memctl_reaper *reaper = argument;
    while (wait4(reaper->pid, &reaper->status, 0, &reaper->usage) < 0 && errno == EINTR) {
    }
    clock_gettime(CLOCK_MONOTONIC, &reaper->ended);
    return NULL;
}

int memctl_reaper_start(struct memctl_reaper *reaper, pid_t pid) {
    memset(reaper, 0, sizeof *reaper);
    reaper->pid = pid;
    return pthread_create(&reaper->thread, NULL, reap, reaper);
}

void memctl_reaper_join(struct memctl_reaper *reaper) { pthread_join(reaper->thread, NULL); }
