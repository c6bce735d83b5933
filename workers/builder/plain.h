/*
 * plain: the mempool plugin of plaintext_v1 transactions (SPEC §9) — strict nonces, pending and
 * queued transactions per sender, replacement by fee bump, caps and eviction, the canonical
 * selection, proposal validation and pruning after a decided block.
 *
 * State. Per sender (an address with pooled transactions): base, the next nonce of the chain as
 * last seen (the host's chain_nonce, never lowered); pending, the transactions with nonces base,
 * base+1, ... without a gap; queued, the others, by nonce, all at or above base + pending count.
 * The pool owns its transactions; every one is also found by hash. Counts: P pending and Q queued
 * in all. The host's chain_nonce is asked at each admission, so a sender's base follows the chain
 * even if a decided block was not reported.
 *
 * Admission of a transaction t of sender s (signature already checked), first rule that applies:
 *   1. t.nonce < base: old.
 *   2. a pooled tx o has s's address and t's nonce: same hash: dup; t.fee <= o.fee: dup;
 *      t.fee * 100 < o.fee * (100 + price_bump_pct): underpriced; otherwise t replaces o in its
 *      place and state (replaced; o is reported removed).
 *   3. t.nonce == base + s's pending count (the next expected nonce):
 *      - s has account_slots pending: full;
 *      - P == global_slots: evict (below) from the pending tails, else full;
 *      - t becomes pending (ok), and s's queued transactions that are now contiguous are
 *        promoted while s has fewer than account_slots pending and P < global_slots.
 *   4. otherwise (a gap): s has account_queue queued: full; Q == global_queue: evict from the
 *      queued tails, else full; t is queued (future).
 * Eviction. Only a transaction that no other pooled transaction depends on can go: its sender's
 * highest-nonce pooled transaction (the sender's "tail"). A pending newcomer looks at the senders
 * whose tail is pending (they have nothing queued), a queued newcomer at those whose tail is
 * queued; so a queued transaction never evicts a pending one. The newcomer's own sender is never
 * a candidate. Of the candidates, the tail with the lowest fee (ties: the higher address) is
 * evicted if the newcomer's fee is strictly higher; otherwise the newcomer is refused (full).
 * Two min-heaps of senders keyed by their tail's fee make this O(log senders). The per-sender
 * caps never evict: a sender that is over them gets full.
 *
 * Selection (block building). A binary heap over the senders' pending heads: take the head with
 * the highest fee (ties: lower address; senders are distinct, so nothing else can tie), put the
 * sender's next pending transaction in its place, until the next one would exceed
 * max_block_txs, max_block_gas or max_block_bytes: there it stops, even if a later, smaller one
 * would fit. Every sender's nonces come out consecutive from base and the heads fee-descending;
 * the block depends only on the set of pending transactions. Queued transactions are never
 * selected.
 *
 * Proposal validation of a block's plaintext_v1 transactions, reasons in this order: the gas sum
 * within the budget (too_much_gas), no transaction twice (duplicate_tx), each sender's nonces
 * in block order are the chain's next nonce, +1, +2, ... and below 2^64-1 (nonce; so a sender's
 * two transactions in the wrong order are "nonce"), the block order is exactly the selection
 * order of the block's own transactions (order), and every signature verifies (signature; a
 * transaction in this pool was verified at admission and is not checked again).
 *
 * Nonce 2^64-1 is refused at admission (invalid tx), as EIP-2681 does: the next nonce of a
 * sender must stay representable.
 *
 * Decided block. Its transactions leave the pool (included) and each sender in it moves its base
 * to max(chain nonce, its last nonce in the block + 1): transactions below drop out (old), and
 * queued ones that became contiguous are promoted. Promotions that found no global slot wait;
 * when slots free up they are made sender by sender in address order.
 *
 * Restore. Stored transactions come back in any order into the queued lists without caps
 * (below base: old; two with one nonce: the higher fee stays, the other is reported replaced);
 * then, sender by sender in address order, the contiguous ones are promoted as above, queues
 * longer than account_queue lose their highest nonces and, while Q > global_queue, the
 * lowest-fee queued tail goes (both reported evicted). With the same configuration and chain
 * nothing is dropped: the restored pool holds the same transactions with the same pending/queued
 * split, except when the global pending cap was binding: then which senders' contiguous
 * transactions wait in queued can differ (a restore promotes in address order).
 */
#ifndef AEQUA_BUILDER_PLAIN_H
#define AEQUA_BUILDER_PLAIN_H

#include "workers/builder/mempool.h"

extern const struct mempool_plugin plain_plugin;

#endif
