/*
 * tss_bench: one FROST(secp256k1, SHA-256) signing session in process (scripts/bench tss).
 *
 *   tss_bench [--sessions N] [--threshold T] [--nodes N]
 *
 * Deals a key for T of N (default 3 of 4), then runs N sessions one after another, each over a
 * fresh 32-byte message (what SPEC section 10 signs) with the signers 1..T: T commits, T signature
 * shares, the coordinator's T share verifications, the aggregate and its verification. Prints
 * p50/p99 wall and CPU time (CLOCK_PROCESS_CPUTIME_ID) per session, the mean CPU time of each
 * step, and beside them the cost of one secp256k1 ECDSA sign + verify (lib/crypto, the seals'
 * primitive) measured in the same run (and the mean of each half, for scripts/bench tss devnet),
 * and the ratio. Timings are printed, never asserted.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/crypto.h"
#include "lib/frost.h"
#include "lib/util.h"

enum { COMMIT, SIGN, SHARE_VERIFY, AGGREGATE, VERIFY, STEPS };
static const char *const step_names[STEPS] = {"commit", "sign", "share_verify", "aggregate",
                                              "verify"};

static double cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static double wall_us(void)
{
    return now_s() * 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(double *v, size_t n, double p)
{
    qsort(v, n, sizeof(*v), cmp_double);
    return v[(size_t)(p * (double)(n - 1) + 0.5)];
}

int main(int argc, char **argv)
{
    unsigned sessions = 1000, t = 3, n = 4;
    static const struct option opts[] = {{"sessions", required_argument, NULL, 's'},
                                         {"threshold", required_argument, NULL, 't'},
                                         {"nodes", required_argument, NULL, 'n'},
                                         {NULL, 0, NULL, 0}};
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        if (c == 's')
            sessions = (unsigned)atoi(optarg);
        else if (c == 't')
            t = (unsigned)atoi(optarg);
        else if (c == 'n')
            n = (unsigned)atoi(optarg);
        else
            return 2;
    }
    if (sessions < 1 || t < 1 || t > n || n > FROST_MAX_PARTICIPANTS) {
        fprintf(stderr, "tss_bench: need sessions >= 1 and 1 <= threshold <= nodes <= %d\n",
                FROST_MAX_PARTICIPANTS);
        return 2;
    }
    crypto_init();

    uint8_t pub[FROST_POINT_LEN], shares[FROST_MAX_PARTICIPANTS][FROST_SCALAR_LEN];
    uint8_t vshares[FROST_MAX_PARTICIPANTS][FROST_POINT_LEN];
    if (frost_dealer_keygen(t, n, pub, shares, vshares, NULL) < 0)
        fatalx("frost_dealer_keygen failed");

    double *wall = xcalloc(sessions, sizeof(double)), *cpu = xcalloc(sessions, sizeof(double));
    double step[STEPS] = {0};
    for (unsigned s = 0; s < sessions; s++) {
        struct frost_nonces nonces[FROST_MAX_PARTICIPANTS];
        struct frost_commitment list[FROST_MAX_PARTICIPANTS];
        uint8_t z[FROST_MAX_PARTICIPANTS][FROST_SCALAR_LEN], sig[FROST_SIG_LEN], msg[32];
        sha256(msg, &s, sizeof(s));
        double w0 = wall_us(), c0 = cpu_us(), c;
        for (unsigned i = 0; i < t; i++)
            if (frost_commit((uint16_t)(i + 1), shares[i], &nonces[i], &list[i]) < 0)
                fatalx("frost_commit failed");
        step[COMMIT] += (c = cpu_us()) - c0;
        for (unsigned i = 0; i < t; i++)
            if (frost_sign((uint16_t)(i + 1), shares[i], &nonces[i], list, t, msg, sizeof(msg), pub,
                           z[i]) < 0)
                fatalx("frost_sign failed");
        step[SIGN] += cpu_us() - c, c = cpu_us();
        for (unsigned i = 0; i < t; i++)
            if (frost_share_verify((uint16_t)(i + 1), vshares[i], z[i], list, t, msg, sizeof(msg),
                                   pub) < 0)
                fatalx("frost_share_verify failed");
        step[SHARE_VERIFY] += cpu_us() - c, c = cpu_us();
        if (frost_aggregate(list, t, z, msg, sizeof(msg), pub, sig) < 0)
            fatalx("frost_aggregate failed");
        step[AGGREGATE] += cpu_us() - c, c = cpu_us();
        if (frost_verify(pub, msg, sizeof(msg), sig) < 0)
            fatalx("frost_verify failed");
        step[VERIFY] += cpu_us() - c;
        wall[s] = wall_us() - w0;
        cpu[s] = cpu_us() - c0;
    }

    /* The seals' primitive: one ECDSA sign + verify over a digest. */
    struct node_key k;
    double *ecdsa = xcalloc(sessions, sizeof(double)), esign = 0, everify = 0;
    node_key_generate(&k);
    for (unsigned s = 0; s < sessions; s++) {
        uint8_t digest[SHA256_LEN], sig[SIG_LEN];
        sha256(digest, &s, sizeof(s));
        double c0 = cpu_us();
        ecdsa_sign(&k, digest, sig);
        double c1 = cpu_us();
        if (!ecdsa_verify(k.pub, digest, sig))
            fatalx("ecdsa_verify failed");
        ecdsa[s] = cpu_us() - c0;
        esign += c1 - c0;
        everify += cpu_us() - c1;
    }
    node_key_wipe(&k);

    double cpu50 = pct(cpu, sessions, 0.50), ecdsa50 = pct(ecdsa, sessions, 0.50);
    printf("# FROST(secp256k1, SHA-256) session in process, t = %u of n = %u, %u sessions\n", t, n,
           sessions);
    printf("session wall  p50 %8.0f us  p99 %8.0f us\n", pct(wall, sessions, 0.50),
           pct(wall, sessions, 0.99));
    printf("session cpu   p50 %8.0f us  p99 %8.0f us\n", cpu50, pct(cpu, sessions, 0.99));
    for (int i = 0; i < STEPS; i++)
        printf("  %-13s mean cpu %7.0f us%s\n", step_names[i], step[i] / sessions,
               i == AGGREGATE || i == VERIFY ? "" : " (all signers)");
    printf("ecdsa sign+verify cpu p50 %6.1f us  p99 %6.1f us\n", ecdsa50,
           pct(ecdsa, sessions, 0.99));
    printf("  ecdsa sign    mean cpu %7.1f us\n  ecdsa verify  mean cpu %7.1f us\n",
           esign / sessions, everify / sessions);
    printf("session / ecdsa sign+verify (p50 cpu): %.1f\n", cpu50 / ecdsa50);
    free(wall);
    free(cpu);
    free(ecdsa);
    return 0;
}
