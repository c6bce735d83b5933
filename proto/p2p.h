/*
 * p2p family (0x06xx): what the P2P worker carries for the other workers. Payloads are opaque
 * bytes here (QBFT's signed messages, transactions); their families decode them.
 */
#ifndef AEQUA_PROTO_P2P_H
#define AEQUA_PROTO_P2P_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

enum p2p_msg_type {
    P2P_SEND = 0x0601,    /* qbft|builder -> p2p: peer (P2P_BROADCAST = all), topic, payload */
    P2P_DELIVER = 0x0602, /* p2p -> qbft|builder: peer, topic, payload from an accepted peer */
    P2P_REPORT = 0x0603,  /* qbft -> p2p: peer, reason (enum p2p_report) */
    P2P_PEER = 0x0604,    /* p2p -> qbft|builder: peer, up (link came up or went down) */
};

/* Why a peer loses score (P2P_REPORT's reason); the P2P worker's gate sets the penalties. */
enum p2p_report {
    P2P_REPORT_INVALID_SIG = 0,  /* QBFT: a message whose signature does not verify */
    P2P_REPORT_EQUIVOCATION = 1, /* QBFT: two different messages for one slot */
    P2P_REPORT_UNDECODABLE = 2,  /* link layer: an authentic frame we cannot decode */
    P2P_REPORT_COUNT,
};

/* The topics of P2P_SEND / P2P_DELIVER (0 is the link's own control topic). */
enum p2p_topic {
    P2P_TOPIC_CONTROL = 0,
    P2P_TOPIC_QBFT = 1, /* aequa/qbft/v1 */
    P2P_TOPIC_TX = 2,   /* aequa/tx/v1 */
    P2P_TOPIC_TSS = 3,  /* aequa/tss/v1 */
    P2P_TOPIC_SYNC = 4, /* aequa/sync/v1 */
    P2P_TOPIC_COUNT,
};

#define P2P_BROADCAST   0xffffffffu
#define P2P_PAYLOAD_MAX (4u << 20)

struct p2p_msg {
    uint32_t peer;
    uint8_t topic;
    const uint8_t *payload; /* points into the decoded message */
    uint32_t len;
};

void p2p_msg_encode(struct buf *b, const struct p2p_msg *m);
int p2p_msg_decode(struct p2p_msg *m, const void *p, size_t n);

/* P2P_REPORT and P2P_PEER: a peer and a small number (reason, or 1/0 for up/down). */
void p2p_event_encode(struct buf *b, uint32_t peer, uint32_t value);
int p2p_event_decode(uint32_t *peer, uint32_t *value, const void *p, size_t n);

#endif
