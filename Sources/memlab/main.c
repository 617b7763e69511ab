// memlab — the experiment child that memd starts (posix_spawn) for runExperiment.
//
// Usage: memlab NAME --size N --step N [--huge 0|1] [--uid U --gid G] [--tmpdir DIR]
//
// Single-threaded plain C, so that mmap, touch and fork do exactly what the seed's
// programs do. It talks to memd over stdin/stdout with one JSON object per line:
//
//   {"event":"point","phase":"allocated","touchedBytes":0,"address":"0x7f..."}
//
// At each point it then blocks reading one line from stdin until memd has measured
// it from /proc (stat, smaps, maps, meminfo) and answers "go". memlab reports only
// what memd cannot see from outside (addresses, errno, strings it read, the pid of a
// forked child); every size, rss and fault count comes from /proc, read by memd.
// A line on stdout that is not an event is program output (segv prints one).
// EOF on stdin means memd gave up: memlab exits at once.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096UL

struct options {
    const char *name;
    size_t size;
    size_t step;
    int huge;
    long uid;
    long gid;
    const char *tmpdir;
};

static const char *errno_name(int e) {
    switch (e) {
    case ENOMEM: return "ENOMEM";
    case EINVAL: return "EINVAL";
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENOENT: return "ENOENT";
    case EAGAIN: return "EAGAIN";
    case ENOSPC: return "ENOSPC";
    case EFAULT: return "EFAULT";
    default: return "EOTHER";
    }
}

// ---- the line protocol ---------------------------------------------------------

/// Writes the whole buffer to stdout (a socket to memd); exits if memd is gone.
static void write_all(const char *buf, size_t len) {
    while (len > 0) {
        ssize_t n = write(STDOUT_FILENO, buf, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            _exit(3);
        }
        buf += n;
        len -= (size_t)n;
    }
}

/// Prints one event line: `{"event":"EVENT"` + the caller's members + `}`.
static void emit(const char *event, const char *fmt, ...) {
    char body[1800] = "";
    if (fmt && *fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(body, sizeof body, fmt, ap);
        va_end(ap);
    }
    char line[2048];
    int len = snprintf(line, sizeof line, "{\"event\":\"%s\"%s%s}\n", event, *body ? "," : "", body);
    if (len < 0 || (size_t)len >= sizeof line) _exit(6);
    write_all(line, (size_t)len);
}

/// Blocks until memd answers "go"; anything else (EOF included) ends memlab.
static void await_go(void) {
    char line[64];
    size_t len = 0;
    for (;;) {
        char c;
        ssize_t n = read(STDIN_FILENO, &c, 1);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) _exit(4);
        if (c == '\n') break;
        if (len < sizeof line - 1) line[len++] = c;
    }
    line[len] = '\0';
    if (strcmp(line, "go") != 0) _exit(4);
}

/// A measurement point: tell memd where we are, wait until it has measured us.
#define POINT(phase, touched, fmt, ...)                                                            \
    do {                                                                                           \
        emit("point", "\"phase\":\"%s\",\"touchedBytes\":%zu" fmt, phase, (size_t)(touched),      \
            ##__VA_ARGS__);                                                                        \
        await_go();                                                                                \
    } while (0)

static void fail(const char *what, int e) {
    emit("error", "\"what\":\"%s\",\"errno\":\"%s\",\"message\":\"%s\"", what, errno_name(e), strerror(e));
    _exit(2);
}

// ---- helpers -------------------------------------------------------------------

/// Anonymous private memory, madvised NOHUGEPAGE (4 KiB pages, as the seed's
/// numbers) or HUGEPAGE. With huge pages the region is 2 MiB aligned so THP can
/// back all of it.
static char *map_region(size_t size, int huge) {
    if (!huge) {
        char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) fail("mmap", errno);
        if (madvise(p, size, MADV_NOHUGEPAGE) != 0) fail("madvise", errno);
        return p;
    }
    const size_t align = 2UL << 20;
    size_t span = size + align;
    char *raw = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) fail("mmap", errno);
    uintptr_t start = ((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1);
    size_t head = start - (uintptr_t)raw;
    if (head) munmap(raw, head);
    size_t tail = span - head - size;
    if (tail) munmap((char *)start + size, tail);
    if (madvise((char *)start, size, MADV_HUGEPAGE) != 0) fail("madvise", errno);
    return (char *)start;
}

/// Writes one byte in every 4 KiB page of [p+from, p+to).
static void touch(char *p, size_t from, size_t to, char value) {
    for (size_t off = from; off < to; off += PAGE) ((volatile char *)p)[off] = value;
}

