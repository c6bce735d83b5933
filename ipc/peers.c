#include "ipc/peers.h"

#include <string.h>

void peers_init(struct peer_table *pt, unsigned self, uint32_t self_pid)
{
    memset(pt, 0, sizeof(*pt));
    pt->self = self;
    pt->self_pid = self_pid;
    if (self < W_COUNT)
        pt->t.w[self].pid = self_pid;
}

void peers_set(struct peer_table *pt, unsigned id, uint32_t pid, uint64_t generation)
{
    if (id >= W_COUNT)
        return;
    struct ctl_peer *w = &pt->t.w[id];
    if (w->pid && w->pid != pid) {
        memmove(&w->retired[1], &w->retired[0], sizeof(w->retired) - sizeof(w->retired[0]));
        w->retired[0] = w->pid;
    }
    w->pid = pid;
    w->generation = generation;
}

int peers_who(const struct peer_table *pt, uint32_t pid)
{
    for (unsigned i = 0; i < W_COUNT; i++)
        if (pid && pt->t.w[i].pid == pid)
            return (int)i;
    return -1;
}

enum peer_verdict peers_check(const struct peer_table *pt, unsigned source, uint32_t pid)
{
    if (source == pt->self)
        return pid == pt->self_pid ? PEER_OK : PEER_FORGED;
    if (pid == pt->self_pid)
        return PEER_FORGED;
    int who = peers_who(pt, pid);
    if (source == W_TOOL)
        return who < 0 ? PEER_OK : PEER_FORGED;
    if (source >= W_COUNT || who >= 0)
        return source < W_COUNT && who == (int)source ? PEER_OK : PEER_FORGED;
    for (unsigned k = 0; k < CTL_PEERS_RETIRED; k++)
        if (pt->t.w[source].retired[k] == pid)
            return PEER_STALE;
    return (pt->open & WBIT(source)) ? PEER_OK : PEER_UNKNOWN;
}
