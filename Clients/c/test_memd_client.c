/* test_memd_client - the C client against a live memd ($MEMD_SOCKET).
 * Prints one line per failed check and "N passed, N failed[, N skipped]"; exit 1 on any failure. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "memd_client.h"

static int passed, failed, skipped;

#define CHECK(cond, ...)                                      \
    do {                                                      \
        if (cond) {                                           \
            passed++;                                         \
        } else {                                              \
            failed++;                                         \
            printf("FAIL %s:%d: ", __func__, __LINE__);       \
            printf(__VA_ARGS__);                              \
            printf("\n");                                     \
        }                                                     \
    } while (0)

#define SKIP(why)                                             \
    do {                                                      \
        skipped++;                                            \
        printf("SKIP %s: %s\n", __func__, why);              \
    } while (0)

static const char *sock;

static memd_client *open_client(void) {
    memd_error err = MEMD_ERROR_INIT;
    memd_client *c = memd_connect(sock, &err);
    if (c == NULL) {
        printf("cannot connect: %s\n", err.message);
        memd_error_clear(&err);
        exit(3);
    }
    memd_set_timeout(c, 60000);
    memd_error_clear(&err);
    return c;
}

static json_int_t int_field(json_t *o, const char *name) {
    json_t *v = json_object_get(o, name);
    return json_is_integer(v) ? json_integer_value(v) : -1;
}

static pid_t unused_pid(void) {
    FILE *f = fopen("/proc/sys/kernel/pid_max", "r");
    long max = 32768;
    char path[64];
    if (f != NULL) {
        if (fscanf(f, "%ld", &max) != 1)
            max = 32768;
        fclose(f);
    }
    for (long p = max - 1; p > 1; p--) {
        snprintf(path, sizeof path, "/proc/%ld", p);
        if (access(path, F_OK) != 0)
            return (pid_t)p;
    }
    return (pid_t)(max - 1);
}

static int server_has(memd_client *c, const char *method) {
    json_t *doc = NULL, *m;
    memd_error err = MEMD_ERROR_INIT;
    size_t i;
    int found = 0;
    if (memd_call(c, "rpc.discover", NULL, &doc, &err) == MEMD_OK) {
        json_array_foreach(json_object_get(doc, "methods"), i, m) {
            json_t *name = json_object_get(m, "name");
            if (json_is_string(name) && strcmp(json_string_value(name), method) == 0)
                found = 1;
        }
    }
    json_decref(doc);
    memd_error_clear(&err);
    return found;
}

static void test_socket_path(void) {
    char *saved_sock = getenv("MEMD_SOCKET") ? strdup(getenv("MEMD_SOCKET")) : NULL;
    char *saved_xdg = getenv("XDG_RUNTIME_DIR") ? strdup(getenv("XDG_RUNTIME_DIR")) : NULL;
    char expect[64], *p;
    setenv("MEMD_SOCKET", "/env.sock", 1);
    setenv("XDG_RUNTIME_DIR", "/run/user/7", 1);
    p = memd_socket_path("/explicit.sock");
    CHECK(p && strcmp(p, "/explicit.sock") == 0, "explicit path wins: %s", p);
    free(p);
    p = memd_socket_path(NULL);
    CHECK(p && strcmp(p, "/env.sock") == 0, "$MEMD_SOCKET next: %s", p);
    free(p);
    unsetenv("MEMD_SOCKET");
    p = memd_socket_path(NULL);
    CHECK(p && strcmp(p, "/run/user/7/memd.sock") == 0, "$XDG_RUNTIME_DIR next: %s", p);
    free(p);
    unsetenv("XDG_RUNTIME_DIR");
    snprintf(expect, sizeof expect, "/tmp/memd-%u.sock", (unsigned)getuid());
    p = memd_socket_path(NULL);
    if (getuid() == 0)
        CHECK(p && strcmp(p, MEMD_SYSTEM_SOCKET) == 0, "/run/memd.sock last for root: %s", p);
    else /* its own path, or the system-wide memd's when its own has no socket */
        CHECK(p && (strcmp(p, expect) == 0 || strcmp(p, MEMD_SYSTEM_SOCKET) == 0), "/tmp/memd-UID.sock last: %s", p);
    free(p);
    if (saved_sock)
        setenv("MEMD_SOCKET", saved_sock, 1);
    if (saved_xdg)
        setenv("XDG_RUNTIME_DIR", saved_xdg, 1);
    free(saved_sock);
    free(saved_xdg);
}

