/* memd_client.c - see memd_client.h. */
#define _GNU_SOURCE
#include "memd_client.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct memd_client {
    int fd;
    char *path;
    char *buf; /* bytes read, not yet consumed */
    size_t len, cap;
    size_t max_line;
    int timeout_ms;
    json_int_t next_id;
    json_t *pending; /* object: id text -> response that arrived before it was waited for */
    json_t *batches; /* array of batch replies not yet claimed */
    memd_notification_fn on_note;
    void *note_user;
};

/* ------------------------------------------------------------------ errors */

void memd_error_clear(memd_error *err) {
    if (err == NULL)
        return;
    free(err->kind);
    free(err->message);
    json_decref(err->data);
    err->code = 0;
    err->kind = NULL;
    err->message = NULL;
    err->data = NULL;
}

static char *dup_or_null(const char *s) {
    return s ? strdup(s) : NULL;
}

static memd_status set_error(memd_error *err, memd_status st, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static memd_status set_error(memd_error *err, memd_status st, const char *kind, const char *fmt, ...) {
    if (err == NULL)
        return st;
    memd_error_clear(err);
    err->kind = dup_or_null(kind);
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&err->message, fmt, ap) < 0)
        err->message = NULL;
    va_end(ap);
    return st;
}

void memd_error_from_json(json_t *error, memd_error *err) {
    if (err == NULL)
        return;
    memd_error_clear(err);
    if (!json_is_object(error)) {
        err->kind = strdup("protocol");
        err->message = strdup("error member is not an object");
        return;
    }
    json_t *code = json_object_get(error, "code");
    json_t *message = json_object_get(error, "message");
    json_t *data = json_object_get(error, "data");
    err->code = json_is_integer(code) ? (int)json_integer_value(code) : 0;
    err->message = strdup(json_is_string(message) ? json_string_value(message) : "(no message)");
    if (json_is_object(data)) {
        err->data = json_incref(data);
        json_t *kind = json_object_get(data, "kind");
        if (json_is_string(kind))
            err->kind = strdup(json_string_value(kind));
    }
    if (err->kind == NULL)
        err->kind = strdup("");
}

/* ------------------------------------------------------------------ socket path */

static int is_socket(const char *path) {
    struct stat info;
    return lstat(path, &info) == 0 && S_ISSOCK(info.st_mode);
}

char *memd_socket_path(const char *explicit_path) {
    char *out = NULL;
    const char *env;
    if (explicit_path != NULL && explicit_path[0] != '\0')
        return strdup(explicit_path);
    env = getenv("MEMD_SOCKET");
    if (env != NULL && env[0] != '\0')
        return strdup(env);
    env = getenv("XDG_RUNTIME_DIR");
    if (env != NULL && env[0] != '\0') {
        if (asprintf(&out, "%s/memd.sock", env) < 0)
            return NULL;
        return out;
    }
    if (getuid() == 0)
        return strdup(MEMD_SYSTEM_SOCKET);
    if (asprintf(&out, "/tmp/memd-%u.sock", (unsigned)getuid()) < 0)
        return NULL;
    /* Not root, and no socket at its own path: the host's system-wide memd. */
    if (!is_socket(out) && is_socket(MEMD_SYSTEM_SOCKET)) {
        free(out);
        return strdup(MEMD_SYSTEM_SOCKET);
    }
    return out;
}

/* ------------------------------------------------------------------ connection */