/// Touches the region step by step, a point after each step.
static void touch_in_steps(char *p, const struct options *o, const char *phase, char value) {
    size_t done = 0;
    while (done < o->size) {
        size_t next = done + o->step < o->size ? done + o->step : o->size;
        touch(p, done, next, value);
        done = next;
        POINT(phase, done, "");
    }
}

// ---- the experiments -------------------------------------------------------------

static int run_segv(void) {
    // The seed: print a line, then write through an invalid pointer.
    write_all("Before invalid access\n", 22);
    volatile int *volatile p = NULL;
    *p = 0;
    write_all("After invalid access\n", 21);  // never printed
    return 0;
}

static int run_mmap(const struct options *o) {
    POINT("before", 0, "");
    char *p = mmap(NULL, o->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) fail("mmap", errno);
    POINT("mapped", 0, ",\"address\":\"%p\",\"size\":%zu", (void *)p, o->size);
    munmap(p, o->size);
    return 0;
}

static int run_malloc(const struct options *o) {
    const size_t block = 1024;
    size_t count = o->size / block;
    void **blocks = malloc(sizeof(void *) * (count ? count : 1));
    if (!blocks) fail("malloc", errno);
    POINT("before", 0, ",\"brk\":\"%p\",\"blockBytes\":%zu", sbrk(0), block);
    size_t perStep = o->step / block ? o->step / block : 1;
    for (size_t i = 0; i < count; i++) {
        blocks[i] = malloc(block);
        if (!blocks[i]) fail("malloc", errno);
        memset(blocks[i], 1, 1);
        // The block escapes: the compiler may not drop an allocation nobody reads.
        __asm__ volatile("" : : "r"(blocks[i]) : "memory");
        if ((i + 1) % perStep == 0 && i + 1 < count) POINT("allocating", (i + 1) * block, "");
    }
    POINT("allocated", count * block, ",\"brk\":\"%p\",\"allocations\":%zu,\"blockBytes\":%zu", sbrk(0), count,
        block);
    return 0;
}

/// Escapes a short string for a JSON string literal.
static void json_escape(const char *in, size_t len, char *out, size_t cap) {
    size_t j = 0;
    for (size_t i = 0; i < len && j + 7 < cap; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '"' || c == '\\') {
            out[j++] = '\\';
            out[j++] = (char)c;
        } else if (c == '\n') {
            out[j++] = '\\';
            out[j++] = 'n';
        } else if (c < 0x20 || c >= 0x7f) {
            j += (size_t)snprintf(out + j, cap - j, "\\u%04x", c);
        } else {
            out[j++] = (char)c;
        }
    }
    out[j] = '\0';
}

static int run_filemap(const struct options *o) {
    char path[4096];
    snprintf(path, sizeof path, "%s/filemap-XXXXXX", o->tmpdir);
    int fd = mkstemp(path);
    if (fd < 0) fail("mkstemp", errno);
    char escapedPath[8192];
    json_escape(path, strlen(path), escapedPath, sizeof escapedPath);
    // memd learns the path first; the directory is memd's (memd.<pid>.XXXXXX), and
    // memd removes it with whatever is left in it if memlab is killed.
    POINT("created", 0, ",\"path\":\"%s\"", escapedPath);
    if (write(fd, "hello\n", 6) != 6) {
        int e = errno;
        unlink(path);
        fail("write", e);
    }
    char *p = mmap(NULL, o->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        int e = errno;
        unlink(path);
        fail("mmap", e);
    }
    POINT("mapped", 0, ",\"address\":\"%p\",\"size\":%zu", (void *)p, o->size);
    char before[16], after[16], file[64], eb[64], ea[64], ef[256];
    memcpy(before, p, 5);
    before[5] = '\0';
    memcpy(p, "HELLO", 5);
    memcpy(after, p, 5);
    after[5] = '\0';
    munmap(p, o->size);
    ssize_t n = pread(fd, file, sizeof file - 1, 0);
    int e = errno;
    close(fd);
    unlink(path);
    if (n < 0) fail("read", e);
    json_escape(before, 5, eb, sizeof eb);
    json_escape(after, 5, ea, sizeof ea);
    json_escape(file, (size_t)n, ef, sizeof ef);
    POINT("done", 0, ",\"before\":\"%s\",\"after\":\"%s\",\"fileAfter\":\"%s\",\"removed\":true", eb, ea, ef);
    return 0;
}

