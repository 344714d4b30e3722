/*
 * pvwasm/userspace.h - the userspace level for backends: libxenevtchn and libxengnttab, with
 * Xen's own <xenevtchn.h> and <xengnttab.h> (Debian's libxen-dev) unchanged, implemented by
 * sdk/src/userspace.c over the imports below. The xenstore side is the SDK's in-module client
 * (pvwasm/xenbus.h), as in Mini-OS: the domain's xenstore page is in its own memory.
 *
 * Grant map needs machine-memory mode (docs/wasm.md): the backend's linear memory is the whole
 * machine memory, every domain's RAM a range of it, so a mapped grant is an address this module
 * dereferences. Grant copy works in every mode.
 *
 * Subset: one page per map (xengnttab_map_grant_refs and _map_domain_grant_refs take count 1
 * only: contiguous machine addresses for several grants cannot be promised), no
 * xengnttab_map_grant_ref_notify, no file descriptors (xenevtchn_fd returns -1: wait with
 * pv_evtchn_wait, or let pvscsi call pv_poll()). Failures return NULL or -1 and the domain's
 * log says why (there is no errno).
 */
#ifndef PVWASM_USERSPACE_H
#define PVWASM_USERSPACE_H

#include <pvwasm/hypercall.h>
#include <xenevtchn.h>
#include <xengnttab.h>

#ifndef PROT_READ
#define PROT_READ 0x1
#define PROT_WRITE 0x2
#endif

/*
 * Map `ref` of `domid` (writable or not): the machine address of the granted frame, or a
 * negative GNTST_* (the log names the rule). The grant stays pinned (GTF_reading/GTF_writing)
 * until pv_gnttab_unmap, so the granter's gnttab_end_access answers 0 meanwhile (XSA-396).
 */
PV_IMPORT(pv_gnttab_map) int32_t pv_gnttab_map(domid_t domid, grant_ref_t ref, int writable);
/* Unmap the page mapped at `addr`: 0, or GNTST_bad_handle when nothing is mapped there. */
PV_IMPORT(pv_gnttab_unmap) int32_t pv_gnttab_unmap(void *addr);
/*
 * GNTTABOP_copy: Xen's struct gnttab_copy[count] (at most 256), each segment's status written
 * back. Returns how many failed.
 */
PV_IMPORT(pv_gnttab_copy) int32_t pv_gnttab_copy(struct gnttab_copy *segs, uint32_t count);

/* The layout pvscsi reads (wasm32: xen_pfn_t is 4 bytes); a change here must change kernel.ts. */
_Static_assert(sizeof(struct gnttab_copy) == 24, "struct gnttab_copy as pvscsi reads it");
_Static_assert(__builtin_offsetof(struct gnttab_copy, source.domid) == 4, "gnttab_copy.source.domid");
_Static_assert(__builtin_offsetof(struct gnttab_copy, source.offset) == 6, "gnttab_copy.source.offset");
_Static_assert(__builtin_offsetof(struct gnttab_copy, dest.u) == 8, "gnttab_copy.dest");
_Static_assert(__builtin_offsetof(struct gnttab_copy, len) == 16, "gnttab_copy.len");
_Static_assert(__builtin_offsetof(struct gnttab_copy, flags) == 18, "gnttab_copy.flags");
_Static_assert(__builtin_offsetof(struct gnttab_copy, status) == 20, "gnttab_copy.status");

#endif
