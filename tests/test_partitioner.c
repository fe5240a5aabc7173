/* The partitioner: the cost model on hand-computable cases, the exact search against every
 * plan, constraints (layers kept local, client memory, dtypes, the server's layers), the
 * plans it should pick in clear-cut conditions, plan files, and a live `seam plan` against a
 * real `seam serve` whose plan file `seam run --plan` runs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "../partitioner/chain.h"
#include "../partitioner/profile.h"
#include "../runtime/seam.h"
#include "harness.h"
#include "server_proc.h"

#define L 8

static void uniform(seam_profile_t *p, double layer_us, double head_us)
{
    memset(p, 0, sizeof *p);
    p->n_layer = L;
    p->d_model = 640;
    for (int l = 0; l < L; l++) {
        p->dec_a[l] = layer_us;
        p->dec_b[l] = layer_us / 1000; /* +1 per 1000 tokens of context */
        p->prefill_us_per_token[l] = layer_us / 4;
        p->weight_bytes[l] = 4 << 20;
    }
    p->head_us = head_us;
    p->embed_us = 5;
    p->head_bytes = 100 << 20;
    p->kv_bytes_per_token = 1024;
}

#define RND() ((r = r * 1664525u + 1013904223u) >> 8) / 16777216.0

static void test_cost_by_hand(void **st)
{
    (void)st;
    seam_profile_t cl, sv;
    uniform(&cl, 1000, 3000);
    uniform(&sv, 100, 300);
    seam_link_profile_t link = {.rtt_us = 2000, .bytes_per_us = 10};
    seam_plan_constraints_t c = seam_plan_default_constraints(L);
    c.context = 1000;
    seam_plan_t p = {.a = 2, .b = 6, .dtype = SEAM_DTYPE_F32};
    seam_plan_cost_t k = seam_plan_cost(&cl, &sv, &link, &p, &c);
    /* client: embed 5 + 4 layers x (1000 + 1 x 1000 context) + head 3000;
     * server: 4 x (100 + 0.1 x 1000); link: 2000 + 2 x (2560 + 40) / 10 */
    assert_true(k.feasible);
    assert_true(fabs(k.client_compute_us - (5 + 4 * 2000 + 3000)) < 1e-6);
    assert_true(fabs(k.server_compute_us - 4 * 200) < 1e-6);
    assert_true(fabs(k.link_us - (2000 + 2 * 2600 / 10.0)) < 1e-6);
    assert_true(fabs(k.decode_us - (k.client_compute_us + k.server_compute_us + k.link_us)) < 1e-9);
    assert_true(fabs(k.client_bytes - ((100 << 20) + 4.0 * (4 << 20) + 4 * 1024.0 * 1000)) < 1);
    /* a server half busy with other clients (STATS): its compute counts twice */
    sv.busy = 0.5;
    seam_plan_cost_t kb = seam_plan_cost(&cl, &sv, &link, &p, &c);
    assert_true(fabs(kb.server_compute_us - 2 * 4 * 200) < 1e-6);
    assert_true(fabs(kb.decode_us - k.decode_us - 4 * 200) < 1e-6);
    sv.busy = 0;
    /* moving [2,6) -> [4,8) after 100 tokens: layers 2,3 come back and 6,7 go out, 1024 B of
     * KV per layer and token: one round trip each way + 409600 B at 10 B/us; or the new
     * layout's prefill of the 100 tokens */
    seam_plan_t to = {.a = 4, .b = 8, .dtype = SEAM_DTYPE_F32};
    seam_move_cost_t mv = seam_plan_move_cost(&cl, &sv, &link, &p, &to, 100, &c);
    assert_int_equal(mv.layers_moved, 4);
    assert_true(fabs(mv.kv_bytes - 409600) < 1e-6);
    assert_true(fabs(mv.kv_us - (2 * 2000 + 40960)) < 1e-6);
    seam_plan_constraints_t c100 = c;
    c100.prompt = 100;
    assert_true(fabs(mv.recompute_us - seam_plan_cost(&cl, &sv, &link, &to, &c100).ttft_us) < 1e-6);
    /* nothing changes sides, part stays on the server: one round trip for the copy there */
    mv = seam_plan_move_cost(&cl, &sv, &link, &p, &p, 100, &c);
    assert_int_equal(mv.layers_moved, 0);
    assert_true(fabs(mv.kv_us - 2000) < 1e-6);
}