static int run_demand_paging(const struct options *o) {
    POINT("beforeAlloc", 0, "");
    char *p = map_region(o->size, o->huge);
    POINT("allocated", 0, ",\"address\":\"%p\"", (void *)p);
    touch_in_steps(p, o, "touched", 1);
    return 0;
}

static int run_cow(const struct options *o) {
    char *p = map_region(o->size, o->huge);
    touch(p, 0, o->size, 1);
    POINT("beforeFork", o->size, ",\"address\":\"%p\"", (void *)p);
    pid_t child = fork();
    if (child < 0) fail("fork", errno);
    if (child == 0) {
        // The child dies with memlab; memd reaps it if it outlives memlab.
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        POINT("beforeWrite", 0, ",\"childPid\":%d,\"address\":\"%p\"", (int)getpid(), (void *)p);
        touch_in_steps(p, o, "writing", 2);
        POINT("afterWrite", o->size, ",\"childPid\":%d", (int)getpid());
        _exit(0);
    }
    int status;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {}
    // No childPid here: it is reaped, and memd accepts only pids of live descendants.
    POINT("childExited", o->size, ",\"status\":%d", status);
    return 0;
}

static int run_vm_exhaustion(const struct options *o) {
    struct rlimit limit = {.rlim_cur = o->size, .rlim_max = o->size};
    size_t attempt = o->size * 2;
    POINT("before", 0, ",\"limitBytes\":%zu,\"attemptBytes\":%zu", o->size, attempt);
    if (setrlimit(RLIMIT_AS, &limit) != 0) fail("setrlimit", errno);
    void *p = mmap(NULL, attempt, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int e = p == MAP_FAILED ? errno : 0;
    POINT("attempted", 0, ",\"limitBytes\":%zu,\"attemptBytes\":%zu,\"failed\":%s,\"errno\":\"%s\"", o->size, attempt,
        p == MAP_FAILED ? "true" : "false", p == MAP_FAILED ? errno_name(e) : "");
    return 0;
}

static int run_oom(const struct options *o) {
    // memd moves us into the limited cgroup while we wait here.
    POINT("ready", 0, "");
    struct options more = *o;
    more.size = o->size * 2;
    char *p = map_region(more.size, 0);
    POINT("allocated", 0, ",\"address\":\"%p\",\"size\":%zu", (void *)p, more.size);
    touch_in_steps(p, &more, "touched", 1);  // the OOM killer stops us on the way
    return 0;
}

// ---- segv: report the fault address, then die of it ------------------------------

static void on_segv(int sig, siginfo_t *info, void *context) {
    (void)sig;
    (void)context;
    // Async-signal-safe: format by hand, write(2), then return; SA_RESETHAND has
    // restored the default action, so the faulting store runs again and kills us.
    char line[96] = "{\"event\":\"fault\",\"signal\":11,\"address\":\"0x";
    size_t len = strlen(line);
    uintptr_t a = (uintptr_t)info->si_addr;
    char digits[20];
    int n = 0;
    do {
        digits[n++] = "0123456789abcdef"[a & 15];
        a >>= 4;
    } while (a && n < 16);
    while (n) line[len++] = digits[--n];
    memcpy(line + len, "\"}\n", 3);
    len += 3;
    ssize_t ignored = write(STDOUT_FILENO, line, len);
    (void)ignored;
}

// ---- start-up --------------------------------------------------------------------

static size_t parse_size(const char *s) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v == 0) {
        fprintf(stderr, "memlab: bad size '%s'\n", s);
        exit(64);
    }
    return (size_t)v;
}

/// Closes every descriptor above 2: close_range(2) (Linux 5.9+), else by walking
/// /proc/self/fd (collected first: closing while reading the directory would skip entries).
static void close_other_descriptors(void) {
    if (syscall(SYS_close_range, 3U, ~0U, 0U) == 0) return;
    for (int pass = 0; pass < 8; pass++) {
        DIR *dir = opendir("/proc/self/fd");
        if (!dir) break;
        int own = dirfd(dir), fds[256], count = 0, more = 0;
        struct dirent *entry;
        while ((entry = readdir(dir)) != NULL) {
            char *end;
            long fd = strtol(entry->d_name, &end, 10);
            if (*end || end == entry->d_name || fd <= 2 || fd == own) continue;
            if (count < 256) fds[count++] = (int)fd;
            else more = 1;
        }
        closedir(dir);
        for (int i = 0; i < count; i++) close(fds[i]);
        if (!more) return;
    }
    // No /proc: the brute-force way, up to the descriptor limit.
    long max = sysconf(_SC_OPEN_MAX);
    for (long fd = 3; fd < (max > 0 && max < 1L << 20 ? max : 1L << 16); fd++) close((int)fd);
}

