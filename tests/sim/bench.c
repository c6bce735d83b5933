/*
 * qbft-bench: decided instances per second for n nodes in one process (scripts/bench qbft).
 *
 *   qbft-bench [--nodes N] [--instances M]
 *
 * Runs M instances one after another on an n-node cluster (tests/sim/cluster.c, FIFO network,
 * no faults), twice: with real secp256k1 signatures, and with signing and verification stubbed
 * out. Each node is the QBFT worker's core (the duties module around the engine), so a decision
 * also costs each node its seal. All n nodes share this one thread, so the CPU time per instance
 * is that of the whole cluster; one node does about 1/n of it. Rates are per second of this
 * process's CPU time (CLOCK_PROCESS_CPUTIME_ID), so a busy machine does not skew them; wall time is
 * shown too. The share of time in secp256k1 is estimated two ways: (real - stub) / real, and from
 * the engines' sign/verify counts times the measured cost of one sign and one verify.
 */
#include "tests/sim/cluster.h"
#include "lib/util.h"

#include <getopt.h>
#include <time.h>
#include <secp256k1.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

struct run {
    double secs, wall;
    uint64_t decided, signs, verifies, cached;
};

static void bench(unsigned n, uint64_t m, bool stub, struct run *r)
{
    struct cl_opts o;
    cl_opts_default(&o, n);
    o.seed = 7;
    o.stub_crypto = stub;
    o.no_checks = true;
    struct cluster *c = cl_new(&o);
    memset(r, 0, sizeof(*r));
    double t0 = cpu_s(), w0 = now_s();
    for (uint64_t k = 0; k < m; k++) {
        struct qbft_id id = {(uint8_t)(k % DUTY_TYPES), k / DUTY_TYPES + 1};
        char v[64];
        int len = snprintf(v, sizeof(v), "duty payload %llu", (unsigned long long)k);
        for (unsigned i = 0; i < n; i++)
            cl_start(c, i, &id, v, (size_t)len);
        cl_run(c, NULL, NULL, SIZE_MAX);
        r->decided += cl_all_decided(c, &id);
        if (k % 1024 == 1023)
            for (unsigned i = 0; i < n; i++)
                for (unsigned d = 0; d < DUTY_TYPES; d++)
                    qbft_prune(c->nodes[i].eng, d, id.height > 64 ? id.height - 64 : 0);
    }
    r->secs = cpu_s() - t0;
    r->wall = now_s() - w0;
    for (unsigned i = 0; i < n; i++) {
        struct qbft_stats st;
        qbft_stats(c->nodes[i].eng, &st);
        r->signs += st.signed_msgs;
        r->verifies += st.sig_verified;
        r->cached += st.sig_cached;
    }
    if (c->violations)
        fatalx("qbft-bench: %s", c->violation);
    cl_free(c);
}

/* Cost of one sign and one verify (pre-parsed key, as the engine does), in seconds. */
static void op_costs(double *sign, double *verify)
{
    struct node_key k;
    uint8_t digest[32] = {1}, sig[64];
    secp256k1_pubkey pk;
    secp256k1_ecdsa_signature s;
    node_key_generate(&k);
    if (!secp256k1_ec_pubkey_parse(secp_ctx(), &pk, k.pub, PUBKEY_LEN))
        fatalx("pubkey");
    const int reps = 2000;
    double t0 = cpu_s();
    for (int i = 0; i < reps; i++) {
        digest[1] = (uint8_t)i;
        ecdsa_sign(&k, digest, sig);
    }
    *sign = (cpu_s() - t0) / reps;
    int ok = 0;
    t0 = cpu_s();
    for (int i = 0; i < reps; i++) {
        ok += secp256k1_ecdsa_signature_parse_compact(secp_ctx(), &s, sig) &&
              secp256k1_ecdsa_verify(secp_ctx(), &s, digest, &pk);
    }
    *verify = (cpu_s() - t0) / reps;
    if (ok != reps)
        fatalx("verify");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"nodes", required_argument, NULL, 'n'},
        {"instances", required_argument, NULL, 'm'},
        {NULL, 0, NULL, 0},
    };
    uint64_t n = 4, m = 5000;
    int ch;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if ((ch == 'n' && (parse_u64(optarg, QBFT_MAX_NODES, &n) < 0 || n < 1)) ||
            (ch == 'm' && (parse_u64(optarg, 100000000, &m) < 0 || m < 1)) ||
            (ch != 'n' && ch != 'm')) {
            fprintf(stderr, "usage: qbft-bench [--nodes N] [--instances M]\n");
            return 2;
        }
    }
    struct run real, stub;
    double csign, cverify;
    op_costs(&csign, &cverify);
    bench((unsigned)n, m, false, &real);
    bench((unsigned)n, m, true, &stub);
    double share_diff = (real.secs - stub.secs) / real.secs;
    double share_ops = (real.signs * csign + real.verifies * cverify) / real.secs;
    printf("qbft n=%llu instances=%llu (all %llu nodes in one thread)\n", (unsigned long long)n,
           (unsigned long long)m, (unsigned long long)n);
    printf("real signatures:  %8.0f decided instances/s  (%.1f us cluster CPU per instance, "
           "wall %.1fs; signs %.1f, verifies %.1f, cache hits %.1f per instance)\n",
           real.decided / real.secs, 1e6 * real.secs / real.decided, real.wall,
           (double)real.signs / real.decided, (double)real.verifies / real.decided,
           (double)real.cached / real.decided);
    printf("stubbed signing:  %8.0f decided instances/s  (%.1f us cluster CPU per instance, "
           "wall %.1fs)\n",
           stub.decided / stub.secs, 1e6 * stub.secs / stub.decided, stub.wall);
    printf("secp256k1 share of the real run: %.0f%% (real - stub), %.0f%% (ops x cost: sign "
           "%.1f us, verify %.1f us)\n",
           100 * share_diff, 100 * share_ops, 1e6 * csign, 1e6 * cverify);
    printf("one node alone (1/%llu of the cluster's work): about %.0f decided instances/s per "
           "core\n",
           (unsigned long long)n, n * real.decided / real.secs);
    return real.decided == m && stub.decided == m ? 0 : 1;
}
