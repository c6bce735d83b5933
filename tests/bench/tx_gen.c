/*
 * tx_gen: signed plaintext_v1 transactions for the load generator (scripts/bench txs).
 *
 *   tx_gen --lock LOCK --senders S --per-sender K [--seed N]
 *
 * Writes S*K JSON bodies for POST /v1/tx/plain to stdout, one per line, nonce-major (every
 * sender's nonce 0, then every sender's nonce 1, ...) so that a sender's transactions are posted
 * in nonce order. Sender keys are derived from the seed (the same seed gives the same senders).
 * Fees vary per sender so blocks exercise the fee order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/crypto.h"
#include "lib/lock.h"
#include "lib/util.h"
#include "proto/tx.h"

int main(int argc, char **argv)
{
    const char *lockpath = NULL;
    unsigned long senders = 0, per = 0, seed = 1;
    for (int a = 1; a + 1 < argc; a += 2) {
        if (!strcmp(argv[a], "--lock"))
            lockpath = argv[a + 1];
        else if (!strcmp(argv[a], "--senders"))
            senders = strtoul(argv[a + 1], NULL, 10);
        else if (!strcmp(argv[a], "--per-sender"))
            per = strtoul(argv[a + 1], NULL, 10);
        else if (!strcmp(argv[a], "--seed"))
            seed = strtoul(argv[a + 1], NULL, 10);
    }
    if (!lockpath || !senders || !per) {
        fprintf(stderr, "usage: tx_gen --lock LOCK --senders S --per-sender K [--seed N]\n");
        return 2;
    }
    struct lock *l = xcalloc(1, sizeof(*l));
    char err[512];
    if (lock_load(l, lockpath, err, sizeof(err)) < 0) {
        fprintf(stderr, "tx_gen: %s\n", err);
        return 78;
    }
    struct node_key *keys = xcalloc(senders, sizeof(*keys));
    for (unsigned long s = 0; s < senders; s++) {
        char name[64];
        uint8_t sec[SECKEY_LEN];
        snprintf(name, sizeof(name), "tx_gen %lu sender %lu", seed, s);
        sha256(sec, name, strlen(name));
        if (node_key_from_secret(&keys[s], sec) < 0) {
            fprintf(stderr, "tx_gen: key %lu\n", s);
            return 1;
        }
    }
    struct buf out = BUF_INIT;
    for (unsigned long n = 0; n < per; n++) {
        for (unsigned long s = 0; s < senders; s++) {
            struct tx *tx =
                tx_plain_sign(l->hash, &keys[s], n, 21000, 1 + (s * 7 + n) % 100, "bench", 5);
            buf_reset(&out);
            tx_json(tx, 0, &out);
            fwrite(out.data, 1, out.len, stdout);
            fputc('\n', stdout);
            tx_free(tx);
        }
    }
    buf_free(&out);
    return 0;
}
