/*
 * qbft_verify: the verifier of SPEC §7.4 — judges one received message and, when it passes,
 * records it in its instance (or buffers it for an instance that has not started). Calls only
 * into the tables (qbft_table.h) and the host's reports; what follows from an accepted message
 * (running the upon rules, deciding from a DECIDED, answering a laggard) it leaves to the engine,
 * which calls the rules layer.
 */
#ifndef AEQUA_WORKERS_QBFT_VERIFY_H
#define AEQUA_WORKERS_QBFT_VERIFY_H

#include "workers/qbft/qbft_table.h"

/* What the engine does next. */
enum qverify_next {
    QVERIFY_DONE,   /* nothing */
    QVERIFY_STEP,   /* evaluate in's upon rules */
    QVERIFY_DECIDE, /* decide in from the DECIDED message left decoded in e->rx */
    QVERIFY_ANSWER, /* in is decided: answer `peer` (changing rounds) with a DECIDED */
};

struct qverify_out {
    enum qbft_verdict verdict;
    enum qverify_next next;
    struct qinst *in;
    unsigned peer;
};

void qverify_accept(struct qbft_engine *e, const uint8_t *msg, size_t len, unsigned from,
                    struct qverify_out *out);

#endif
