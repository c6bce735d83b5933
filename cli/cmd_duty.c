/*
 * aequactl duty verify --lock LOCK [FILE]: check a GET /v1/duty/{type}/{height} answer against
 * the cluster lock alone — value_hash is SHA-256 of the value's canonical bytes, the certificate
 * holds a quorum of distinct operators' COMMITs for that value (signatures checked over the
 * re-encoded COMMIT bodies), and every seal verifies. Exit 0 when all hold, 1 otherwise (with the
 * reason), 2 for usage errors. Used by the chaos drill and the tests; handy for operators.
 * The input may hold several answers, one JSON object per line: each gets its own result line.
 * A proposer duty's value is a block (its JSON, as GET /v1/block shows it): it is encoded again
 * from its fields (every tx rebuilt from its fields and signature, bound to the lock's hash), and
 * value_hash must be the hash of that encoding, which is the block's block_hash.
 * A tss_signature that is not null (SPEC §10) must verify under the lock's tss group_pubkey over
 * SHA-256("aequa/tss/v1" || lock_hash || value_hash), with at least threshold distinct signers;
 * one in an answer checked against a lock without a tss object fails.
 */
#include "cli/aequactl.h"
#include "lib/json_strict.h"
#include "lib/lock.h"
#include "lib/util.h"
#include "proto/block.h"
#include "proto/duty.h"
#include "proto/qbft.h"
#include "proto/seal.h"
#include "proto/tss.h"
#include "proto/tx.h"

#include <getopt.h>
#include <sys/types.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DUTY_ANSWER_MAX (4u << 20) /* one GET answer: a 1 MiB payload, escaped, and signatures */

static const struct jstrict_node *get(const struct jstrict_node *o, const char *k)
{
    return jstrict_object_get(o, k, strlen(k));
}

static int hexfield(const struct jstrict_node *n, uint8_t *out, size_t len)
{
    return n && n->kind == JSTRICT_STRING && hex_decode(out, len, (const char *)n->str, n->len) == 0
               ? 0
               : -1;
}

/* One tx of a block's JSON, rebuilt from its fields; NULL when a field is missing or bad. */
static struct tx *tx_from_json(const struct lock *l, const struct jstrict_node *t)
{
    uint8_t from[TX_ADDR_LEN], sig[TX_SIG_LEN];
    uint64_t nonce, gas, fee;
    const struct jstrict_node *data = get(t, "data");
    if (!t || t->kind != JSTRICT_OBJECT || !jstrict_string_is(get(t, "type"), "plaintext_v1") ||
        hexfield(get(t, "from"), from, sizeof(from)) < 0 ||
        hexfield(get(t, "sig"), sig, sizeof(sig)) < 0 || !jstrict_uint64(get(t, "nonce"), &nonce) ||
        !jstrict_uint64(get(t, "gas"), &gas) || !jstrict_uint64(get(t, "fee"), &fee) || !data ||
        data->kind != JSTRICT_STRING || data->len % 2 || data->len / 2 > TX_DATA_LIMIT)
        return NULL;
    uint8_t *bytes = xmalloc(data->len / 2 + 1);
    struct tx *tx = NULL;
    if (hex_decode(bytes, data->len / 2, (const char *)data->str, data->len) == 0)
        tx = tx_plain_new(l->hash, from, nonce, gas, fee, bytes, data->len / 2, sig);
    free(bytes);
    return tx;
}

/* The canonical bytes of a block given as JSON; -1 when it is not one. */
static int block_from_json(const struct lock *l, const struct jstrict_node *v, struct buf *out)
{
    struct block_header h;
    uint64_t proposer;
    const struct jstrict_node *txs = get(v, "txs");
    if (v->kind != JSTRICT_OBJECT || !jstrict_uint64(get(v, "height"), &h.height) ||
        hexfield(get(v, "parent_hash"), h.parent_hash, SHA256_LEN) < 0 ||
        !jstrict_uint64(get(v, "proposer"), &proposer) || proposer > UINT32_MAX || !txs ||
        txs->kind != JSTRICT_ARRAY)
        return -1;
    h.proposer = (uint32_t)proposer;
    block_encode_begin(out, &h, txs->len);
    for (uint32_t i = 0; i < txs->len; i++) {
        struct tx *tx = tx_from_json(l, &txs->items[i]);
        if (!tx)
            return -1;
        block_encode_tx(out, tx->wire, tx->wire_len);
        tx_free(tx);
    }
    return 0;
}

