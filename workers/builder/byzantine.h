/*
 * byzantine: wrong blocks on purpose, for tests of a Byzantine leader (issue 11). Compiled only
 * into test builds (meson -Dtest_tools=true, which defines AEQUA_TEST_TOOLS); a product build
 * has neither this file nor the environment variable that turns it on.
 *
 * The builder of a node started with AEQUA_TEST_BYZANTINE=MODE[,MODE...] rewrites every block
 * it builds, so that its proposals are refused by honest validators for exactly one reason
 * (builder_reject_total{type="block",reason}):
 *   bad_signature  the first transaction's signature has one bit of r flipped    ("signature")
 *   nonce_gap      the first transaction's nonce is one higher (signature kept)  ("nonce")
 *   wrong_order    the first two adjacent transactions of different senders are
 *                  swapped (each sender's nonces stay in order)                   ("order")
 * With several modes, the block of height h uses mode (h / n) % count (n: the lock's operators),
 * so a node that leads round 1 every n heights goes through them in turn.
 *
 * Pure: no I/O, no logging, no environment; allocation failure is fatal (lib/buf).
 */
#ifndef AEQUA_BUILDER_BYZANTINE_H
#define AEQUA_BUILDER_BYZANTINE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/crypto.h"

#define BYZANTINE_ENV "AEQUA_TEST_BYZANTINE"

enum byzantine_mode {
    BYZ_BAD_SIGNATURE,
    BYZ_NONCE_GAP,
    BYZ_WRONG_ORDER,
    BYZ_MODE_COUNT,
};

#define BYZANTINE_MAX_MODES 8

struct byzantine {
    enum byzantine_mode modes[BYZANTINE_MAX_MODES];
    size_t n;
};

const char *byzantine_mode_name(enum byzantine_mode m);

/* "mode[,mode...]" (at most BYZANTINE_MAX_MODES): 0, or -1 on an unknown name or an empty or
 * too long list. */
int byzantine_parse(struct byzantine *z, const char *spec);

/* The mode for the block of this height in a cluster of n operators. */
enum byzantine_mode byzantine_mode_at(const struct byzantine *z, uint64_t height, unsigned n);

/* The block (canonical bytes, as built) made wrong by mode m, in out. 0, or -1 when this block
 * cannot be made wrong that way (no transaction; wrong_order: no two senders). */
int byzantine_corrupt(enum byzantine_mode m, const uint8_t *block, size_t len,
                      const uint8_t lock_hash[SHA256_LEN], struct buf *out);

#endif