static void test_connect_failure(void) {
    memd_error err = MEMD_ERROR_INIT;
    memd_client *c = memd_connect("/nonexistent/memd.sock", &err);
    CHECK(c == NULL, "connect to a missing socket fails");
    CHECK(err.kind && strcmp(err.kind, "connect") == 0, "kind connect: %s", err.kind);
    CHECK(err.message && strstr(err.message, "/nonexistent/memd.sock"), "message names the path: %s", err.message);
    memd_error_clear(&err);
    memd_close(c);
}

static void test_meminfo(memd_client *c) {
    json_t *r = NULL;
    memd_error err = MEMD_ERROR_INIT;
    memd_status st = memd_call(c, "meminfo", NULL, &r, &err);
    CHECK(st == MEMD_OK, "meminfo: %s", err.message);
    if (st == MEMD_OK) {
        const char *fields[] = {"total", "used", "free", "shared", "buffers", "cache", "buffCache", "available",
                                "swapTotal", "swapUsed", "swapFree"};
        for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
            CHECK(json_is_integer(json_object_get(r, fields[i])), "meminfo.%s is an integer", fields[i]);
        CHECK(int_field(r, "buffCache") == int_field(r, "buffers") + int_field(r, "cache"), "buffCache = buffers + cache");
        CHECK(int_field(r, "swapUsed") == int_field(r, "swapTotal") - int_field(r, "swapFree"), "swapUsed");
        json_t *src = json_object_get(r, "source");
        CHECK(json_is_string(src) && strcmp(json_string_value(src), "proc") == 0, "source proc");
    }
    json_decref(r);
    memd_error_clear(&err);
}

static void test_maps_and_errors(memd_client *c) {
    json_t *r = NULL, *params = json_object();
    memd_error err = MEMD_ERROR_INIT;
    json_object_set_new(params, "pid", json_integer(getpid()));
    memd_status st = memd_call(c, "maps", params, &r, &err);
    CHECK(st == MEMD_OK, "maps of self: %s", err.message);
    CHECK(int_field(r, "pid") == getpid(), "maps.pid");
    CHECK(json_array_size(json_object_get(r, "mappings")) > 0, "maps has mappings");
    json_decref(r);
    r = NULL;

    json_object_set_new(params, "pid", json_integer(unused_pid()));
    st = memd_call(c, "maps", params, &r, &err);
    CHECK(st == MEMD_ERR_RPC && err.code == MEMD_PROCESS_NOT_FOUND, "unused pid: -32001, got %d %d", st, err.code);
    CHECK(err.kind && strcmp(err.kind, "processNotFound") == 0, "kind processNotFound: %s", err.kind);
    CHECK(json_is_integer(json_object_get(err.data, "pid")), "data.pid");
    CHECK(r == NULL, "no result on error");

    st = memd_call(c, "noSuchMethod", NULL, &r, &err);
    CHECK(st == MEMD_ERR_RPC && err.code == MEMD_METHOD_NOT_FOUND, "-32601, got %d %d", st, err.code);
    CHECK(err.kind && strcmp(err.kind, "methodNotFound") == 0, "kind methodNotFound");

    json_t *arr = json_array();
    st = memd_call(c, "meminfo", arr, &r, &err);
    CHECK(st == MEMD_ERR_ARG, "array params refused locally");
    json_decref(arr);

    json_object_set_new(params, "pid", json_string("one"));
    st = memd_call(c, "maps", params, &r, &err);
    CHECK(st == MEMD_ERR_RPC && err.code == MEMD_INVALID_PARAMS, "-32602, got %d %d", st, err.code);
    CHECK(err.kind && strcmp(err.kind, "invalidParams") == 0, "kind invalidParams");
    json_decref(params);
    memd_error_clear(&err);
}

static void test_raw(memd_client *c) {
    memd_error err = MEMD_ERROR_INIT;
    json_t *msg = NULL, *r = NULL;
    const char *bad = "{\"jsonrpc\":\"2.0\",\"method\":\"foobar, \"params\":\"bar\", \"baz]\n";
    memd_status st = memd_send_raw(c, bad, strlen(bad), &err);
    if (st == MEMD_OK)
        st = memd_read_message(c, &msg, &err);
    CHECK(st == MEMD_OK, "reply to invalid JSON: %s", err.message);
    json_t *e = json_object_get(msg, "error");
    CHECK(int_field(e, "code") == MEMD_PARSE_ERROR, "-32700");
    CHECK(json_is_null(json_object_get(msg, "id")), "id null");
    json_decref(msg);
    msg = NULL;
    st = memd_call(c, "meminfo", NULL, &r, &err);
    CHECK(st == MEMD_OK, "connection open after a parse error");
    json_decref(r);
    r = NULL;

    /* one request in fragments, with CR LF and a blank line before it */
    const char *parts[] = {"\r\n", "{\"jsonrpc\":\"2.", "0\",\"id\":\"frag\",\"met", "hod\":\"meminfo\"}\r", "\n"};
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
        memd_send_raw(c, parts[i], strlen(parts[i]), &err);
        usleep(20000);
    }
    st = memd_read_message(c, &msg, &err);
    json_t *id = json_object_get(msg, "id");
    CHECK(st == MEMD_OK && json_is_string(id) && strcmp(json_string_value(id), "frag") == 0, "fragmented request");
    CHECK(json_is_object(json_object_get(msg, "result")), "fragmented request has a result");
    json_decref(msg);
    memd_error_clear(&err);
}

