/*
 * metrics family (0x02xx): the API worker collects every process's samples for /metrics.
 * The reply body is lib/metrics.h's encoding: array of [family, samples text].
 */
#ifndef AEQUA_PROTO_METRICS_H
#define AEQUA_PROTO_METRICS_H

enum metrics_type {
    METRICS_REQ = 0x0201, /* api -> any worker or the supervisor (request): empty body */
    METRICS_REP = 0x0202, /* any -> api (reply): encoded samples */
};

#endif
