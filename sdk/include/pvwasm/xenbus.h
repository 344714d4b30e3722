/*
 * pvwasm/xenbus.h - a xenstore client that runs inside the module, over the domain's own
 * xenstore ring page (start_info.store_mfn, granted to xenstored as ref 1). Only the event
 * channel notify crosses into pvscsi. Non-blocking: send a request, then call xs_service() until
 * xs_reply_ready(); one request is outstanding at a time, as with Mini-OS's xenbus in one thread.
 * Watch events are counted (the latest path kept) apart from replies.
 */
#ifndef PVWASM_XENBUS_H
#define PVWASM_XENBUS_H

#include <pvwasm/hypercall.h>
#include <xen/io/xs_wire.h>

struct xs_client {
    volatile struct xenstore_domain_interface *intf;
    evtchn_port_t port;
    uint32_t next_req_id;
    int outstanding;              /* a request awaits its reply */
    /* the message being read */
    struct xsd_sockmsg hdr;
    uint32_t got;                 /* bytes of header + body read so far */
    char body[XENSTORE_PAYLOAD_MAX + 1];
    /* the last complete reply */
    int reply_ready;
    uint32_t reply_type, reply_len;
    char reply[XENSTORE_PAYLOAD_MAX + 1];
    /* watch events seen */
    uint32_t watch_events;
    char watch_path[256];
};

/* Attach to the ring page at `page` with local port `port`. */
void xs_init(struct xs_client *xs, void *page, evtchn_port_t port);
/*
 * Send a request: `type` (XS_READ, XS_WRITE, XS_WATCH, ...) with payload a\0 followed by `b`
 * (b's bytes as given: XS_WRITE's value has no terminating NUL; XS_WATCH's token does). 0 sent,
 * -1 busy (a request outstanding or the ring full: try again later).
 */
int xs_send(struct xs_client *xs, uint32_t type, const char *a, const char *b, uint32_t blen);
/* Read what the ring holds; returns 1 when something arrived. */
int xs_service(struct xs_client *xs);
/* Whether the reply to the outstanding request arrived; then reply/reply_len/reply_type hold it. */
static inline int xs_reply_ready(const struct xs_client *xs) { return xs->reply_ready; }
/* Take the reply: after this a new request may be sent. Returns 0, or 1 if it was XS_ERROR. */
int xs_take_reply(struct xs_client *xs);

/* Blocking helpers for worker-mode drivers (they wait with pv_evtchn_wait). 0 or -1 (error). */
int xs_read_sync(struct xs_client *xs, const char *path, char *out, size_t outlen);
int xs_write_sync(struct xs_client *xs, const char *path, const char *value);

#endif