static void test_clear_cut_choices(void **st)
{
    (void)st;
    seam_profile_t slow, fast;
    uniform(&slow, 1000, 3000); /* an edge box */
    uniform(&fast, 100, 300);   /* a GPU server */
    seam_plan_constraints_t c = seam_plan_default_constraints(L);
    seam_plan_t best;
    seam_plan_cost_t bc;
    /* fast link: everything, head included, on the server */
    seam_link_profile_t lan = {.rtt_us = 200, .bytes_per_us = 100};
    assert_int_equal(seam_plan_search(&slow, &fast, &lan, &c, &best, &bc), SEAM_OK);
    assert_int_equal(best.a, 0);
    assert_int_equal(best.b, L);
    assert_true(best.head_remote);
    /* a 1 s round trip: nothing is worth sending */
    seam_link_profile_t far = {.rtt_us = 1e6, .bytes_per_us = 100};
    assert_int_equal(seam_plan_search(&slow, &fast, &far, &c, &best, &bc), SEAM_OK);
    assert_true(best.b <= best.a);
    /* the same server, 90% busy with other clients: its layers now cost what ours do */
    fast.busy = 0.9;
    assert_int_equal(seam_plan_search(&slow, &fast, &lan, &c, &best, &bc), SEAM_OK);
    assert_true(best.b <= best.a);
    fast.busy = 0;
    /* a thin link: the smallest wire dtype */
    seam_link_profile_t thin = {.rtt_us = 200, .bytes_per_us = 0.5};
    assert_int_equal(seam_plan_search(&slow, &fast, &thin, &c, &best, &bc), SEAM_OK);
    assert_true(best.b > best.a);
    assert_int_equal(best.dtype, SEAM_WIRE_Q8);
    /* privacy: first 2 and last 1 layers stay here, so the head does too */
    c.keep_first = 2;
    c.keep_last = 1;
    assert_int_equal(seam_plan_search(&slow, &fast, &lan, &c, &best, &bc), SEAM_OK);
    assert_int_equal(best.a, 2);
    assert_int_equal(best.b, L - 1);
    assert_false(best.head_remote);
    /* only f16 allowed */
    c = seam_plan_default_constraints(L);
    c.dtypes = 1u << SEAM_WIRE_F16;
    assert_int_equal(seam_plan_search(&slow, &fast, &thin, &c, &best, &bc), SEAM_OK);
    assert_int_equal(best.dtype, SEAM_WIRE_F16);
    /* the server holds only [3, 6) */
    c = seam_plan_default_constraints(L);
    c.server_begin = 3;
    c.server_end = 6;
    c.server_has_head = false;
    assert_int_equal(seam_plan_search(&slow, &fast, &lan, &c, &best, &bc), SEAM_OK);
    assert_true(best.a >= 3 && best.b <= 6 && !best.head_remote);
    /* a memory budget the local plan does not fit, and one nothing fits */
    c = seam_plan_default_constraints(L);
    seam_plan_t local = {0};
    seam_plan_cost_t lk = seam_plan_cost(&slow, &fast, &far, &local, &c);
    c.client_mem = lk.client_bytes - 1;
    assert_int_equal(seam_plan_search(&slow, &fast, &far, &c, &best, &bc), SEAM_OK);
    assert_true(best.b > best.a && bc.client_bytes <= c.client_mem);
    c.client_mem = 1 << 20; /* less than the embedding table */
    assert_int_not_equal(seam_plan_search(&slow, &fast, &far, &c, &best, &bc), SEAM_OK);
    assert_non_null(strstr(seam_last_error(), "no plan"));
}

/* A random client, server and link: round trip up to rtt_us, bandwidth bw0 + up to bw. */
static void random_case(uint32_t *rp, seam_profile_t *cl, seam_profile_t *sv,
                        seam_link_profile_t *link, double rtt_us, double bw0, double bw)
{
    uint32_t r = *rp;
    uniform(cl, 0, 0);
    uniform(sv, 0, 0);
    for (int l = 0; l < L; l++) {
        cl->dec_a[l] = 100 + 2000 * RND();
        sv->dec_a[l] = 10 + 500 * RND();
        cl->dec_b[l] = RND();
        sv->dec_b[l] = RND() / 4;
    }
    cl->head_us = 5000 * RND();
    sv->head_us = 500 * RND();
    *link = (seam_link_profile_t){.rtt_us = rtt_us * RND(), .bytes_per_us = bw0 + bw * RND()};
    *rp = r;
}

