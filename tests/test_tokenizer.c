/* Tokenizers against llama.cpp (tests/ref/tokenizer.json, made by make_refs.py): 230 strings
 * (unicode, whitespace runs, digits, code, emoji, text that looks like special tokens) must
 * encode to llama.cpp's ids for the Gemma 3 SentencePiece vocabulary, the Llama 3 and Qwen2
 * byte-level BPE vocabularies and the Phi-3 SentencePiece one, and the ids must decode back to
 * the input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../runtime/gguf.h"
#include "../runtime/seam.h"
#include "../runtime/tokenizer.h"
#include "harness.h"

static void print_escaped(const char *s)
{
    for (; *s; s++)
        if (*s == '\n')
            fputs("\\n", stderr);
        else if (*s == '\t')
            fputs("\\t", stderr);
        else
            fputc(*s, stderr);
}

static void check_vocab(const char *name, const char *path, cJSON *strings, cJSON *vocab)
{
    seam_gguf_t *g = seam_gguf_open(path);
    if (!g)
        fail_msg("%s: %s", name, seam_last_error());
    seam_tokenizer_t *t = seam_tokenizer_new(g);
    if (!t)
        fail_msg("%s: %s", name, seam_last_error());
    cJSON *ids = cJSON_GetObjectItem(vocab, "ids");
    int n = cJSON_GetArraySize(strings), enc_ok = 0, dec_ok = 0, shown = 0;
    for (int i = 0; i < n; i++) {
        const char *s = cJSON_GetArrayItem(strings, i)->valuestring;
        cJSON *want = cJSON_GetArrayItem(ids, i);
        int nw = cJSON_GetArraySize(want);
        int32_t got[1024];
        int ng = seam_tokenizer_encode(t, s, strlen(s), got, 1024, false, false);
        bool same = ng == nw;
        for (int k = 0; same && k < nw; k++)
            same = got[k] == cJSON_GetArrayItem(want, k)->valueint;
        enc_ok += same;
        if (!same && shown++ < 5) {
            fprintf(stderr, "  %s: \"", name);
            print_escaped(s);
            fprintf(stderr, "\"\n    seam:     ");
            for (int k = 0; k < ng && k < 24; k++)
                fprintf(stderr, "%d ", got[k]);
            fprintf(stderr, "\n    llama.cpp: ");
            for (int k = 0; k < nw && k < 24; k++)
                fprintf(stderr, "%d ", cJSON_GetArrayItem(want, k)->valueint);
            fprintf(stderr, "\n");
        }
        /* decode: concatenated pieces give back the input (after the space a SentencePiece
         * vocabulary may have put in front) */
        char out[8192];
        size_t len = 0;
        for (int k = 0; k < ng && len < sizeof out - 64; k++)
            len += (size_t)seam_tokenizer_piece(t, got[k], out + len, (int)(sizeof out - len), false);
        size_t skip = seam_tokenizer_space_prefix(t) && len > 0 && out[0] == ' ' && strlen(s) > 0;
        bool round = len - skip == strlen(s) && memcmp(out + skip, s, len - skip) == 0;
        dec_ok += round;
        if (!round && shown++ < 5) {
            fprintf(stderr, "  %s: decode of \"", name);
            print_escaped(s);
            fprintf(stderr, "\" gave %zu bytes\n", len);
        }
    }
    /* with BOS as the model asks */
    cJSON *wb = cJSON_GetObjectItem(vocab, "ids_with_bos");
    int nb = cJSON_GetArraySize(wb), bos_ok = 0;
    for (int i = 0; i < nb; i++) {
        const char *s = cJSON_GetArrayItem(strings, i)->valuestring;
        cJSON *want = cJSON_GetArrayItem(wb, i);
        int32_t got[1024];
        int ng = seam_tokenizer_encode(t, s, strlen(s), got, 1024, true, false);
        bool same = ng == cJSON_GetArraySize(want);
        for (int k = 0; same && k < ng; k++)
            same = got[k] == cJSON_GetArrayItem(want, k)->valueint;
        bos_ok += same;
    }
    printf("  %-10s encode %d/%d identical to llama.cpp, decode round trip %d/%d, with BOS %d/%d\n",
           name, enc_ok, n, dec_ok, n, bos_ok, nb);
    seam_tokenizer_destroy(&t);
    seam_gguf_destroy(&g);
    assert_int_equal(enc_ok, n);
    assert_int_equal(dec_ok, n);
    assert_int_equal(bos_ok, nb);
}

