/*
 * dump: the human-readable listing behind `aequactl wal dump` — the database's meta, then every
 * vote intent, accepted duty and decided instance, one line each, in key order:
 *
 *   # statedb PATH: schema 1, cluster HEX, node 0, created 2026-01-01T00:00:00.000Z
 *   # fallback: restored at T from checkpoint taken T: DETAIL        (only after a fallback)
 *   intent attester/12 round=1 type=prepare len=200 sha256=HEX decided=no [hex=...]
 *   duty attester/12 accepted=T trace=ID len=14 sha256=HEX payload={"slot":12} [hex=...]
 *   decided attester/12 round=1 at=T value_len=5 value_sha256=HEX cert=3 seals=0,1,3 tss=no
 *   # totals: intents=1 duties=1 decided=1
 *
 * (`hex=...` ends intent, duty and decided lines when asked for.)
 *
 * Reads through the read-only reader (db.h), so on a stopped node's data or beside the running
 * StateDB worker.
 * A payload is shown inline when short and printable; `hex` adds every byte string in hex.
 */
#ifndef AEQUA_DB_DUMP_H
#define AEQUA_DB_DUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "lib/db/db.h"

/* 0, or -1 with err set (iteration error or malformed record; what was printed stays). */
int db_dump(const struct db_reader *r, FILE *out, bool hex, char *err, size_t errsz);

#endif