/* The search returns the minimum over every plan, for random profiles and links. */
static void test_search_is_exact(void **st)
{
    (void)st;
    uint32_t r = 99;
    for (int trial = 0; trial < 200; trial++) {
        seam_profile_t cl, sv;
        seam_link_profile_t link;
        random_case(&r, &cl, &sv, &link, 20000, 0.2, 50);
        seam_plan_constraints_t c = seam_plan_default_constraints(L);
        c.objective = (seam_objective_t)(trial % 4);
        c.keep_first = trial % 3;
        c.lossy_gain = 0; /* the plain minimum; the lossy rule: test_lossy_only_if_it_pays */
        seam_plan_t best;
        seam_plan_cost_t bc;
        assert_int_equal(seam_plan_search(&cl, &sv, &link, &c, &best, &bc), SEAM_OK);
        double v = seam_plan_objective(&bc, &c);
        for (int a = 0; a <= L; a++)
            for (int b = a; b <= L; b++)
                for (int dt = 0; dt < 4; dt++)
                    for (int hr = 0; hr < 2; hr++) {
                        seam_plan_t p = {.a = a, .b = b, .head_remote = hr, .dtype = (seam_dtype_t)dt};
                        seam_plan_cost_t k = seam_plan_cost(&cl, &sv, &link, &p, &c);
                        if (k.feasible)
                            assert_true(seam_plan_objective(&k, &c) >= v - 1e-6);
                    }
    }
    printf("  200 random cases: the search found the minimum of every plan\n");
}

/* Every chain plan, the slow way: for a < b fixed in p, each increasing sequence of servers
 * and each way to cut [a, b) between them. The least objective over feasible plans. */
static double chain_all(const seam_profile_t *cl, const seam_chain_t *ch,
                        const seam_plan_constraints_t *c, seam_chain_plan_t *p, int k, int at, int next_srv)
{
    if (at == p->b) {
        if (k == 0)
            return INFINITY;
        p->n = k;
        seam_plan_cost_t cost = seam_chain_cost(cl, ch, p, c);
        return cost.feasible ? seam_plan_objective(&cost, c) : INFINITY;
    }
    double best = INFINITY;
    for (int i = next_srv; i < ch->n_servers; i++)
        for (int to = at + 1; to <= p->b; to++) {
            p->server[k] = i;
            p->cut[k] = at;
            p->cut[k + 1] = to;
            double v = chain_all(cl, ch, c, p, k + 1, to, i + 1);
            if (v < best)
                best = v;
        }
    return best;
}