static cJSON *refs;

static void test_gemma_spm(void **state)
{
    (void)state;
    check_vocab("gemma3", model_path(), cJSON_GetObjectItem(refs, "strings"),
                cJSON_GetArrayItem(cJSON_GetObjectItem(refs, "vocabs"), 0));
}

static void test_llama3_bpe(void **state)
{
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/vocab/ggml-vocab-llama-bpe.gguf", build_dir());
    check_vocab("llama-bpe", path, cJSON_GetObjectItem(refs, "strings"),
                cJSON_GetArrayItem(cJSON_GetObjectItem(refs, "vocabs"), 1));
}

/* The other vocabularies llama.cpp ships in its tree (make fetches them into build/vocab). */
static void check_named(const char *name, int index)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/vocab/ggml-vocab-%s.gguf", build_dir(), name);
    cJSON *v = cJSON_GetArrayItem(cJSON_GetObjectItem(refs, "vocabs"), index);
    assert_non_null(v);
    assert_string_equal(cJSON_GetObjectItem(v, "name")->valuestring, name);
    check_vocab(name, path, cJSON_GetObjectItem(refs, "strings"), v);
}

/* Qwen2's pre-tokenizer: Llama 3's rules with digits one at a time. */
static void test_qwen2_bpe(void **state)
{
    (void)state;
    check_named("qwen2", 2);
}

/* The tiny Qwen2 fixture's vocabulary has merges of digits ("12", "123"), which Qwen's
 * pre-tokenizer never lets apply: Llama 3's rules would. */
static void test_qwen2_digits(void **state)
{
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/fixtures/tiny-qwen2-f32.gguf", build_dir());
    cJSON *v = cJSON_GetArrayItem(cJSON_GetObjectItem(refs, "vocabs"), 4);
    assert_non_null(v);
    assert_string_equal(cJSON_GetObjectItem(v, "name")->valuestring, "tiny-qwen2");
    check_vocab("tiny-qwen2", path, cJSON_GetObjectItem(refs, "strings"), v);
}

/* Phi-3: SentencePiece with a space prefix, as Llama 2. */
static void test_phi3_spm(void **state)
{
    (void)state;
    check_named("phi-3", 3);
}

static void test_special_parsing(void **state)
{
    (void)state;
    seam_gguf_t *g = seam_gguf_open(model_path());
    assert_non_null(g);
    seam_tokenizer_t *t = seam_tokenizer_new(g);
    assert_non_null(t);
    const char *s = "<start_of_turn>user";
    int32_t plain[64], special[64];
    int np = seam_tokenizer_encode(t, s, strlen(s), plain, 64, false, false);
    int ns = seam_tokenizer_encode(t, s, strlen(s), special, 64, false, true);
    /* parsed, the control token is one id whose piece renders only when asked */
    assert_true(ns < np);
    char buf[64];
    assert_int_equal(seam_tokenizer_piece(t, special[0], buf, sizeof buf, false), 0);
    int n = seam_tokenizer_piece(t, special[0], buf, sizeof buf, true);
    assert_int_equal(n, 15);
    assert_memory_equal(buf, "<start_of_turn>", 15);
    assert_true(seam_tokenizer_is_eog(t, seam_tokenizer_eos(t)));
    assert_int_equal(seam_tokenizer_piece(t, -1, buf, sizeof buf, false), -1);
    assert_int_equal(seam_tokenizer_piece(t, seam_tokenizer_n_vocab(t), buf, sizeof buf, false), -1);
    seam_tokenizer_destroy(&t);
    seam_gguf_destroy(&g);
}

int main(void)
{
    refs = read_json("tokenizer.json");
    if (!refs)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemma_spm),
        cmocka_unit_test(test_llama3_bpe),
        cmocka_unit_test(test_qwen2_bpe),
        cmocka_unit_test(test_phi3_spm),
        cmocka_unit_test(test_qwen2_digits),
        cmocka_unit_test(test_special_parsing),
    };
    int rc = cmocka_run_group_tests_name("tokenizer", tests, NULL, NULL);
    cJSON_Delete(refs);
    return rc;
}