/* tss_signature: null (0), or a group signature that verifies (1); -1 with the reason. */
static int verify_tss(const struct lock *l, const struct jstrict_node *ts,
                      const uint8_t vh[SHA256_LEN], char *why, size_t whysz)
{
    uint8_t sig[FROST_SIG_LEN], m[SHA256_LEN];
    uint64_t seen = 0;
    if (!ts || ts->kind == JSTRICT_NULL)
        return 0;
    const struct jstrict_node *signers = get(ts, "signers");
    if (ts->kind != JSTRICT_OBJECT || !jstrict_string_is(get(ts, "scheme"), FROST_SCHEME) ||
        !signers || signers->kind != JSTRICT_ARRAY ||
        hexfield(get(ts, "sig"), sig, sizeof(sig)) < 0) {
        snprintf(why, whysz, "tss_signature malformed");
        return -1;
    }
    if (!l->has_tss) {
        snprintf(why, whysz, "tss_signature present but the lock has no tss group_pubkey");
        return -1;
    }
    for (uint32_t i = 0; i < signers->len; i++) {
        uint64_t idx;
        if (!jstrict_uint64(&signers->items[i], &idx) || idx >= l->n || ((seen >> idx) & 1)) {
            snprintf(why, whysz, "tss_signature.signers[%u] malformed", i);
            return -1;
        }
        seen |= 1ull << idx;
    }
    if (signers->len < l->threshold) {
        snprintf(why, whysz, "tss_signature has %u signers, threshold is %u", signers->len,
                 l->threshold);
        return -1;
    }
    tss_message(m, l->hash, vh);
    if (frost_verify(l->tss_group_pub, m, sizeof(m), sig) < 0) {
        snprintf(why, whysz, "tss_signature does not verify under the lock's group_pubkey");
        return -1;
    }
    return 1;
}

static int verify(const struct lock *l, const struct jstrict_node *root, char *why, size_t whysz)
{
    uint64_t height, round;
    int duty = -1;
    const struct jstrict_node *t = get(root, "type");
    for (unsigned i = 0; i < DUTY_TYPES; i++)
        if (t && jstrict_string_is(t, duty_type_name(i)))
            duty = (int)i;
    if (duty < 0 || !jstrict_uint64(get(root, "height"), &height)) {
        snprintf(why, whysz, "type/height missing");
        return -1;
    }
    if (!jstrict_string_is(get(root, "status"), "decided")) {
        snprintf(why, whysz, "not decided");
        return -1;
    }
    uint8_t vh[SHA256_LEN], calc[SHA256_LEN];
    const struct jstrict_node *value = get(root, "value");
    if (hexfield(get(root, "value_hash"), vh, sizeof(vh)) < 0 || !value) {
        snprintf(why, whysz, "value or value_hash missing");
        return -1;
    }
    struct buf canon = BUF_INIT;
    if (duty == DUTY_PROPOSER) {
        if (block_from_json(l, value, &canon) < 0) {
            buf_free(&canon);
            snprintf(why, whysz, "value is not a block");
            return -1;
        }
    } else {
        jstrict_canonical(value, &canon);
    }
    sha256(calc, canon.data, canon.len);
    buf_free(&canon);
    if (memcmp(vh, calc, SHA256_LEN) != 0) {
        snprintf(why, whysz, "value_hash is not SHA-256 of the value");
        return -1;
    }
    const struct jstrict_node *cert = get(root, "certificate");
    if (!cert || cert->kind != JSTRICT_ARRAY) {
        snprintf(why, whysz, "no certificate");
        return -1;
    }
    uint64_t seen = 0, cert_round = 0;
    for (uint32_t i = 0; i < cert->len; i++) {
        const struct jstrict_node *e = &cert->items[i];
        uint64_t idx;
        uint8_t sig[SIG_LEN], d[SHA256_LEN];
        if (!jstrict_uint64(get(e, "index"), &idx) || idx >= l->n ||
            !jstrict_uint64(get(e, "round"), &round) || hexfield(get(e, "sig"), sig, SIG_LEN) < 0) {
            snprintf(why, whysz, "certificate[%u] malformed", i);
            return -1;
        }
        if (i > 0 && round != cert_round) {
            snprintf(why, whysz, "certificate mixes rounds");
            return -1;
        }
        cert_round = round;
        struct qbft_body b = {.type = QBFT_COMMIT,
                              .duty = (uint8_t)duty,
                              .height = height,
                              .round = round,
                              .sender = (uint16_t)idx,
                              .has_value_hash = true};
        memcpy(b.value_hash, vh, SHA256_LEN);
        struct buf body = BUF_INIT;
        qbft_body_encode(&body, &b);
        qbft_signing_digest(d, l->hash, body.data, body.len);
        buf_free(&body);
        if (!ecdsa_verify(l->ops[idx].pubkey, d, sig)) {
            snprintf(why, whysz, "certificate[%u]: signature of operator %llu does not verify", i,
                     (unsigned long long)idx);
            return -1;
        }
        seen |= 1ull << idx;
    }
    unsigned distinct = (unsigned)__builtin_popcountll(seen);
    if (distinct < lock_quorum(l->n)) {
        snprintf(why, whysz, "certificate has %u distinct signers, quorum is %u", distinct,
                 lock_quorum(l->n));
        return -1;
    }
    const struct jstrict_node *seals = get(root, "seals");
    for (uint32_t i = 0; seals && seals->kind == JSTRICT_ARRAY && i < seals->len; i++) {
        struct seal s = {.duty = (uint8_t)duty, .height = height};
        uint64_t idx;
        memcpy(s.value_hash, vh, SHA256_LEN);
        if (!jstrict_uint64(get(&seals->items[i], "index"), &idx) || idx >= l->n ||
            hexfield(get(&seals->items[i], "sig"), s.sig, SIG_LEN) < 0 ||
            !seal_verify(&s, l->hash, l->ops[idx].pubkey)) {
            snprintf(why, whysz, "seals[%u] does not verify", i);
            return -1;
        }
    }
    int tss = verify_tss(l, get(root, "tss_signature"), vh, why, whysz);
    if (tss < 0)
        return -1;
    snprintf(why, whysz, "ok certificate=%u seals=%u round=%llu tss=%s", cert->len,
             seals && seals->kind == JSTRICT_ARRAY ? seals->len : 0, (unsigned long long)cert_round,
             tss ? "yes" : "no");
    return 0;
}