static void test_pipelining(memd_client *c) {
    memd_error err = MEMD_ERROR_INIT;
    json_int_t a = 0, b = 0;
    json_t *ra = NULL, *rb = NULL, *params = json_object();
    json_object_set_new(params, "pid", json_integer(getpid()));
    CHECK(memd_start(c, "maps", params, &a, &err) == MEMD_OK, "start a");
    CHECK(memd_start(c, "meminfo", NULL, &b, &err) == MEMD_OK, "start b");
    CHECK(memd_wait(c, b, &rb, &err) == MEMD_OK && json_object_get(rb, "total"), "wait b first");
    CHECK(memd_wait(c, a, &ra, &err) == MEMD_OK && int_field(ra, "pid") == getpid(), "then a");
    json_decref(ra);
    json_decref(rb);
    json_decref(params);
    memd_error_clear(&err);
}

static void test_notifications_get_no_reply(memd_client *c) {
    memd_error err = MEMD_ERROR_INIT;
    json_t *r = NULL;
    CHECK(memd_notify(c, "meminfo", NULL, &err) == MEMD_OK, "notify");
    CHECK(memd_notify(c, "noSuchMethod", NULL, &err) == MEMD_OK, "notify unknown");
    CHECK(memd_call(c, "meminfo", NULL, &r, &err) == MEMD_OK, "the next reply is the call's");
    json_decref(r);
    memd_error_clear(&err);
}

static json_t *entry(const char *method, json_t *params, int note) {
    json_t *e = json_object();
    json_object_set_new(e, "method", json_string(method));
    if (params)
        json_object_set_new(e, "params", params);
    if (note)
        json_object_set_new(e, "notification", json_true());
    return e;
}

static void test_batch(memd_client *c) {
    memd_error err = MEMD_ERROR_INIT;
    json_t *reqs = json_array(), *resps = NULL;
    json_array_append_new(reqs, entry("meminfo", NULL, 0));
    json_array_append_new(reqs, entry("meminfo", NULL, 1));
    json_array_append_new(reqs, entry("noSuchMethod", json_object(), 0));
    memd_status st = memd_batch(c, reqs, &resps, &err);
    CHECK(st == MEMD_OK, "batch: %s", err.message);
    CHECK(json_array_size(resps) == 2, "two responses, got %zu", json_array_size(resps));
    CHECK(json_is_object(json_object_get(json_array_get(resps, 0), "result")), "first has a result");
    json_t *e = json_object_get(json_array_get(resps, 1), "error");
    CHECK(int_field(e, "code") == MEMD_METHOD_NOT_FOUND, "second is -32601");
    memd_error_from_json(e, &err);
    CHECK(err.code == MEMD_METHOD_NOT_FOUND && err.kind && strcmp(err.kind, "methodNotFound") == 0, "typed");
    json_decref(reqs);
    json_decref(resps);
    resps = NULL;

    reqs = json_array();
    json_array_append_new(reqs, entry("meminfo", NULL, 1));
    st = memd_batch(c, reqs, &resps, &err);
    CHECK(st == MEMD_OK && json_array_size(resps) == 0, "notifications only: no reply, empty array");
    json_decref(reqs);
    json_decref(resps);
    resps = NULL;

    reqs = json_array();
    for (int i = 0; i < 1001; i++)
        json_array_append_new(reqs, entry("meminfo", NULL, 0));
    st = memd_batch(c, reqs, &resps, &err);
    CHECK(st == MEMD_ERR_RPC && err.code == MEMD_RESOURCE_LIMIT, "batch of 1001: -32003, got %d %d", st, err.code);
    CHECK(err.kind && strcmp(err.kind, "resourceLimit") == 0, "kind resourceLimit");
    CHECK(resps == NULL, "no responses array");
    json_decref(reqs);
    json_decref(resps);
    memd_error_clear(&err);
}

