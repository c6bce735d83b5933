/*
 * tss_link: the QBFT worker's threshold-signing sessions (tss.h, SPEC §10) wired to the node —
 * only when TSS is enabled (--enable-tss / [tss] enabled); otherwise nothing of it runs, no
 * tss_* series exist and frames of aequa/tss/v1 from peers are dropped unread.
 */
#ifndef AEQUA_WORKERS_QBFT_TSS_LINK_H
#define AEQUA_WORKERS_QBFT_TSS_LINK_H

#include "lib/lock.h"
#include "workers/common/worker.h"
#include "workers/qbft/duties.h"

/* Before privileges drop: with TSS enabled, read this node's secret share ([tss] key). A lock
 * without a tss object or a share that does not load is exit 78. */
void tss_link_preinit(struct worker *w, const struct lock *lock);
/* Start the sessions (with TSS enabled): views of decided instances go to d. */
void tss_link_init(struct worker *w, const struct lock *lock, struct duties *d);
void tss_link_stop(void);

/* struct duties_host's decided hook: an instance this node decided is durable. */
void tss_link_decided(void *ctx, const struct qbft_id *id, uint64_t round,
                      const uint8_t value_hash[SHA256_LEN]);
/* One payload from peer on aequa/tss/v1. */
void tss_link_deliver(unsigned peer, const uint8_t *bytes, size_t len);

#endif
