/* Asking a server how it is doing (STATS): seam stats, the metrics page and the partitioner's
 * load figure read the same numbers, filled in one place on the server (seam_srv_stats). */
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "error.h"
#include "rpc.h"
#include "seam_server.h"

void seam_stats_from_proto(const Seam__Stats *p, seam_server_stats_t *out)
{
    *out = (seam_server_stats_t){
        .sessions = (int)p->sessions, .max_sessions = (int)p->max_sessions,
        .queued = (int)p->queued, .connections = (int)p->connections,
        .kv_bytes = p->kv_bytes, .weight_bytes = p->weight_bytes, .forwards = p->forwards,
        .errors = p->errors, .refused = p->refused, .bytes_in = p->bytes_in,
        .bytes_out = p->bytes_out, .batches = p->batches, .batch_rows = p->batch_rows,
        .uptime_s = p->uptime_ms / 1e3, .busy = p->busy > 0 && p->busy <= 1 ? p->busy : 0,
        .draining = p->draining};
}

int seam_server_stats(const char *endpoint, const char *server_key, const char *key_file,
                      seam_server_stats_t *out)
{
    if (!endpoint || !out) {
        seam_error_set("stats: an endpoint and a result are required");
        return SEAM_ERR_INVALID;
    }
    char skey[SEAM_KEY_Z85] = "", pub[SEAM_KEY_Z85] = "", sec[SEAM_KEY_Z85] = "";
    if ((server_key && seam_key_load_public(server_key, skey) != SEAM_OK) ||
        (key_file && seam_key_load_pair(key_file, pub, sec) != SEAM_OK))
        return SEAM_ERR_INVALID;
    void *ctx = zmq_ctx_new();
    seam_rpc_params_t rp = {.endpoint = endpoint, .server_key = skey, .immediate = true,
                            .public_key = key_file ? pub : NULL, .secret_key = key_file ? sec : NULL};
    seam_rpc_t *rpc = ctx ? seam_rpc_new(ctx, &rp) : NULL;
    int rc = rpc ? SEAM_OK : SEAM_ERR_IO;
    if (rpc) {
        Seam__StatsRequest q = SEAM__STATS_REQUEST__INIT;
        Seam__Envelope env = SEAM__ENVELOPE__INIT;
        env.body_case = SEAM__ENVELOPE__BODY_STATS_REQUEST;
        env.stats_request = &q;
        seam_msg_t m;
        rc = seam_rpc_call(rpc, &env, NULL, 0, 10000, &m, NULL);
        if (rc == SEAM_OK) { /* else the reason names the endpoint already */
            if (m.env->body_case == SEAM__ENVELOPE__BODY_STATS) {
                seam_stats_from_proto(m.env->stats, out);
            } else {
                seam_error_set("stats: %s answered STATS with something else", endpoint);
                rc = SEAM_ERR_IO;
            }
            seam_msg_free(&m);
        }
    }
    seam_rpc_destroy(&rpc);
    if (ctx)
        zmq_ctx_term(ctx);
    return rc;
}