static void test_long_line(memd_client *c) {
    /* 5,000 one-page mappings that cannot merge, with detail: maps replies with a line over 1 MB
     * (kept under valgrind's segment table limit) */
    const size_t n = 2500, page = 4096;
    char *base = mmap(NULL, 2 * n * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) {
        SKIP("mmap failed");
        return;
    }
    for (size_t i = 0; i < n; i++)
        mprotect(base + 2 * i * page, page, PROT_READ);
    memd_error err = MEMD_ERROR_INIT;
    json_t *r = NULL, *params = json_object();
    json_object_set_new(params, "pid", json_integer(getpid()));
    json_object_set_new(params, "detail", json_true());
    memd_status st = memd_call(c, "maps", params, &r, &err);
    CHECK(st == MEMD_OK, "maps with detail of 5,000+ mappings: %s", err.message);
    char *text = json_dumps(r, JSON_COMPACT);
    CHECK(text && strlen(text) > 1000000, "the reply was over 1 MB: %zu", text ? strlen(text) : 0);
    free(text);
    CHECK(json_array_size(json_object_get(r, "mappings")) >= 2 * n, "all mappings came through: %zu",
          json_array_size(json_object_get(r, "mappings")));
    json_decref(r);
    json_decref(params);
    memd_error_clear(&err);
    munmap(base, 2 * n * page);
}

static void count_note(const char *method, json_t *params, void *user) {
    if (strcmp(method, "experiment.progress") == 0 && json_is_object(params) &&
        json_is_string(json_object_get(params, "phase")))
        (*(int *)user)++;
}

static void test_progress_and_cancel(memd_client *c) {
    if (!server_has(c, "runExperiment")) {
        SKIP("server does not list runExperiment");
        return;
    }
    int notes = 0;
    memd_error err = MEMD_ERROR_INIT;
    json_t *r = NULL;
    json_t *params = json_pack("{s:s,s:I,s:I,s:b}", "name", "demandPaging", "sizeBytes", (json_int_t)8 << 20,
                               "stepBytes", (json_int_t)2 << 20, "progress", 1);
    memd_set_notification_handler(c, count_note, &notes);
    memd_status st = memd_call(c, "runExperiment", params, &r, &err);
    CHECK(st == MEMD_OK, "runExperiment: %s", err.message);
    CHECK(notes > 0, "experiment.progress notifications reached the callback (%d)", notes);
    json_decref(r);
    r = NULL;
    json_decref(params);

    /* cancel a long one after its first progress */
    params = json_pack("{s:s,s:I,s:I,s:b}", "name", "demandPaging", "sizeBytes", (json_int_t)768 << 20,
                       "stepBytes", (json_int_t)1 << 20, "progress", 1);
    json_int_t id = 0;
    notes = 0;
    st = memd_start(c, "runExperiment", params, &id, &err);
    while (st == MEMD_OK && notes == 0) {
        json_t *msg = NULL;
        st = memd_read_message(c, &msg, &err);
        if (st == MEMD_OK) {
            json_t *m = json_object_get(msg, "method");
            if (json_is_string(m))
                count_note(json_string_value(m), json_object_get(msg, "params"), &notes);
            else if (json_object_get(msg, "id"))
                st = MEMD_ERR_PROTOCOL; /* answered before any progress */
        }
        json_decref(msg);
    }
    CHECK(st == MEMD_OK, "first progress of the long experiment: %s", err.message);
    if (st == MEMD_OK) {
        memd_cancel(c, id, &err);
        st = memd_wait(c, id, &r, &err);
        CHECK(st == MEMD_ERR_RPC && err.code == MEMD_TIMEOUT, "cancelled call ends with -32006, got %d %d", st, err.code);
        CHECK(err.kind && strcmp(err.kind, "timeout") == 0, "kind timeout");
    }
    memd_set_notification_handler(c, NULL, NULL);
    json_decref(r);
    json_decref(params);
    memd_error_clear(&err);
}

int main(void) {
    sock = getenv("MEMD_SOCKET");
    if (sock == NULL || sock[0] == '\0') {
        fprintf(stderr, "test_memd_client: set MEMD_SOCKET to a live memd's socket\n");
        return 2;
    }
    test_socket_path();
    test_connect_failure();
    memd_client *c = open_client();
    test_meminfo(c);
    test_maps_and_errors(c);
    test_raw(c);
    test_pipelining(c);
    test_notifications_get_no_reply(c);
    test_batch(c);
    test_long_line(c);
    test_progress_and_cancel(c);
    memd_close(c);
    printf("%d passed, %d failed", passed, failed);
    if (skipped)
        printf(", %d skipped", skipped);
    printf("\n");
    return failed ? 1 : 0;
}