memd_client *memd_connect(const char *path, memd_error *err) {
    struct sockaddr_un addr;
    memd_client *c = calloc(1, sizeof *c);
    if (c == NULL) {
        set_error(err, MEMD_ERR_NOMEM, "nomem", "out of memory");
        return NULL;
    }
    c->fd = -1;
    c->path = memd_socket_path(path);
    c->pending = json_object();
    c->batches = json_array();
    c->next_id = 1;
    c->timeout_ms = -1;
    c->max_line = (size_t)1 << 30;
    if (c->path == NULL || c->pending == NULL || c->batches == NULL) {
        set_error(err, MEMD_ERR_NOMEM, "nomem", "out of memory");
        memd_close(c);
        return NULL;
    }
    if (strlen(c->path) >= sizeof addr.sun_path) {
        set_error(err, MEMD_ERR_CONNECT, "connect", "socket path too long: %s", c->path);
        memd_close(c);
        return NULL;
    }
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path, c->path, strlen(c->path) + 1);
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        set_error(err, MEMD_ERR_CONNECT, "connect", "cannot connect to %s: %s", c->path, strerror(errno));
        memd_close(c);
        return NULL;
    }
    /* Who serves the socket, as the kernel says (SO_PEERCRED): root or this user,
       never an impostor that bound the path first. */
    struct ucred cred;
    socklen_t length = sizeof cred;
    if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) != 0) {
        set_error(err, MEMD_ERR_CONNECT, "connect", "SO_PEERCRED on %s: %s", c->path, strerror(errno));
        memd_close(c);
        return NULL;
    }
    if (cred.uid != 0 && cred.uid != geteuid()) {
        set_error(err, MEMD_ERR_CONNECT, "untrustedServer", "the server at %s runs as uid %u, not root or you",
                  c->path, (unsigned)cred.uid);
        memd_close(c);
        return NULL;
    }
    return c;
}

void memd_close(memd_client *c) {
    if (c == NULL)
        return;
    if (c->fd >= 0)
        close(c->fd);
    free(c->path);
    free(c->buf);
    json_decref(c->pending);
    json_decref(c->batches);
    free(c);
}

const char *memd_client_path(const memd_client *c) {
    return c->path;
}

void memd_set_notification_handler(memd_client *c, memd_notification_fn fn, void *user) {
    c->on_note = fn;
    c->note_user = user;
}

void memd_set_timeout(memd_client *c, int timeout_ms) {
    c->timeout_ms = timeout_ms;
}

void memd_set_max_line(memd_client *c, size_t max_bytes) {
    c->max_line = max_bytes;
}

/* ------------------------------------------------------------------ wire */

memd_status memd_send_raw(memd_client *c, const char *bytes, size_t len, memd_error *err) {
    size_t off = 0;
    if (c->fd < 0)
        return set_error(err, MEMD_ERR_IO, "io", "connection closed");
    while (off < len) {
        ssize_t n = send(c->fd, bytes + off, len - off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return set_error(err, MEMD_ERR_IO, "io", "send to %s failed: %s", c->path, strerror(errno));
        }
        off += (size_t)n;
    }
    return MEMD_OK;
}

static memd_status send_json(memd_client *c, json_t *msg, memd_error *err) {
    char *text = json_dumps(msg, JSON_COMPACT);
    memd_status st;
    size_t len;
    if (text == NULL)
        return set_error(err, MEMD_ERR_NOMEM, "nomem", "cannot encode request");
    len = strlen(text);
    /* one line: text + "\n" in one send */
    char *line = malloc(len + 1);
    if (line == NULL) {
        free(text);
        return set_error(err, MEMD_ERR_NOMEM, "nomem", "out of memory");
    }
    memcpy(line, text, len);
    line[len] = '\n';
    st = memd_send_raw(c, line, len + 1, err);
    free(line);
    free(text);
    return st;
}

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read until the buffer holds a complete line (or EOF/timeout). */
static memd_status fill(memd_client *c, long long deadline, memd_error *err) {
    if (c->fd < 0)
        return set_error(err, MEMD_ERR_IO, "io", "connection closed");
    if (c->len >= c->max_line)
        return set_error(err, MEMD_ERR_PROTOCOL, "protocol", "response line longer than %zu bytes", c->max_line);
    if (deadline >= 0) {
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        for (;;) {
            long long left = deadline - now_ms();
            if (left <= 0)
                return set_error(err, MEMD_ERR_TIMEOUT, "timeout", "no reply from %s in time", c->path);
            int r = poll(&p, 1, (int)(left > 1000000 ? 1000000 : left));
            if (r > 0)
                break;
            if (r < 0 && errno != EINTR)
                return set_error(err, MEMD_ERR_IO, "io", "poll: %s", strerror(errno));
        }
    }
    if (c->cap - c->len < 65536) {
        size_t ncap = c->cap ? c->cap * 2 : 131072;
        while (ncap - c->len < 65536)
            ncap *= 2;
        char *nb = realloc(c->buf, ncap);
        if (nb == NULL)
            return set_error(err, MEMD_ERR_NOMEM, "nomem", "out of memory");
        c->buf = nb;
        c->cap = ncap;
    }
    for (;;) {
        ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return set_error(err, MEMD_ERR_IO, "io", "read from %s failed: %s", c->path, strerror(errno));
        if (n == 0) {
            close(c->fd);
            c->fd = -1;
            return set_error(err, MEMD_ERR_IO, "io", "connection closed by server%s",
                             c->len ? " in the middle of a line" : "");
        }
        c->len += (size_t)n;
        return MEMD_OK;
    }
}

