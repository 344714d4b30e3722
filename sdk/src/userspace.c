/* libxenevtchn and libxengnttab (the subset pvwasm/userspace.h describes) over pvscsi's imports. */
#include <pvwasm/runtime.h>
#include <pvwasm/userspace.h>

/* One handle of each kind: the library's state is the domain's (its ports, its mappings). */
struct xenevtchn_handle {
    evtchn_port_t fired[64];
    uint32_t nfired, next;
};
struct xengntdev_handle {
    int open;
};
static struct xenevtchn_handle the_evtchn;
static struct xengntdev_handle the_gnttab;

xenevtchn_handle *xenevtchn_open(struct xentoollog_logger *logger, unsigned int open_flags)
{
    (void)logger; (void)open_flags;
    return &the_evtchn;
}

int xenevtchn_close(xenevtchn_handle *xce) { (void)xce; return 0; }
int xenevtchn_fd(xenevtchn_handle *xce) { (void)xce; return -1; }

int xenevtchn_notify(xenevtchn_handle *xce, evtchn_port_t port)
{
    (void)xce;
    return evtchn_send(port) == 0 ? 0 : -1;
}

xenevtchn_port_or_error_t xenevtchn_bind_unbound_port(xenevtchn_handle *xce, uint32_t domid)
{
    (void)xce;
    evtchn_port_t port;
    return evtchn_alloc_unbound((domid_t)domid, &port) == 0 ? (xenevtchn_port_or_error_t)port : -1;
}

xenevtchn_port_or_error_t xenevtchn_bind_interdomain(xenevtchn_handle *xce, uint32_t domid, evtchn_port_t remote_port)
{
    (void)xce;
    evtchn_port_t port;
    return evtchn_bind_interdomain((domid_t)domid, remote_port, &port) == 0 ? (xenevtchn_port_or_error_t)port : -1;
}

int xenevtchn_unbind(xenevtchn_handle *xce, evtchn_port_t port)
{
    (void)xce;
    return evtchn_close(port) == 0 ? 0 : -1;
}

/* Non-blocking: the next fired port, or -1 when none (the fd-less form of the library's call). */
xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *xce)
{
    if (xce->next == xce->nfired) {
        xce->next = 0;
        xce->nfired = (uint32_t)pv_evtchn_poll(xce->fired, sizeof xce->fired / sizeof xce->fired[0]);
        if (xce->nfired == 0) return -1;
    }
    return (xenevtchn_port_or_error_t)xce->fired[xce->next++];
}

int xenevtchn_unmask(xenevtchn_handle *xce, evtchn_port_t port)
{
    (void)xce;
    return evtchn_unmask(port) == 0 ? 0 : -1;
}

xengnttab_handle *xengnttab_open(struct xentoollog_logger *logger, unsigned int open_flags)
{
    (void)logger; (void)open_flags;
    the_gnttab.open = 1;
    return &the_gnttab;
}

int xengnttab_close(xengnttab_handle *xgt) { (void)xgt; return 0; }

void *xengnttab_map_grant_ref(xengnttab_handle *xgt, uint32_t domid, uint32_t ref, int prot)
{
    (void)xgt;
    int32_t addr = pv_gnttab_map((domid_t)domid, ref, (prot & PROT_WRITE) != 0);
    return addr > 0 ? (void *)(uintptr_t)addr : NULL;
}

void *xengnttab_map_grant_refs(xengnttab_handle *xgt, uint32_t count, uint32_t *domids, uint32_t *refs, int prot)
{
    if (count != 1) {
        pv_printf("xengnttab_map_grant_refs: count %u: only one page per map (map each page)", count);
        return NULL;
    }
    return xengnttab_map_grant_ref(xgt, domids[0], refs[0], prot);
}

void *xengnttab_map_domain_grant_refs(xengnttab_handle *xgt, uint32_t count, uint32_t domid, uint32_t *refs, int prot)
{
    return xengnttab_map_grant_refs(xgt, count, &domid, refs, prot);
}

int xengnttab_unmap(xengnttab_handle *xgt, void *start_address, uint32_t count)
{
    (void)xgt;
    int rc = 0;
    for (uint32_t i = 0; i < count; i++)
        if (pv_gnttab_unmap((char *)start_address + i * PVWASM_PAGE_SIZE) != 0) rc = -1;
    return rc;
}

/*
 * Each segment's local side (virt) becomes a DOMID_SELF frame and offset; a local side that
 * crosses a page boundary is split in two hypercall segments, as Linux's gntdev does.
 */
int xengnttab_grant_copy(xengnttab_handle *xgt, uint32_t count, xengnttab_grant_copy_segment_t *segs)
{
    (void)xgt;
    struct gnttab_copy op[2];
    for (uint32_t i = 0; i < count; i++) {
        xengnttab_grant_copy_segment_t *s = &segs[i];
        int to_foreign = (s->flags & GNTCOPY_dest_gref) != 0;
        uintptr_t virt = (uintptr_t)(to_foreign ? s->source.virt : s->dest.virt);
        uint16_t foff = to_foreign ? s->dest.foreign.offset : s->source.foreign.offset;
        uint32_t first = PVWASM_PAGE_SIZE - (virt & (PVWASM_PAGE_SIZE - 1));
        uint32_t n = s->len > first ? 2 : 1;
        for (uint32_t k = 0; k < n; k++) {
            uint32_t len = n == 1 ? s->len : k == 0 ? first : s->len - first;
            uintptr_t v = virt + (k ? first : 0);
            struct gnttab_copy *o = &op[k];
            memset(o, 0, sizeof *o);
            o->len = (uint16_t)len;
            o->flags = s->flags;
            struct gnttab_copy_ptr *local = to_foreign ? &o->source : &o->dest;
            struct gnttab_copy_ptr *foreign = to_foreign ? &o->dest : &o->source;
            local->domid = DOMID_SELF;
            local->u.gmfn = (xen_pfn_t)(v >> PVWASM_PAGE_SHIFT);
            local->offset = (uint16_t)(v & (PVWASM_PAGE_SIZE - 1));
            const struct { uint32_t ref; uint16_t offset; uint16_t domid; } *f =
                to_foreign ? (const void *)&s->dest.foreign : (const void *)&s->source.foreign;
            foreign->domid = f->domid;
            foreign->u.ref = f->ref;
            foreign->offset = (uint16_t)(foff + (k ? first : 0));
        }
        pv_gnttab_copy(op, n);
        s->status = op[0].status != GNTST_okay ? op[0].status : n == 2 ? op[1].status : GNTST_okay;
    }
    return 0;
}
