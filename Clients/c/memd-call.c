/* memd-call - call one memd method and print its result.
 *
 *   memd-call METHOD ['{"pid":1}'] [--socket PATH]
 *
 * Prints the result as JSON on stdout (exit 0); an error response prints
 * "error CODE KIND: MESSAGE" on stderr (exit 1); usage errors exit 2; when it
 * cannot connect it names the socket path and exits 3. Notifications that
 * arrive meanwhile (experiment.progress) are printed on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memd_client.h"

static void usage(void) {
    fprintf(stderr, "usage: memd-call METHOD ['{\"name\": value, ...}'] [--socket PATH]\n");
}

static void on_note(const char *method, json_t *params, void *user) {
    (void)user;
    char *text = params ? json_dumps(params, JSON_COMPACT) : NULL;
    fprintf(stderr, "%s %s\n", method, text ? text : "");
    free(text);
}

int main(int argc, char **argv) {
    const char *method = NULL, *params_text = NULL, *socket_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--socket") == 0) {
            if (++i >= argc) {
                usage();
                return 2;
            }
            socket_path = argv[i];
        } else if (strncmp(argv[i], "--socket=", 9) == 0) {
            socket_path = argv[i] + 9;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage();
            return 0;
        } else if (method == NULL) {
            method = argv[i];
        } else if (params_text == NULL) {
            params_text = argv[i];
        } else {
            usage();
            return 2;
        }
    }
    if (method == NULL) {
        usage();
        return 2;
    }
    json_t *params = NULL;
    if (params_text != NULL) {
        json_error_t jerr;
        params = json_loads(params_text, 0, &jerr);
        if (!json_is_object(params)) {
            fprintf(stderr, "memd-call: params must be a JSON object: %s\n", params ? "not an object" : jerr.text);
            json_decref(params);
            return 2;
        }
    }
    memd_error err = MEMD_ERROR_INIT;
    memd_client *c = memd_connect(socket_path, &err);
    if (c == NULL) {
        fprintf(stderr, "memd-call: %s\n", err.message ? err.message : "cannot connect");
        memd_error_clear(&err);
        json_decref(params);
        return 3;
    }
    memd_set_notification_handler(c, on_note, NULL);
    json_t *result = NULL;
    int rc;
    memd_status st = memd_call(c, method, params, &result, &err);
    if (st == MEMD_OK) {
        size_t flags = JSON_ENCODE_ANY | (isatty(STDOUT_FILENO) ? JSON_INDENT(2) : JSON_COMPACT);
        char *text = json_dumps(result, flags);
        if (text != NULL) {
            puts(text);
            free(text);
            rc = 0;
        } else {
            fprintf(stderr, "memd-call: cannot print the result\n");
            rc = 1;
        }
    } else if (st == MEMD_ERR_RPC) {
        fprintf(stderr, "error %d %s: %s\n", err.code, err.kind ? err.kind : "", err.message ? err.message : "");
        rc = 1;
    } else {
        fprintf(stderr, "memd-call: %s (%s)\n", err.message ? err.message : "failed", memd_client_path(c));
        rc = st == MEMD_ERR_CONNECT ? 3 : 1;
    }
    json_decref(result);
    json_decref(params);
    memd_error_clear(&err);
    memd_close(c);
    return rc;
}
