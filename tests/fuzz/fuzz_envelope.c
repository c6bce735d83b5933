/* Fuzz target: the IPC envelope decoder and the control-family body decoders. */
#include <stddef.h>
#include <stdint.h>

#include "lib/metrics.h"
#include "proto/control.h"
#include "proto/envelope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct envelope e;
    if (envelope_decode(&e, data, size) == 0) {
        struct ctl_hello h;
        struct ctl_hello_ack a;
        struct ctl_beat b;
        struct status_report s;
        ctl_hello_decode(&h, e.body, e.body_len);
        ctl_hello_ack_decode(&a, e.body, e.body_len);
        ctl_beat_decode(&b, e.body, e.body_len);
        status_decode(&s, e.body, e.body_len);
        struct metrics_text t;
        metrics_text_init(&t);
        metrics_text_add_encoded(&t, e.body, e.body_len);
        metrics_text_free(&t);
    }
    /* The raw bytes as bodies too: they are what a confused peer would send. */
    struct status_report s;
    status_decode(&s, data, size);
    return 0;
}
