/* libFuzzer target for the wire message decoder (make fuzz): any byte string, unpacked as a
 * seam Envelope, either fails to decode or yields a message whose every field the server
 * reads can be walked without a crash, a leak or an out-of-bounds read. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/seam.pb-c.h"

static volatile uint64_t sink;

static void walk_forward(const Seam__Forward *f)
{
    sink += f->session + f->pos + f->n_tokens + f->layer_begin + f->layer_end + (uint64_t)f->dtype;
    for (size_t i = 0; i < f->n_shape; i++)
        sink += f->shape[i];
    for (size_t i = 0; i < f->n_next; i++) {
        const Seam__Hop *h = f->next[i];
        sink += h->session + h->layer_begin + h->layer_end + (h->endpoint ? strlen(h->endpoint) : 0) +
                (h->server_key ? strlen(h->server_key) : 0);
    }
    if (f->sampling)
        sink += (uint64_t)f->sampling->top_k + f->sampling->seed;
    for (size_t i = 0; i < f->n_upstream; i++)
        sink += f->upstream[i]->t_recv_ns + (f->upstream[i]->endpoint ? strlen(f->upstream[i]->endpoint) : 0);
}

static void walk_kv(const Seam__KvRange *k)
{
    if (k)
        sink += k->session + k->layer_begin + k->layer_end + k->pos + k->n_pos + (uint64_t)k->kv_type;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Seam__Envelope *e = seam__envelope__unpack(NULL, size, data);
    if (!e)
        return 0;
    switch (e->body_case) {
    case SEAM__ENVELOPE__BODY_HELLO:
        sink += e->hello->model_id.len + e->hello->protocol_version +
                (e->hello->backend ? strlen(e->hello->backend) : 0);
        break;
    case SEAM__ENVELOPE__BODY_FORWARD: walk_forward(e->forward); break;
    case SEAM__ENVELOPE__BODY_RESULT:
        for (size_t i = 0; i < e->result->n_timing; i++)
            sink += e->result->timing[i]->compute_us +
                    (e->result->timing[i]->endpoint ? strlen(e->result->timing[i]->endpoint) : 0);
        break;
    case SEAM__ENVELOPE__BODY_ERROR:
        sink += e->error->message ? strlen(e->error->message) : 0;
        break;
    case SEAM__ENVELOPE__BODY_KV_EXPORT: walk_kv(e->kv_export->range); break;
    case SEAM__ENVELOPE__BODY_KV_IMPORT:
        walk_kv(e->kv_import->range);
        sink += e->kv_import->from_session;
        break;
    case SEAM__ENVELOPE__BODY_KV_DATA: walk_kv(e->kv_data->range); break;
    default: break;
    }
    /* and it packs back to the same size it reports */
    size_t n = seam__envelope__get_packed_size(e);
    uint8_t *buf = malloc(n ? n : 1);
    if (buf && seam__envelope__pack(e, buf) != n)
        abort();
    free(buf);
    seam__envelope__free_unpacked(e, NULL);
    return 0;
}