int cmd_duty(int argc, char **argv)
{
    const char *lockpath = NULL;
    static const struct option opts[] = {{"lock", required_argument, NULL, 'l'},
                                         {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    if (argc < 2 || strcmp(argv[1], "verify") != 0)
        goto usage;
    optind = 2;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c != 'l')
            goto usage;
        lockpath = optarg;
    }
    if (!lockpath || optind + 1 < argc)
        goto usage;
    char err[1024];
    struct lock *l = xcalloc(1, sizeof(*l));
    if (lock_load(l, lockpath, err, sizeof(err)) < 0) {
        fprintf(stderr, "aequactl duty verify: %s\n", err);
        free(l);
        return 78;
    }
    const char *in = optind < argc ? argv[optind] : NULL;
    FILE *f = in ? fopen(in, "r") : stdin;
    if (!f) {
        fprintf(stderr, "aequactl duty verify: cannot read %s\n", in);
        free(l);
        return 1;
    }
    /* One answer per line, read as it comes: any number of answers, each bounded. */
    int rc = 0, docs = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            n--;
        if (n == 0)
            continue;
        struct jstrict_doc doc;
        struct jstrict_error jerr;
        docs++;
        if ((size_t)n > DUTY_ANSWER_MAX) {
            printf("FAIL answer of %zd bytes is larger than %u\n", n, DUTY_ANSWER_MAX);
            rc = 1;
        } else {
            if (jstrict_parse(&doc, (const uint8_t *)line, (size_t)n, NULL, &jerr) < 0) {
                printf("FAIL invalid JSON: %s at %zu\n", jerr.reason, jerr.offset);
                rc = 1;
            } else if (verify(l, &doc.root, err, sizeof(err)) < 0) {
                printf("FAIL %s\n", err);
                rc = 1;
            } else {
                printf("%s\n", err);
            }
            jstrict_doc_free(&doc);
        }
    }
    if (docs == 0) {
        printf("FAIL no input\n");
        rc = 1;
    }
    free(line);
    if (in)
        fclose(f);
    free(l);
    return rc;
usage:
    fprintf(stderr, "usage: aequactl duty verify --lock LOCK [FILE]\n");
    return 2;
}