static void random_chain(uint32_t *rs, seam_profile_t *cl, seam_profile_t *sv, seam_chain_t *ch, int n)
{
    uint32_t r = *rs;
    uniform(cl, 0, 0);
    for (int l = 0; l < L; l++) {
        cl->dec_a[l] = 100 + 2000 * RND();
        cl->dec_b[l] = RND();
        cl->prefill_us_per_token[l] = 50 + 500 * RND();
    }
    cl->head_us = 5000 * RND();
    memset(ch, 0, sizeof *ch);
    ch->n_servers = n;
    for (int i = 0; i < n; i++) {
        uniform(&sv[i], 0, 0);
        for (int l = 0; l < L; l++) {
            sv[i].dec_a[l] = 10 + 500 * RND();
            sv[i].dec_b[l] = RND() / 4;
            sv[i].prefill_us_per_token[l] = 5 + 100 * RND();
        }
        sv[i].head_us = 500 * RND();
        sv[i].busy = RND() < 0.3 ? 0.8 * RND() : 0;
        int x = (int)(RND() * L), y = (int)(RND() * L);
        ch->server[i] = (seam_chain_server_t){
            .endpoint = "tcp://x", .profile = &sv[i], .begin = x < y ? x : y,
            .end = (x < y ? y : x) + 1, .has_head = RND() < 0.7,
            .link = {.rtt_us = 20000 * RND(), .bytes_per_us = 0.2 + 50 * RND()}};
        if (ch->server[i].end > L)
            ch->server[i].end = L;
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            ch->between[i][j] = (seam_link_profile_t){.rtt_us = 5000 * RND(), .bytes_per_us = 0.5 + 50 * RND()};
    *rs = r;
}

/* The dynamic programme over a chain of servers finds the minimum over every chain plan (by
 * enumeration), for random profiles, server ranges, links, loads and objectives; with one
 * server it agrees with the single-server search. */
static void test_chain_search_is_exact(void **st)
{
    (void)st;
    uint32_t r = 7;
    static seam_profile_t cl, sv[3];
    seam_chain_t ch;
    int used_two = 0;
    for (int trial = 0; trial < 150; trial++) {
        int n = 1 + trial % 3;
        random_chain(&r, &cl, sv, &ch, n);
        seam_plan_constraints_t c = seam_plan_default_constraints(L);
        c.objective = (seam_objective_t)(trial / 3 % 4);
        c.keep_first = trial % 5 == 0;
        c.keep_last = trial % 7 == 0;
        c.dtypes = trial % 2 ? 0xF : 1u << SEAM_WIRE_F32;
        c.lossy_gain = 0;
        seam_chain_plan_t best;
        seam_plan_cost_t bc;
        assert_int_equal(seam_chain_search(&cl, &ch, &c, &best, &bc), SEAM_OK);
        double v = seam_plan_objective(&bc, &c), brute = INFINITY;
        seam_chain_plan_t local = {0};
        seam_plan_cost_t lk = seam_chain_cost(&cl, &ch, &local, &c);
        if (lk.feasible)
            brute = seam_plan_objective(&lk, &c);
        for (int a = 0; a < L; a++)
            for (int b = a + 1; b <= L; b++)
                for (int dt = 0; dt < 4; dt++)
                    for (int hr = 0; hr < 2; hr++) {
                        seam_chain_plan_t p = {.a = a, .b = b, .head_remote = hr, .dtype = (seam_wire_dtype_t)dt};
                        double x = chain_all(&cl, &ch, &c, &p, 0, a, 0);
                        if (x < brute)
                            brute = x;
                    }
        if (fabs(v - brute) > 1e-6 * (1 + fabs(brute)))
            fail_msg("trial %d (%d servers): the search found %.6f, enumeration %.6f", trial, n, v, brute);
        used_two += best.n >= 2;
        if (n == 1) { /* the single-server search on the same instance */
            c.server_begin = ch.server[0].begin;
            c.server_end = ch.server[0].end;
            c.server_has_head = ch.server[0].has_head;
            seam_plan_t sp;
            seam_plan_cost_t sc;
            assert_int_equal(seam_plan_search(&cl, &sv[0], &ch.server[0].link, &c, &sp, &sc), SEAM_OK);
            assert_true(fabs(seam_plan_objective(&sc, &c) - v) <= 1e-6 * (1 + fabs(v)));
        }
    }
    printf("  150 random chains of 1-3 servers: the search found the minimum of every chain plan "
           "(%d chose two or more servers)\n", used_two);
    assert_true(used_two > 0);
}

/* The best chain over ch's servers (the links between them assumed), and its spec. */
static void best_chain(const seam_profile_t *cl, seam_chain_t *ch, const seam_plan_constraints_t *c,
                       seam_chain_plan_t *best, seam_plan_cost_t *bc, char *spec, size_t cap)
{
    seam_chain_assume_links(ch);
    assert_int_equal(seam_chain_search(cl, ch, c, best, bc), SEAM_OK);
    seam_chain_spec(best, ch, L, spec, cap);
}

/* Two fast servers each holding half the model, a fast link between them: the chain uses
 * both, the head on the second; the spec says so. */
static void test_chain_clear_cut(void **st)
{
    (void)st;
    static seam_profile_t slow, fast[2];
    uniform(&slow, 1000, 3000);
    seam_chain_t ch = {.n_servers = 2};
    for (int i = 0; i < 2; i++) {
        uniform(&fast[i], 100, 300);
        ch.server[i] = (seam_chain_server_t){.endpoint = i ? "tcp://b:2" : "tcp://a:1", .profile = &fast[i],
                                             .begin = i ? L / 2 : 0, .end = i ? L : L / 2,
                                             .has_head = i == 1, .link = {.rtt_us = 200, .bytes_per_us = 100}};
    }
    seam_plan_constraints_t c = seam_plan_default_constraints(L);
    seam_chain_plan_t best;
    seam_plan_cost_t bc;
    char spec[256];
    best_chain(&slow, &ch, &c, &best, &bc, spec, sizeof spec);
    printf("  two half-model servers: %s%s, %.2f ms per token\n", spec,
           best.head_remote ? " --head server" : "", bc.decode_us / 1e3);
    assert_int_equal(best.n, 2);
    assert_true(best.head_remote);
    /* q8 would be a little faster, but by less than --lossy-gain: exact */
    assert_string_equal(spec, "0-4@tcp://a:1/f32,4-8@tcp://b:2/f32");
    seam_plan_constraints_t any = c;
    any.lossy_gain = 0;
    assert_int_equal(seam_chain_search(&slow, &ch, &any, &best, &bc), SEAM_OK);
    seam_chain_spec(&best, &ch, L, spec, sizeof spec);
    assert_string_equal(spec, "0-4@tcp://a:1/q8,4-8@tcp://b:2/q8");
    assert_int_equal(seam_chain_search(&slow, &ch, &c, &best, &bc), SEAM_OK);
    /* the second server 90% busy: the chain stops at the first and the rest runs here */
    fast[1].busy = 0.9;
    assert_int_equal(seam_chain_search(&slow, &ch, &c, &best, &bc), SEAM_OK);
    seam_chain_spec(&best, &ch, L, spec, sizeof spec);
    printf("  ... the second 90%% busy: %s\n", spec);
    assert_int_equal(best.n, 1);
    assert_int_equal(best.server[0], 0);
}

static void test_plan_files(void **st)
{
    (void)st;
    char path[128], spec[512], key[256];
    snprintf(path, sizeof path, "/tmp/seam-plan-%d.json", getpid());
    seam_plan_t p = {.a = 3, .b = 8, .head_remote = true, .dtype = SEAM_DTYPE_Q8};
    seam_plan_cost_t k = {.decode_us = 1234, .ttft_us = 5678, .client_bytes = 1e6, .feasible = true};
    assert_int_equal(seam_plan_write(path, &p, 8, "tcp://127.0.0.1:9", "keys/s.pub", &k, "decode"), SEAM_OK);
    bool head = false;
    assert_int_equal(seam_plan_read(path, spec, sizeof spec, &head, key, sizeof key), SEAM_OK);
    assert_string_equal(spec, "0-3@local,3-8@tcp://127.0.0.1:9/q8");
    assert_true(head);
    assert_string_equal(key, "keys/s.pub");
    FILE *f = fopen(path, "w");
    fputs("{\"head\": \"moon\"}", f);
    fclose(f);
    assert_int_not_equal(seam_plan_read(path, spec, sizeof spec, &head, key, sizeof key), SEAM_OK);
    assert_non_null(strstr(seam_last_error(), "not a seam plan"));
    unlink(path);
    p = (seam_plan_t){0};
    seam_plan_spec(&p, 8, "x", spec, sizeof spec);
    assert_string_equal(spec, "0-8@local");
}

/* seam run --plan PLAN prints what a local run prints (12 greedy tokens). */
/* A profile of this machine made `scale` times slower (an edge box), written to a file. */
static void slow_client(char *path, size_t cap, double scale)
{
    static seam_profile_t p;
    assert_int_equal(seam_profile_measure(model_path(), 1, 0, -1, &p), SEAM_OK);
    seam_profile_scale(&p, scale);
    snprintf(path, cap, "/tmp/seam-slow-client-%d.json", getpid());
    assert_int_equal(seam_profile_save(path, &p, NULL), SEAM_OK);
}

static bool plan_text_is_local(const char *seam_bin, const char *plan)
{
    char cmd[4096], out1[256], out2[256];
    snprintf(out1, sizeof out1, "%s.plan.txt", plan);
    snprintf(out2, sizeof out2, "%s.local.txt", plan);
    snprintf(cmd, sizeof cmd, "%s run -m %s --plan %s -p 'The three primary colors are' -n 12 "
             "--temp 0 -t 1 --no-stream > %s 2>/dev/null && %s run -m %s -p 'The three primary "
             "colors are' -n 12 --temp 0 -t 1 --no-stream > %s 2>/dev/null && cmp -s %s %s",
             seam_bin, model_path(), plan, out1, seam_bin, model_path(), out2, out1, out2);
    bool same = system(cmd) == 0;
    unlink(out1), unlink(out2);
    return same;
}

/* The case: seam plan on loopback (0.1 ms, GB/s), every wire dtype allowed, a client
 * 3x slower than this machine (so layers go to the server). q8 would save about a microsecond
 * per token there, far less than --lossy-gain: the plan is f32, and seam run --plan gives the
 * local text. With two servers holding the same layers, the plan names both (replicas). */
static void test_live_plan(void **st)
{
    (void)st;
    char seam_bin[1024], plan[128], prof[128], cmd[4096];
    seam_binary(seam_bin, sizeof seam_bin);
    server_proc_t srv, twin;
    if (server_start(&srv, seam_bin, model_path(), test_port(6), "0-18", NULL) != 0 ||
        server_start(&twin, seam_bin, model_path(), test_port(7), "0-18", NULL) != 0)
        fail_msg("could not start the servers");
    slow_client(prof, sizeof prof, 3);
    snprintf(plan, sizeof plan, "/tmp/seam-live-plan-%d.json", getpid());
    char spec[512], key[256];
    bool head = false;
    for (int two = 0; two < 2; two++) {
        snprintf(cmd, sizeof cmd, "%s plan -m %s --server %s%s%s --profile %s -o %s > /dev/null",
                 seam_bin, model_path(), srv.endpoint, two ? " --server " : "", two ? twin.endpoint : "",
                 prof, plan);
        assert_int_equal(system(cmd), 0);
        assert_int_equal(seam_plan_read(plan, spec, sizeof spec, &head, key, sizeof key), SEAM_OK);
        printf("  seam plan, %s on loopback, every dtype allowed: %s%s\n",
               two ? "two servers holding the same layers" : "one server", spec,
               head ? " --head server" : "");
        assert_non_null(strstr(spec, srv.endpoint));
        assert_null(strstr(spec, "/q8"));
        assert_null(strstr(spec, "/f16"));
        assert_null(strstr(spec, "/bf16"));
        if (two) {
            assert_non_null(strstr(spec, twin.endpoint));
            assert_non_null(strchr(spec, '|'));
        }
        assert_true(plan_text_is_local(seam_bin, plan));
        printf("    seam run --plan: same text as local\n");
    }
    unlink(plan), unlink(prof);
    server_stop(&srv);
    server_stop(&twin);
}

/* Exact unless lossy pays: over random instances the search returns the best exact plan
 * (f32 hops, or all local) unless the best plan overall is lossy and at least lossy_gain
 * better, and then that one. */
static void test_lossy_only_if_it_pays(void **st)
{
    (void)st;
    uint32_t r = 5;
    int lossy = 0, kept_exact = 0;
    for (int trial = 0; trial < 200; trial++) {
        seam_profile_t cl, sv;
        seam_link_profile_t link;
        random_case(&r, &cl, &sv, &link, 2000, 0.05, 20);
        seam_plan_constraints_t c = seam_plan_default_constraints(L), any = c, exact = c;
        any.lossy_gain = 0;
        exact.dtypes = 1u << SEAM_WIRE_F32;
        seam_plan_t best, b_any, b_exact;
        seam_plan_cost_t bc, k_any, k_exact;
        assert_int_equal(seam_plan_search(&cl, &sv, &link, &c, &best, &bc), SEAM_OK);
        assert_int_equal(seam_plan_search(&cl, &sv, &link, &any, &b_any, &k_any), SEAM_OK);
        assert_int_equal(seam_plan_search(&cl, &sv, &link, &exact, &b_exact, &k_exact), SEAM_OK);
        double va = seam_plan_objective(&k_any, &c), ve = seam_plan_objective(&k_exact, &c);
        bool pays = b_any.b > b_any.a && b_any.dtype != SEAM_DTYPE_F32 && va <= 0.95 * ve;
        double v = seam_plan_objective(&bc, &c);
        assert_true(fabs(v - (pays ? va : ve)) <= 1e-9 * (1 + v));
        assert_true((best.b > best.a && best.dtype != SEAM_DTYPE_F32) == pays);
        lossy += pays;
        kept_exact += !pays && b_any.b > b_any.a && b_any.dtype != SEAM_DTYPE_F32;
    }
    printf("  200 random cases: %d took a lossy dtype (>= 5%% faster), %d kept f32 where lossy "
           "was faster by less\n", lossy, kept_exact);
    assert_true(lossy > 0 && kept_exact > 0);
}

/* Servers holding the same layers become one stage with standbys; the spec names them. */
static void test_replicas_grouped(void **st)
{
    (void)st;
    static seam_profile_t slow, fast[3];
    uniform(&slow, 1000, 3000);
    seam_chain_t ch = {.n_servers = 3};
    static const char *const eps[] = {"tcp://a:1", "tcp://b:2", "tcp://c:3"};
    for (int i = 0; i < 3; i++) {
        uniform(&fast[i], 100, 300);
        ch.server[i] = (seam_chain_server_t){.endpoint = eps[i], .profile = &fast[i],
                                             .begin = 0, .end = L, .has_head = true,
                                             .link = {.rtt_us = i == 1 ? 100 : 300, .bytes_per_us = 100}};
    }
    ch.server[2].end = L / 2; /* holds other layers: not a replica */
    assert_int_equal(seam_chain_group_replicas(&ch), 2);
    assert_string_equal(ch.server[0].endpoint, "tcp://b:2"); /* the faster link leads */
    assert_int_equal(ch.server[0].n_standby, 1);
    assert_string_equal(ch.server[0].standby[0], "tcp://a:1");
    seam_plan_constraints_t c = seam_plan_default_constraints(L);
    seam_chain_plan_t best;
    seam_plan_cost_t bc;
    char spec[256];
    best_chain(&slow, &ch, &c, &best, &bc, spec, sizeof spec);
    printf("  three servers, two holding every layer: %s\n", spec);
    assert_non_null(strstr(spec, "@tcp://b:2/f32|tcp://a:1/f32"));
}

/* Two real servers holding overlapping halves, and a client profile 4x slower than this
 * machine: seam plan with both picks a chain over the two, and seam run --plan runs it with
 * the local text. */
static void test_live_chain_plan(void **st)
{
    (void)st;
    char seam_bin[1024], plan[128], prof[128], cmd[4096];
    seam_binary(seam_bin, sizeof seam_bin);
    server_proc_t s1, s2;
    const char *peers[] = {"--peers", test_peers(), NULL};
    if (server_start(&s1, seam_bin, model_path(), test_port(4), "0-10", peers) != 0 ||
        server_start(&s2, seam_bin, model_path(), test_port(5), "8-18", NULL) != 0)
        fail_msg("could not start the servers");
    slow_client(prof, sizeof prof, 4);
    snprintf(plan, sizeof plan, "/tmp/seam-chain-plan-%d.json", getpid());
    snprintf(cmd, sizeof cmd, "%s plan -m %s --server %s --server %s --profile %s -o %s --wire f32 "
             "> /dev/null", seam_bin, model_path(), s1.endpoint, s2.endpoint, prof, plan);
    assert_int_equal(system(cmd), 0);
    char spec[512], key[256];
    bool head = false;
    assert_int_equal(seam_plan_read(plan, spec, sizeof spec, &head, key, sizeof key), SEAM_OK);
    printf("  two servers [0,10) and [8,18), a client 4x slower: %s%s\n", spec, head ? " --head server" : "");
    assert_non_null(strstr(spec, s1.endpoint));
    assert_non_null(strstr(spec, s2.endpoint));
    assert_true(plan_text_is_local(seam_bin, plan));
    printf("  seam run --plan on the chain: same text as local\n");
    unlink(plan), unlink(prof);
    server_stop(&s1);
    server_stop(&s2);
}

/* Server-to-server links (LINK_PROBE): three real servers, the second sending through an
 * emulated 100 Mbit/s, 40 ms link. The first server measures its link to the second as that
 * slow, and to the third as loopback; seam plan with the first two prints the measured link. */
static void test_live_hop_probe(void **st)
{
    (void)st;
    char seam_bin[1024], cmd[4096], out[128];
    seam_binary(seam_bin, sizeof seam_bin);
    server_proc_t s1, s2, s3;
    const char *slow[] = {"--emulate-link", "100mbit,40ms", NULL};
    const char *peers[] = {"--peers", test_peers(), NULL};
    if (server_start(&s1, seam_bin, model_path(), test_port(1), "0-2", peers) != 0 ||
        server_start(&s2, seam_bin, model_path(), test_port(2), "2-4", slow) != 0 ||
        server_start(&s3, seam_bin, model_path(), test_port(3), "4-6", NULL) != 0)
        fail_msg("could not start the servers");
    seam_link_profile_t to_slow = {0}, to_fast = {0};
    assert_int_equal(seam_profile_hop(s1.endpoint, NULL, s2.endpoint, NULL, 5, 1 << 18, &to_slow), SEAM_OK);
    assert_int_equal(seam_profile_hop(s1.endpoint, NULL, s3.endpoint, NULL, 5, 1 << 18, &to_fast), SEAM_OK);
    printf("  server 1 -> server 2 (sends through 100 Mbit/s, 40 ms): round trip %.2f ms, %.1f MB/s\n"
           "  server 1 -> server 3 (loopback): round trip %.2f ms, %.1f MB/s\n",
           to_slow.rtt_us / 1e3, to_slow.bytes_per_us, to_fast.rtt_us / 1e3, to_fast.bytes_per_us);
    /* server 2 holds each PONG back 20 ms and sends 256 KiB at 12.5 MB/s */
    assert_true(to_slow.rtt_us >= 20000 && to_slow.bytes_per_us < 25);
    assert_true(to_fast.rtt_us < 10000 && to_fast.bytes_per_us > 50);
    snprintf(out, sizeof out, "/tmp/seam-hop-plan-%d.txt", getpid());
    snprintf(cmd, sizeof cmd, "%s plan -m %s --server %s --server %s -t 1 -o /dev/null > %s 2>&1",
             seam_bin, model_path(), s1.endpoint, s2.endpoint, out);
    assert_int_equal(system(cmd), 0);
    size_t n;
    char *text = read_file(out, &n);
    assert_non_null(text);
    assert_non_null(strstr(text, "server 1 -> server 2 (measured by server 1)"));
    free(text);
    unlink(out);
    server_stop(&s1);
    server_stop(&s2);
    server_stop(&s3);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The partitioner's public calls refuse what a careless host passes (NULLs, no servers, a file
 * that is not a plan, a server that is not there) with SEAM_ERR_INVALID or a plain error, and
 * seam_plan_make gives up on a closed loopback port with a reason instead of hanging. */
static void test_public_misuse(void **st)
{
    (void)st;
    seam_plan_result_t *r = malloc(sizeof *r);
    assert_non_null(r);
    assert_int_equal(seam_plan_make(NULL, r), SEAM_ERR_INVALID);
    seam_planner_params_t pp = seam_planner_default_params();
    assert_int_equal(seam_plan_make(&pp, r), SEAM_ERR_INVALID); /* no model, no server */
    pp.model_path = model_path();
    assert_int_equal(seam_plan_make(&pp, r), SEAM_ERR_INVALID); /* no server */
    assert_non_null(strstr(seam_last_error(), "servers"));
    pp.n_servers = 1; /* servers[0] NULL */
    char prof[64];
    snprintf(prof, sizeof prof, "/tmp/seam-misuse-profile-%d.json", getpid());
    seam_profile_t cl;
    uniform(&cl, 1000, 3000);
    assert_int_equal(seam_profile_save(prof, &cl, NULL), SEAM_OK);
    pp.client_profile = prof;
    assert_int_equal(seam_plan_make(&pp, r), SEAM_ERR_INVALID);
    char closed[64];
    snprintf(closed, sizeof closed, "tcp://127.0.0.1:%d", test_port(7));
    assert_false(port_open(test_port(7)));
    pp.servers[0] = closed;
    double t0 = now_s();
    assert_true(seam_plan_make(&pp, r) < 0);
    assert_true(now_s() - t0 < 15);
    assert_true(strlen(seam_last_error()) > 0);
    print_message("  a closed port: \"%s\" after %.1f s\n", seam_last_error(), now_s() - t0);
    unlink(prof);
    free(r);

    seam_plan_t best;
    seam_plan_cost_t cost;
    seam_link_profile_t link = {100, 100};
    seam_plan_constraints_t c = seam_plan_default_constraints(L);
    assert_int_equal(seam_plan_search(NULL, &cl, &link, &c, &best, &cost), SEAM_ERR_INVALID);
    assert_int_equal(seam_plan_search(&cl, &cl, &link, &c, NULL, &cost), SEAM_ERR_INVALID);
    assert_false(seam_plan_cost(&cl, NULL, &link, &best, &c).feasible);
    char spec[256], key[64];
    bool head;
    assert_int_equal(seam_plan_read(NULL, spec, sizeof spec, &head, key, sizeof key), SEAM_ERR_INVALID);
    assert_int_equal(seam_plan_read("/nonexistent/plan.json", spec, sizeof spec, &head, key, sizeof key),
                     SEAM_ERR_IO);
    assert_int_equal(seam_plan_write_spec(NULL, "0-8@local", false, SEAM_DTYPE_F32, NULL, NULL, NULL),
                     SEAM_ERR_INVALID);
    snprintf(prof, sizeof prof, "/tmp/seam-misuse-plan-%d.json", getpid());
    assert_int_equal(seam_plan_write_spec(prof, "0-8@local", false, SEAM_DTYPE_F32, NULL, NULL, NULL),
                     SEAM_OK); /* no cost, no objective: still a plan file */
    assert_int_equal(seam_plan_read(prof, spec, sizeof spec, &head, key, sizeof key), SEAM_OK);
    assert_string_equal(spec, "0-8@local");
    assert_true(seam_profile_load(prof, &cl, NULL) < 0); /* a plan is not a profile */
    assert_int_equal(seam_profile_load(NULL, &cl, NULL), SEAM_ERR_INVALID);
    assert_int_equal(seam_profile_measure(NULL, 1, 0, -1, &cl), SEAM_ERR_INVALID);
    assert_int_equal(seam_profile_link(NULL, NULL, 5, 0, &link), SEAM_ERR_INVALID);
    unlink(prof);

    for (int o = 0; o < 4; o++)
        assert_int_equal(seam_objective_parse(seam_objective_name((seam_objective_t)o)), o);
    assert_int_equal(seam_objective_parse("fastest"), -1);
    assert_int_equal(seam_objective_parse(NULL), -1);

    assert_null(seam_adaptive_new(NULL));
    int32_t tok;
    assert_int_equal(seam_adaptive_step(NULL, &tok, 1, NULL, &tok, NULL, NULL), SEAM_ERR_INVALID);
    assert_null(seam_stepper_adaptive(NULL));
    assert_int_equal(seam_adaptive_moves(NULL), 0);
    assert_null(seam_adaptive_last_move(NULL));
    seam_adaptive_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cost_by_hand),     cmocka_unit_test(test_clear_cut_choices),
        cmocka_unit_test(test_search_is_exact),  cmocka_unit_test(test_plan_files),
        cmocka_unit_test(test_chain_search_is_exact), cmocka_unit_test(test_chain_clear_cut),
        cmocka_unit_test(test_live_plan), cmocka_unit_test(test_live_chain_plan),
        cmocka_unit_test(test_live_hop_probe), cmocka_unit_test(test_lossy_only_if_it_pays),
        cmocka_unit_test(test_replicas_grouped), cmocka_unit_test(test_public_misuse),
    };
    return cmocka_run_group_tests_name("partitioner", tests, NULL, NULL);
}