static void drop_privileges(long uid, long gid) {
    if (uid < 0 && gid < 0) return;
    if (gid < 0 || uid < 0) {
        fprintf(stderr, "memlab: --uid and --gid go together\n");
        exit(64);
    }
    if (getuid() == (uid_t)uid && getgid() == (gid_t)gid && geteuid() == (uid_t)uid) return;
    // Supplementary groups first (only root may), then the gid, then the uid.
    if (setgroups(0, NULL) != 0 || setgid((gid_t)gid) != 0 || setuid((uid_t)uid) != 0) {
        fprintf(stderr, "memlab: cannot become uid %ld gid %ld: %s\n", uid, gid, strerror(errno));
        exit(65);
    }
    // Verify: no way back to the old ids, no supplementary group left.
    if (getuid() != (uid_t)uid || geteuid() != (uid_t)uid || getgid() != (gid_t)gid || getegid() != (gid_t)gid
        || getgroups(0, NULL) != 0 || (uid != 0 && setuid(0) == 0)) {
        fprintf(stderr, "memlab: privileges not dropped\n");
        exit(65);
    }
    // Not dumpable: no other process of this user may ptrace us, read our memory or
    // take our descriptors (the pipe to memd). The kernel already cleared the flag
    // on the credential change; set it explicitly, and check.
    if (prctl(PR_SET_DUMPABLE, 0) != 0 || prctl(PR_GET_DUMPABLE) != 0) {
        fprintf(stderr, "memlab: cannot become non-dumpable\n");
        exit(65);
    }
}

int main(int argc, char **argv) {
    pid_t parent = getppid();
    // Nothing of memd's but stdin, stdout and stderr.
    close_other_descriptors();
    // No core dump, wherever the working directory is.
    struct rlimit nocore = {.rlim_cur = 0, .rlim_max = 0};
    if (setrlimit(RLIMIT_CORE, &nocore) != 0) return 66;

    struct options o = {.name = NULL, .size = 100UL << 20, .step = 10UL << 20, .huge = 0, .uid = -1, .gid = -1,
        .tmpdir = "/tmp"};
    if (argc < 2) {
        fprintf(stderr, "usage: memlab NAME --size N --step N [--huge 0|1] [--uid U --gid G] [--tmpdir DIR]\n");
        return 64;
    }
    o.name = argv[1];
    for (int i = 2; i < argc; i += 2) {
        if (i + 1 >= argc) {
            fprintf(stderr, "memlab: %s needs a value\n", argv[i]);
            return 64;
        }
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--size")) o.size = parse_size(v);
        else if (!strcmp(k, "--step")) o.step = parse_size(v);
        else if (!strcmp(k, "--huge")) o.huge = atoi(v) != 0;
        else if (!strcmp(k, "--uid")) o.uid = atol(v);
        else if (!strcmp(k, "--gid")) o.gid = atol(v);
        else if (!strcmp(k, "--tmpdir")) o.tmpdir = v;
        else {
            fprintf(stderr, "memlab: unknown option %s\n", k);
            return 64;
        }
    }
    drop_privileges(o.uid, o.gid);
    // After the credential change (which clears it): die with memd.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) return 5;  // memd died before we could tell

    emit("started", "\"pid\":%d,\"uid\":%d,\"gid\":%d,\"pageSize\":%ld", (int)getpid(), (int)getuid(), (int)getgid(),
        sysconf(_SC_PAGESIZE));

    const char *n = o.name;
    if (!strcmp(n, "segv")) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_segv;
        sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
        sigaction(SIGSEGV, &sa, NULL);
        return run_segv();
    }
    int rc;
    if (!strcmp(n, "mmap")) rc = run_mmap(&o);
    else if (!strcmp(n, "malloc")) rc = run_malloc(&o);
    else if (!strcmp(n, "filemap")) rc = run_filemap(&o);
    else if (!strcmp(n, "demandPaging")) rc = run_demand_paging(&o);
    else if (!strcmp(n, "cow")) rc = run_cow(&o);
    else if (!strcmp(n, "vmExhaustion")) rc = run_vm_exhaustion(&o);
    else if (!strcmp(n, "oom")) rc = run_oom(&o);
    else {
        fprintf(stderr, "memlab: unknown experiment %s\n", n);
        return 64;
    }
    emit("done", "");
    return rc;
}