memd_status memd_read_message(memd_client *c, json_t **message, memd_error *err) {
    long long deadline = c->timeout_ms < 0 ? -1 : now_ms() + c->timeout_ms;
    size_t scanned = 0;
    *message = NULL;
    for (;;) {
        char *nl = c->len > scanned ? memchr(c->buf + scanned, '\n', c->len - scanned) : NULL;
        if (nl != NULL) {
            size_t line_len = (size_t)(nl - c->buf);
            size_t used = line_len + 1;
            if (line_len > 0 && c->buf[line_len - 1] == '\r')
                line_len--;
            size_t i = 0;
            while (i < line_len && (c->buf[i] == ' ' || c->buf[i] == '\t' || c->buf[i] == '\r'))
                i++;
            if (i == line_len) { /* blank line */
                memmove(c->buf, c->buf + used, c->len - used);
                c->len -= used;
                scanned = 0;
                continue;
            }
            json_error_t jerr;
            json_t *msg = json_loadb(c->buf, line_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
            memmove(c->buf, c->buf + used, c->len - used);
            c->len -= used;
            if (msg == NULL)
                return set_error(err, MEMD_ERR_PROTOCOL, "protocol", "server sent invalid JSON: %s", jerr.text);
            *message = msg;
            return MEMD_OK;
        }
        scanned = c->len;
        memd_status st = fill(c, deadline, err);
        if (st != MEMD_OK)
            return st;
    }
}

/* ------------------------------------------------------------------ dispatch */

static void id_key(json_t *id, char *buf, size_t len) {
    if (json_is_integer(id))
        snprintf(buf, len, "n%" JSON_INTEGER_FORMAT, json_integer_value(id));
    else if (json_is_real(id))
        snprintf(buf, len, "r%.17g", json_real_value(id));
    else if (json_is_string(id))
        snprintf(buf, len, "s%s", json_string_value(id));
    else
        snprintf(buf, len, "null");
}

/* Take a message that is not what the caller waits for: notifications go to the handler,
 * responses and batch replies are kept. Steals msg. */
static void file_message(memd_client *c, json_t *msg) {
    if (json_is_array(msg)) {
        json_array_append_new(c->batches, msg);
        return;
    }
    if (json_is_object(msg)) {
        json_t *method = json_object_get(msg, "method");
        json_t *id = json_object_get(msg, "id");
        if (json_is_string(method) && id == NULL) {
            if (c->on_note != NULL)
                c->on_note(json_string_value(method), json_object_get(msg, "params"), c->note_user);
            json_decref(msg);
            return;
        }
        if (id != NULL) {
            char key[512];
            id_key(id, key, sizeof key);
            json_object_set_new(c->pending, key, msg);
            return;
        }
    }
    json_decref(msg); /* not JSON-RPC: ignore */
}

/* Turn a response into result / error. Borrowed resp. */
static memd_status take_response(json_t *resp, json_t **result, memd_error *err) {
    json_t *error = json_object_get(resp, "error");
    json_t *res = json_object_get(resp, "result");
    if (error != NULL) {
        memd_error_from_json(error, err);
        return MEMD_ERR_RPC;
    }
    if (res == NULL)
        return set_error(err, MEMD_ERR_PROTOCOL, "protocol", "response has neither result nor error");
    if (result != NULL)
        *result = json_incref(res);
    return MEMD_OK;
}

static memd_status wait_key(memd_client *c, const char *key, json_t **resp_out, memd_error *err) {
    for (;;) {
        json_t *resp = json_object_get(c->pending, key);
        if (resp != NULL) {
            *resp_out = json_incref(resp);
            json_object_del(c->pending, key);
            return MEMD_OK;
        }
        json_t *msg = NULL;
        memd_status st = memd_read_message(c, &msg, err);
        if (st != MEMD_OK)
            return st;
        file_message(c, msg);
    }
}

/* ------------------------------------------------------------------ calls */

static json_t *make_request(const char *method, json_t *params, json_int_t id, int with_id) {
    json_t *msg = json_object();
    if (msg == NULL)
        return NULL;
    if (json_object_set_new(msg, "jsonrpc", json_string("2.0")) != 0 ||
        json_object_set_new(msg, "method", json_string(method)) != 0 ||
        (params != NULL && json_object_set(msg, "params", params) != 0) ||
        (with_id && json_object_set_new(msg, "id", json_integer(id)) != 0)) {
        json_decref(msg);
        return NULL;
    }
    return msg;
}

static memd_status check_params(json_t *params, memd_error *err) {
    if (params != NULL && !json_is_object(params))
        return set_error(err, MEMD_ERR_ARG, "argument", "params must be a JSON object (memd takes params by name)");
    return MEMD_OK;
}

memd_status memd_start(memd_client *c, const char *method, json_t *params, json_int_t *id_out, memd_error *err) {
    memd_status st = check_params(params, err);
    if (st != MEMD_OK)
        return st;
    json_int_t id = c->next_id++;
    json_t *msg = make_request(method, params, id, 1);
    if (msg == NULL)
        return set_error(err, MEMD_ERR_NOMEM, "nomem", "out of memory");
    st = send_json(c, msg, err);
    json_decref(msg);
    if (st == MEMD_OK && id_out != NULL)
        *id_out = id;
    return st;
}

memd_status memd_wait(memd_client *c, json_int_t id, json_t **result, memd_error *err) {
    char key[64];
    json_t *resp = NULL;
    snprintf(key, sizeof key, "n%" JSON_INTEGER_FORMAT, id);
    memd_status st = wait_key(c, key, &resp, err);
    if (st != MEMD_OK)
        return st;
    st = take_response(resp, result, err);
    json_decref(resp);
    return st;
}

memd_status memd_call(memd_client *c, const char *method, json_t *params, json_t **result, memd_error *err) {
    json_int_t id = 0;
    if (result != NULL)
        *result = NULL;
    memd_status st = memd_start(c, method, params, &id, err);
    if (st != MEMD_OK)
        return st;
    return memd_wait(c, id, result, err);
}

memd_status memd_notify(memd_client *c, const char *method, json_t *params, memd_error *err) {
    memd_status st = check_params(params, err);
    if (st != MEMD_OK)
        return st;
    json_t *msg = make_request(method, params, 0, 0);
    if (msg == NULL)
        return set_error(err, MEMD_ERR_NOMEM, "nomem", "out of memory");
    st = send_json(c, msg, err);
    json_decref(msg);
    return st;
}

memd_status memd_cancel(memd_client *c, json_int_t id, memd_error *err) {
    json_t *params = json_object();
    if (params == NULL || json_object_set_new(params, "id", json_integer(id)) != 0) {
        json_decref(params);
        return set_error(err, MEMD_ERR_NOMEM, "nomem", "out of memory");
    }
    memd_status st = memd_notify(c, "$/cancelRequest", params, err);
    json_decref(params);
    return st;
}

/* Does batch reply b answer a request whose first id is key? */
static int batch_has_key(json_t *b, const char *key) {
    size_t i;
    json_t *r;
    json_array_foreach(b, i, r) {
        char k[512];
        if (!json_is_object(r))
            continue;
        id_key(json_object_get(r, "id"), k, sizeof k);
        if (strcmp(k, key) == 0)
            return 1;
    }
    return 0;
}

memd_status memd_batch(memd_client *c, json_t *requests, json_t **responses, memd_error *err) {
    size_t i, n_calls = 0;
    json_t *req, *msgs, *ids;
    memd_status st = MEMD_OK;
    *responses = NULL;
    if (!json_is_array(requests) || json_array_size(requests) == 0)
        return set_error(err, MEMD_ERR_ARG, "argument", "requests must be a non-empty array");
    msgs = json_array();
    ids = json_array();
    if (msgs == NULL || ids == NULL) {
        json_decref(msgs);
        json_decref(ids);
        return set_error(err, MEMD_ERR_NOMEM, "nomem", "out of memory");
    }
    json_array_foreach(requests, i, req) {
        json_t *method = json_object_get(req, "method");
        json_t *params = json_object_get(req, "params");
        json_t *note = json_object_get(req, "notification");
        int is_note = json_is_true(note);
        if (!json_is_object(req) || !json_is_string(method) || (note != NULL && !json_is_boolean(note)) ||
            check_params(params, NULL) != MEMD_OK) {
            st = set_error(err, MEMD_ERR_ARG, "argument",
                           "batch entry %zu must be {\"method\": string, \"params\"?: object, \"notification\"?: bool}", i);
            goto out;
        }
        json_int_t id = is_note ? 0 : c->next_id++;
        json_t *msg = make_request(json_string_value(method), params, id, !is_note);
        if (msg == NULL || json_array_append_new(msgs, msg) != 0 ||
            (!is_note && json_array_append_new(ids, json_integer(id)) != 0)) {
            st = set_error(err, MEMD_ERR_NOMEM, "nomem", "out of memory");
            goto out;
        }
        if (!is_note)
            n_calls++;
    }
    st = send_json(c, msgs, err);
    if (st != MEMD_OK)
        goto out;
    if (n_calls == 0) {
        *responses = json_array();
        goto out;
    }
    char first[64];
    snprintf(first, sizeof first, "n%" JSON_INTEGER_FORMAT, json_integer_value(json_array_get(ids, 0)));
    for (;;) {
        json_t *b;
        json_array_foreach(c->batches, i, b) {
            if (!batch_has_key(b, first))
                continue;
            json_t *out = json_array();
            json_t *id;
            size_t j;
            json_array_foreach(ids, j, id) {
                char key[64];
                size_t k;
                json_t *r, *found = NULL;
                snprintf(key, sizeof key, "n%" JSON_INTEGER_FORMAT, json_integer_value(id));
                json_array_foreach(b, k, r) {
                    char rk[512];
                    id_key(json_object_get(r, "id"), rk, sizeof rk);
                    if (json_is_object(r) && strcmp(rk, key) == 0) {
                        found = r;
                        break;
                    }
                }
                if (found != NULL)
                    json_array_append(out, found);
                else
                    json_array_append_new(out, json_pack("{s:O,s:{s:i,s:s,s:{s:s}}}", "id", id, "error", "code",
                                                         MEMD_INTERNAL_ERROR, "message", "no response in batch reply",
                                                         "data", "kind", "internal"));
            }
            json_array_remove(c->batches, i);
            *responses = out;
            goto out;
        }
        json_t *whole = json_object_get(c->pending, "null");
        if (whole != NULL) { /* the batch rejected as a whole */
            json_incref(whole);
            json_object_del(c->pending, "null");
            st = take_response(whole, NULL, err);
            if (st == MEMD_OK)
                st = set_error(err, MEMD_ERR_PROTOCOL, "protocol", "batch answered by a single result");
            json_decref(whole);
            goto out;
        }
        json_t *msg = NULL;
        st = memd_read_message(c, &msg, err);
        if (st != MEMD_OK)
            goto out;
        file_message(c, msg);
    }
out:
    json_decref(msgs);
    json_decref(ids);
    return st;
}
