/* The SDK's xenstore client: see pvwasm/xenbus.h. */
#include <pvwasm/runtime.h>
#include <pvwasm/xenbus.h>

void xs_init(struct xs_client *xs, void *page, evtchn_port_t port)
{
    memset(xs, 0, sizeof *xs);
    xs->intf = page;
    xs->port = port;
    xs->next_req_id = 1;
}

static uint32_t load(volatile XENSTORE_RING_IDX *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }

int xs_send(struct xs_client *xs, uint32_t type, const char *a, const char *b, uint32_t blen)
{
    if (xs->outstanding) return -1;
    uint32_t alen = (uint32_t)strlen(a) + 1;
    struct xsd_sockmsg m = { .type = type, .req_id = xs->next_req_id, .tx_id = 0, .len = alen + blen };
    uint32_t total = sizeof m + m.len;
    volatile struct xenstore_domain_interface *in = xs->intf;
    uint32_t prod = in->req_prod, cons = load(&in->req_cons);
    if (total > XENSTORE_RING_SIZE - (prod - cons)) return -1;
    const char *parts[3] = { (const char *)&m, a, b };
    uint32_t lens[3] = { sizeof m, alen, blen };
    for (int p = 0; p < 3; p++)
        for (uint32_t i = 0; i < lens[p]; i++) in->req[MASK_XENSTORE_IDX(prod++)] = parts[p][i];
    xen_wmb(); /* xenstored sees the bytes before the index */
    __atomic_store_n(&in->req_prod, prod, __ATOMIC_RELEASE);
    evtchn_send(xs->port);
    xs->next_req_id++;
    xs->outstanding = 1;
    return 0;
}

int xs_service(struct xs_client *xs)
{
    volatile struct xenstore_domain_interface *in = xs->intf;
    int progress = 0;
    for (;;) {
        uint32_t cons = in->rsp_cons, prod = load(&in->rsp_prod);
        if (cons == prod) break;
        xen_rmb(); /* read the bytes only after seeing the index */
        char *dst = (char *)&xs->hdr;
        while (cons != prod) {
            uint32_t want = xs->got < sizeof xs->hdr ? (uint32_t)sizeof xs->hdr : (uint32_t)sizeof xs->hdr + xs->hdr.len;
            if (xs->got >= sizeof xs->hdr && xs->hdr.len > XENSTORE_PAYLOAD_MAX) want = xs->got; /* bogus */
            if (xs->got == want) break;
            char c = in->rsp[MASK_XENSTORE_IDX(cons++)];
            if (xs->got < sizeof xs->hdr) dst[xs->got] = c;
            else xs->body[xs->got - sizeof xs->hdr] = c;
            xs->got++;
        }
        xen_mb(); /* done reading before xenstored may reuse the space */
        __atomic_store_n(&in->rsp_cons, cons, __ATOMIC_RELEASE);
        evtchn_send(xs->port);
        progress = 1;
        if (xs->got < sizeof xs->hdr || xs->got < sizeof xs->hdr + xs->hdr.len) continue;
        uint32_t len = xs->hdr.len;
        xs->body[len] = 0;
        if (xs->hdr.type == XS_WATCH_EVENT) {
            xs->watch_events++;
            size_t n = strlen(xs->body);
            if (n >= sizeof xs->watch_path) n = sizeof xs->watch_path - 1;
            memcpy(xs->watch_path, xs->body, n);
            xs->watch_path[n] = 0;
        } else {
            memcpy(xs->reply, xs->body, len + 1);
            xs->reply_len = len;
            xs->reply_type = xs->hdr.type;
            xs->reply_ready = 1;
        }
        xs->got = 0;
    }
    return progress;
}

int xs_take_reply(struct xs_client *xs)
{
    xs->reply_ready = 0;
    xs->outstanding = 0;
    return xs->reply_type == XS_ERROR;
}

static int wait_reply(struct xs_client *xs)
{
    while (!xs->reply_ready) {
        if (!xs_service(xs)) pv_evtchn_wait(100);
        evtchn_port_t fired[8];
        pv_evtchn_poll(fired, 8);
    }
    return xs_take_reply(xs) ? -1 : 0;
}

int xs_read_sync(struct xs_client *xs, const char *path, char *out, size_t outlen)
{
    while (xs_send(xs, XS_READ, path, "", 0) < 0) { xs_service(xs); pv_evtchn_wait(10); }
    if (wait_reply(xs) < 0) return -1;
    size_t n = xs->reply_len < outlen - 1 ? xs->reply_len : outlen - 1;
    memcpy(out, xs->reply, n);
    out[n] = 0;
    return 0;
}

int xs_write_sync(struct xs_client *xs, const char *path, const char *value)
{
    while (xs_send(xs, XS_WRITE, path, value, (uint32_t)strlen(value)) < 0) { xs_service(xs); pv_evtchn_wait(10); }
    return wait_reply(xs);
}
