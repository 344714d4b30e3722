/*
 * pvwasm/hypercall.h - what a wasm domain kernel imports from pvscsi (module "xen").
 *
 * Guest-kernel level, as Mini-OS has it: HYPERVISOR_event_channel_op takes Xen's own command
 * numbers and argument structs (<xen/event_channel.h>), read from and written back to linear
 * memory, which is the domain's memory. Grant entries are granted and ended through Mini-OS's
 * gnttab_* calls (pvscsi keeps the grant table outside the domain's memory). Everything else a
 * driver needs - its rings, its xenstore ring page, its data pages - is its own memory.
 */
#ifndef PVWASM_HYPERCALL_H
#define PVWASM_HYPERCALL_H

#include <pvwasm/xen-wasm.h>
#include <xen/event_channel.h>
#include <xen/grant_table.h>

#define PV_IMPORT(name) __attribute__((import_module("xen"), import_name(#name)))

/* Xen's start_info, the part a PV driver needs. Filled by pv_start_info(). */
struct pv_start_info {
    domid_t domid;
    uint16_t pad;
    uint32_t nr_pages;     /* frames of the domain's memory */
    uint32_t store_mfn;    /* frame of the xenstore_domain_interface page (granted as ref 1) */
    uint32_t store_evtchn; /* local port to xenstored */
    uint32_t first_free_frame; /* frames below this hold the module's image, stack and heap */
};

/* EVTCHNOP_alloc_unbound, _bind_interdomain, _send, _close, _unmask: 0 or -errno (Xen's). */
PV_IMPORT(HYPERVISOR_event_channel_op) int HYPERVISOR_event_channel_op(int cmd, void *arg);

/*
 * Grant `domid` access to `frame` of this domain's memory: the ref, or a negative GNTST_*.
 * Mini-OS's gnttab_grant_access.
 */
PV_IMPORT(gnttab_grant_access) int32_t gnttab_grant_access(domid_t domid, uint32_t frame, int readonly);
/*
 * gnttab_try_end_foreign_access (XSA-396): 1 when the grant is ended and the ref freed, 0 when the
 * peer still has it mapped or is copying - the page must then not be reused. Ending a ref this
 * domain does not hold stops the module with that error.
 */
PV_IMPORT(gnttab_end_access) int32_t gnttab_end_access(grant_ref_t ref);

/* Non-blocking: write up to `max` fired ports into `ports` (clearing them), return how many. */
PV_IMPORT(pv_evtchn_poll) int32_t pv_evtchn_poll(evtchn_port_t *ports, uint32_t max);
/*
 * Blocking (workers only): sleep until an event is pending or `timeout_ms` passes (-1: forever);
 * 1 if one is pending. In single-thread mode it never sleeps: a driver for both modes exports
 * pv_poll() and lets pvscsi do the waiting.
 */
PV_IMPORT(pv_evtchn_wait) int32_t pv_evtchn_wait(int32_t timeout_ms);

/* A free frame of this domain's memory (its guest address, frame << 12), or NULL. */
PV_IMPORT(pv_page_alloc) void *pv_page_alloc(void);
/* Give a page from pv_page_alloc back. */
PV_IMPORT(pv_page_free) void pv_page_free(void *page);

PV_IMPORT(pv_start_info) void pv_start_info(struct pv_start_info *si);
/* Write `len` bytes of text to the domain's log (the console, for a driver author). */
PV_IMPORT(pv_log) void pv_log(const char *text, size_t len);
/* Milliseconds since the domain started (for timeouts). */
PV_IMPORT(pv_time_ms) uint32_t pv_time_ms(void);

static inline int evtchn_alloc_unbound(domid_t remote, evtchn_port_t *port)
{
    evtchn_alloc_unbound_t op = { .dom = DOMID_SELF, .remote_dom = remote };
    int rc = HYPERVISOR_event_channel_op(EVTCHNOP_alloc_unbound, &op);
    if (rc == 0) *port = op.port;
    return rc;
}

static inline int evtchn_bind_interdomain(domid_t remote, evtchn_port_t rport, evtchn_port_t *local)
{
    evtchn_bind_interdomain_t op = { .remote_dom = remote, .remote_port = rport };
    int rc = HYPERVISOR_event_channel_op(EVTCHNOP_bind_interdomain, &op);
    if (rc == 0) *local = op.local_port;
    return rc;
}

static inline int evtchn_send(evtchn_port_t port)
{
    evtchn_send_t op = { .port = port };
    return HYPERVISOR_event_channel_op(EVTCHNOP_send, &op);
}

static inline int evtchn_close(evtchn_port_t port)
{
    evtchn_close_t op = { .port = port };
    return HYPERVISOR_event_channel_op(EVTCHNOP_close, &op);
}

static inline int evtchn_unmask(evtchn_port_t port)
{
    evtchn_unmask_t op = { .port = port };
    return HYPERVISOR_event_channel_op(EVTCHNOP_unmask, &op);
}

#endif
