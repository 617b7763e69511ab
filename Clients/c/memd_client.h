/*
 * memd_client.h - a small C client for memd (JSON-RPC 2.0, newline-delimited
 * JSON over a Unix stream socket), on libjansson.
 *
 *     memd_error err = MEMD_ERROR_INIT;
 *     memd_client *c = memd_connect(NULL, &err);      // path by the contract's rules
 *     json_t *params = json_pack("{s:i}", "pid", 1);
 *     json_t *result = NULL;
 *     if (memd_call(c, "maps", params, &result, &err) == MEMD_OK) { ...; json_decref(result); }
 *     else fprintf(stderr, "error %d %s: %s\n", err.code, err.kind, err.message);
 *     json_decref(params);
 *     memd_error_clear(&err);
 *     memd_close(c);
 *
 * Ownership: params passed in are borrowed (never stolen); results handed out
 * are new references the caller must json_decref. memd_error owns its strings
 * and data; memd_error_clear releases them (safe to call repeatedly).
 */
#ifndef MEMD_CLIENT_H
#define MEMD_CLIENT_H

#include <stddef.h>

#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status of every call. MEMD_ERR_RPC means the server answered with an error. */
typedef enum {
    MEMD_OK = 0,
    MEMD_ERR_RPC = 1,      /* error response: err->code, err->kind, err->message, err->data */
    MEMD_ERR_CONNECT = 2,  /* could not connect (err->message names the path) */
    MEMD_ERR_IO = 3,       /* read/write failed, or the server closed the connection */
    MEMD_ERR_PROTOCOL = 4, /* the server sent something that is not JSON-RPC */
    MEMD_ERR_TIMEOUT = 5,  /* no reply within the client's timeout */
    MEMD_ERR_ARG = 6,      /* bad argument (e.g. params not an object) */
    MEMD_ERR_NOMEM = 7
} memd_status;

/* JSON-RPC error codes of the contract. */
enum {
    MEMD_PARSE_ERROR = -32700,
    MEMD_INVALID_REQUEST = -32600,
    MEMD_METHOD_NOT_FOUND = -32601,
    MEMD_INVALID_PARAMS = -32602,
    MEMD_INTERNAL_ERROR = -32603,
    MEMD_PROCESS_NOT_FOUND = -32001,
    MEMD_PERMISSION_DENIED = -32002,
    MEMD_RESOURCE_LIMIT = -32003,
    MEMD_UNSUPPORTED = -32004,
    MEMD_SIM_NOT_FOUND = -32005,
    MEMD_TIMEOUT = -32006
};

/* A typed error: for MEMD_ERR_RPC the server's code, data.kind, message and data;
 * for local failures code 0 and kind "connect", "io", "protocol", "timeout", "argument", "nomem". */
typedef struct {
    int code;
    char *kind;
    char *message;
    json_t *data; /* the error's data object, or NULL */
} memd_error;

#define MEMD_ERROR_INIT {0, NULL, NULL, NULL}

void memd_error_clear(memd_error *err);

typedef struct memd_client memd_client;

/* Called for every notification received while the client waits (e.g. "experiment.progress").
 * params is borrowed: json_incref it to keep it. */
typedef void (*memd_notification_fn)(const char *method, json_t *params, void *user);

/* The socket path, first that applies: explicit, $MEMD_SOCKET, $XDG_RUNTIME_DIR/memd.sock,
 * /tmp/memd-<uid>.sock. Returns a malloc'd string (free it), or NULL when out of memory. */
char *memd_socket_path(const char *explicit_path);

/* The host's system-wide memd: root's default, and where a client that is not root
   looks when its own path has no socket. */
#define MEMD_SYSTEM_SOCKET "/run/memd.sock"

/* Connect; path NULL resolves it as memd_socket_path does. NULL on failure (err filled). */
memd_client *memd_connect(const char *path, memd_error *err);
void memd_close(memd_client *c);
const char *memd_client_path(const memd_client *c);

void memd_set_notification_handler(memd_client *c, memd_notification_fn fn, void *user);
/* Milliseconds to wait for a reply; -1 (the default) waits forever. */
void memd_set_timeout(memd_client *c, int timeout_ms);
/* Longest response line accepted (default 1 GiB). */
void memd_set_max_line(memd_client *c, size_t max_bytes);

/* Call method with params (an object, or NULL for none); on MEMD_OK *result is a new reference. */
memd_status memd_call(memd_client *c, const char *method, json_t *params, json_t **result, memd_error *err);

/* Send a request and return at once; *id_out gets its id (for memd_wait and memd_cancel). */
memd_status memd_start(memd_client *c, const char *method, json_t *params, json_int_t *id_out, memd_error *err);
/* Wait for the reply to a request sent with memd_start. */
memd_status memd_wait(memd_client *c, json_int_t id, json_t **result, memd_error *err);
/* $/cancelRequest for id: the call then ends with MEMD_TIMEOUT (-32006). */
memd_status memd_cancel(memd_client *c, json_int_t id, memd_error *err);

/* A notification: never answered. */
memd_status memd_notify(memd_client *c, const char *method, json_t *params, memd_error *err);

/* A batch. requests: an array of objects {"method": s, "params"?: o, "notification"?: b}.
 * On MEMD_OK *responses is a new array with one entry per non-notification request, in order:
 * each the response object ({"id", "result"} or {"id", "error"}). A batch of only notifications
 * gives an empty array at once. A batch rejected as a whole gives MEMD_ERR_RPC. */
memd_status memd_batch(memd_client *c, json_t *requests, json_t **responses, memd_error *err);

/* Low level, for tests of the protocol itself: send bytes as they are; read the next message. */
memd_status memd_send_raw(memd_client *c, const char *bytes, size_t len, memd_error *err);
memd_status memd_read_message(memd_client *c, json_t **message, memd_error *err);

/* Fill err from a response's "error" member (for batch entries). */
void memd_error_from_json(json_t *error, memd_error *err);

#ifdef __cplusplus
}
#endif

#endif
