/*
 * qbft_rules: the upon rules of one instance (Moniz 2020, Algorithms 2 and 3), emission under the
 * intent discipline, and the decision. Calls only into the tables (qbft_table.h) and the host;
 * the engine (qbft_engine.c) calls these after the verifier accepted a message, on timers, on a
 * start or a restore.
 */
#ifndef AEQUA_WORKERS_QBFT_RULES_H
#define AEQUA_WORKERS_QBFT_RULES_H

#include "workers/qbft/qbft_table.h"

/* Evaluate the instance's rules until none fires (or a vote is withheld: in->blocked). */
void qinst_step(struct qbft_engine *e, struct qinst *in, uint64_t now);
/* Store one of this node's own messages (built now or read back from an intent). */
void qown_accept(struct qbft_engine *e, struct qinst *in, const struct qbft_msg *m,
                 const uint8_t digest[SHA256_LEN]);
/* Decide: value, round and commit certificate; report to the host when `report`. */
void qinst_decide(struct qbft_engine *e, struct qinst *in, const uint8_t hash[QBFT_HASH_LEN],
                  uint64_t round, const uint8_t *value, size_t len, const struct qsig *cert,
                  size_t ncert, bool report);
/* Decide from an accepted DECIDED message (its value and the first quorum of its COMMITs). */
void qinst_decide_msg(struct qbft_engine *e, struct qinst *in, const struct qbft_msg *m);
/* Answer a peer still changing rounds with this node's DECIDED (capped per peer). */
void qanswer_decided(struct qbft_engine *e, struct qinst *in, unsigned peer, uint64_t now);
/* Re-send what this node already sent in its current round (after a restart). */
void qresend_round(struct qbft_engine *e, struct qinst *in);

#endif
