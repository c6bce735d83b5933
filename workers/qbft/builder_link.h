/*
 * builder_link: the QBFT worker's side of block instances — the duties module's sequencer hooks
 * (duties.h) on the builder worker's messages (proto/builder.h) and on aequa/sync/v1.
 */
#ifndef AEQUA_WORKERS_QBFT_BUILDER_LINK_H
#define AEQUA_WORKERS_QBFT_BUILDER_LINK_H

#include "workers/common/worker.h"
#include "workers/qbft/duties.h"

void builder_link_init(struct worker *w, struct duties *d);

/* struct duties_host hooks */
void builder_link_want_input(void *ctx, const struct qbft_id *id, bool explicit_duty);
enum qbft_validity builder_link_validate(void *ctx, const struct qbft_id *id,
                                         const uint8_t hash[QBFT_HASH_LEN], const uint8_t *value,
                                         size_t len);
void builder_link_decided(void *ctx, const struct qbft_id *id, const uint8_t *value, size_t len);
void builder_link_send_sync(void *ctx, uint32_t peer, const uint8_t *bytes, size_t len);

/* dispatch rows: BLD_SLOT, BLD_HEAD from the builder */
void builder_link_on_slot(struct mailbox *mb, const struct envelope *e, void *ctx);
void builder_link_on_head(struct mailbox *mb, const struct envelope *e, void *ctx);

#endif
