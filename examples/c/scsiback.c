/*
 * A minimal PVSCSI backend in C, written against Xen's own io/ring.h and io/vscsiif.h and the
 * userspace libraries' own headers (<xenevtchn.h>, <xengnttab.h>), compiled to WebAssembly with
 * pvscsi's SDK (sdk/). It runs as a driver domain's kernel in machine-memory mode
 * (docs/wasm.md): its linear memory is the machine memory, so a grant it maps is an address it
 * dereferences. It serves pvscsi's TypeScript scsifront (or any vscsiif frontend).
 *
 * What it does, as Linux's xen-scsiback does (drivers/xen/xen-scsiback.c):
 * - watches its backend/vscsi directory; for a new vhost reads frontend and frontend-id, and goes
 *   InitWait (no feature-sg-grant: this backend takes direct segments only, at most 26 pages);
 * - on the frontend's Initialised, reads ring-ref and event-channel, maps the ring page
 *   (xengnttab_map_grant_ref), BACK_RING_INIT, binds the port (xenevtchn_bind_interdomain),
 *   adds each vscsi-devs/dev-N in state Initialising whose p-dev is one of its LUNs (state
 *   Initialised; an unknown p-dev gets Closed), and goes Connected; on the frontend's Connected,
 *   moves its LUNs from Initialised to Connected;
 * - serves INQUIRY, REPORT LUNS, TEST UNIT READY, READ CAPACITY(10), READ and WRITE (10 and 16) from
 *   a RAM disk inside the module (two LUNs of 2 MiB); READ data goes to the guest by grant copy,
 *   WRITE data is read through grant maps; any other command gets CHECK CONDITION, ILLEGAL
 *   REQUEST (sense 05/20/00); ABORT and RESET answer SUCCESS (0x2002): every command completes
 *   before its response is pushed, so nothing is left to abort (SAM: aborting a task that does
 *   not exist is FUNCTION COMPLETE);
 * - on the frontend's Closing unmaps the ring and unbinds the port (Closing), on Closed goes
 *   Closed, and forgets the vhost when the toolstack removes its nodes. pv_shutdown() closes too.
 *
 * One vhost at a time (the smallest useful backend). Event-driven and non-blocking: pvscsi calls
 * pv_poll() on events (worker) or every pass (single thread). Build: examples/c/Makefile.
 *
 * Deliberately broken variants (backend misuse, each reported by pvscsi while the backend keeps
 * serving): -DBREAK_MAP_UNGRANTED (maps a ref the frontend never granted it), -DBREAK_DOUBLE_UNMAP
 * (unmaps a data page twice), -DBREAK_COPY_OOB (the first READ's grant copy runs past the granted
 * page: that READ fails with DID_ERROR).
 */
#include <pvwasm/xen-wasm.h>
#include <pvwasm/hypercall.h>
#include <pvwasm/runtime.h>
#include <pvwasm/userspace.h>
#include <pvwasm/xenbus.h>
#include <xen/io/ring.h>
#include <xen/io/vscsiif.h>
#include <xen/io/xenbus.h>

#define EXPORT(name) __attribute__((export_name(#name)))

#define NLUNS 2
#define BLOCK 512u
#define LUN_BYTES (2u << 20)
#define LUN_BLOCKS (LUN_BYTES / BLOCK)
#define MAX_DEVS 4

/* Results (vscsiif.h's XEN_VSCSIIF_RSLT_*; Linux's SUCCESS for task management). */
#define RSLT_GOOD 0
#define RSLT_CHECK_CONDITION 0x02
#define RSLT_NO_CONNECT (1u << 16)
#define RSLT_ERROR (7u << 16)
#define RSLT_TMF_SUCCESS 0x2002

static uint8_t disk[NLUNS][LUN_BYTES];
static const char *const lun_pdev[NLUNS] = { "0:0:0:0", "0:0:0:1" };
static const char inventory[] = "0:0:0:0 PVWASM RAMDISK\n0:0:0:1 PVWASM RAMDISK\n";

static struct pv_start_info si;
static struct xs_client xs;
static xenevtchn_handle *xce;
static xengnttab_handle *xgt;
static char root[64], bpath[96], fpath[96], path[192], devname[MAX_DEVS][16];
static char num[16];
static uint32_t ndevs, dev_i;
static domid_t fe_id;
static uint32_t ring_ref, fe_port;
static evtchn_port_t port;
static struct vscsiif_back_ring ring;
static void *ring_page;
static int halted;          /* the frontend overflowed the ring: processing stops (Linux) */
static int closing;         /* pv_shutdown() asked */
static uint32_t served, seen_watch;

/* A LUN of the vhost: v-dev channel:target:lun, and which RAM disk (-1: slot free). */
static struct { int lun; uint16_t chn, tgt, vlun; int state; } v2p[MAX_DEVS];

/* ---- xenstore as steps (as in scsifront.c): each returns 1 once its reply is in xs.reply ---- */

static int issued, xs_err;
static int xs_op(uint32_t type, const char *a, const char *b, uint32_t blen)
{
    if (!issued) {
        if (xs_send(&xs, type, a, b, blen) < 0) return 0;
        issued = 1;
        return 0;
    }
    if (!xs_reply_ready(&xs)) return 0;
    issued = 0;
    xs_err = xs_take_reply(&xs);
    return 1;
}
static int xs_rd(const char *p) { return xs_op(XS_READ, p, "", 0); }
static int xs_dir(const char *p) { return xs_op(XS_DIRECTORY, p, "", 0); }
static int xs_wr(const char *p, const char *v) { return xs_op(XS_WRITE, p, v, (uint32_t)strlen(v)); }
static int xs_watch(const char *p, const char *t) { return xs_op(XS_WATCH, p, t, (uint32_t)strlen(t) + 1); }
static int xs_unwatch(const char *p, const char *t) { return xs_op(XS_UNWATCH, p, t, (uint32_t)strlen(t) + 1); }
static const char *P(const char *base, const char *leaf) { pv_snprintf(path, sizeof path, "%s/%s", base, leaf); return path; }
static const char *N(unsigned v) { pv_snprintf(num, sizeof num, "%u", v); return num; }
static unsigned U(const char *s, int *ok) { return (unsigned)pv_strtoul(s, ok); }

/* ---- commands ---- */

static struct vscsiif_request req;   /* RING_COPY_REQUEST: one private copy, validated (XSA-155) */
static struct vscsiif_response *rsp;
static uint8_t small[4096];          /* INQUIRY, REPORT LUNS, READ CAPACITY data */
static xengnttab_grant_copy_segment_t cseg[VSCSIIF_SG_TABLESIZE];

static void sense(uint8_t key, uint8_t asc)
{
    rsp->rslt = RSLT_CHECK_CONDITION;
    memset(rsp->sense_buffer, 0, 18);
    rsp->sense_buffer[0] = 0x70; /* fixed format, current */
    rsp->sense_buffer[2] = key;
    rsp->sense_buffer[7] = 10;
    rsp->sense_buffer[12] = asc;
    rsp->sense_len = 18;
}

/* The data length the segments describe. */
static uint32_t data_len(void)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < req.nr_segments; i++) n += req.seg[i].length;
    return n;
}

/* Copy `len` bytes from `src` (this domain's memory) into the request's segments, by grant copy. */
static int copy_out(const uint8_t *src, uint32_t len)
{
    uint32_t done = 0, n = 0;
    for (uint32_t i = 0; i < req.nr_segments && done < len; i++, n++) {
        uint32_t l = req.seg[i].length;
        if (l > len - done) l = len - done;
        cseg[n].source.virt = (void *)(src + done);
        cseg[n].dest.foreign.ref = req.seg[i].gref;
        cseg[n].dest.foreign.offset = req.seg[i].offset;
        cseg[n].dest.foreign.domid = fe_id;
        cseg[n].len = (uint16_t)l;
        cseg[n].flags = GNTCOPY_dest_gref;
        done += l;
    }
#ifdef BREAK_COPY_OOB
    static int broke;
    if (n > 0 && (req.cmnd[0] == 0x28 || req.cmnd[0] == 0x88) && !broke++) { /* the first READ */
        cseg[0].dest.foreign.offset = 4000; /* broken: 4000 + length passes the end of the page */
        pv_printf("scsiback: (broken) a grant copy past the end of the granted page");
    }
#endif
    xengnttab_grant_copy(xgt, n, cseg);
    for (uint32_t i = 0; i < n; i++)
        if (cseg[i].status != GNTST_okay) return -1;
    rsp->residual_len = data_len() - done;
    return 0;
}

/* Read the request's segments into `dst`, through grant maps (read-only), `len` bytes at most. */
static int map_in(uint8_t *dst, uint32_t len)
{
    uint32_t done = 0;
    for (uint32_t i = 0; i < req.nr_segments && done < len; i++) {
        uint8_t *page = xengnttab_map_grant_ref(xgt, fe_id, req.seg[i].gref, PROT_READ);
        if (page == NULL) return -1;
        uint32_t l = req.seg[i].length;
        if (l > len - done) l = len - done;
        memcpy(dst + done, page + req.seg[i].offset, l);
        xengnttab_unmap(xgt, page, 1);
#ifdef BREAK_DOUBLE_UNMAP
        static int broke;
        if (!broke++) {
            pv_printf("scsiback: (broken) unmapping a data page a second time");
            xengnttab_unmap(xgt, page, 1);
        }
#endif
        done += l;
    }
    return 0;
}

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }
static void put32(uint8_t *p, uint32_t v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v; }

static void cdb(int lun)
{
    const uint8_t *c = req.cmnd;
    uint32_t alloc;
    switch (c[0]) {
    case 0x00: /* TEST UNIT READY */
        return;
    case 0x12: /* INQUIRY */
        alloc = (uint32_t)c[3] << 8 | c[4];
        memset(small, 0, 96);
        if (c[1] & 1) { /* EVPD: page 0 (the supported pages: itself) only */
            if (c[2] != 0) { sense(0x05, 0x24); return; }
            small[3] = 1;
            if (copy_out(small, alloc < 5 ? alloc : 5)) rsp->rslt = RSLT_ERROR;
            return;
        }
        if (c[2] != 0) { sense(0x05, 0x24); return; }
        small[0] = 0x00; /* direct-access block device */
        small[2] = 0x05; /* SPC-3 */
        small[3] = 0x02; /* response data format 2 */
        small[4] = 96 - 5;
        memcpy(small + 8, "PVWASM  RAMDISK         0001", 28);
        if (copy_out(small, alloc < 96 ? alloc : 96)) rsp->rslt = RSLT_ERROR;
        return;
    case 0xa0: { /* REPORT LUNS: the vhost's LUNs on this target */
        alloc = be32(c + 6);
        uint32_t n = 0;
        memset(small, 0, 8 + 8 * MAX_DEVS);
        for (uint32_t i = 0; i < MAX_DEVS; i++)
            if (v2p[i].lun >= 0 && v2p[i].chn == req.channel && v2p[i].tgt == req.id)
                small[8 + 8 * n++ + 1] = (uint8_t)v2p[i].vlun;
        put32(small, 8 * n);
        uint32_t len = 8 + 8 * n;
        if (copy_out(small, alloc < len ? alloc : len)) rsp->rslt = RSLT_ERROR;
        return;
    }
    case 0x25: /* READ CAPACITY(10) */
        put32(small, LUN_BLOCKS - 1);
        put32(small + 4, BLOCK);
        if (copy_out(small, 8)) rsp->rslt = RSLT_ERROR;
        return;
    case 0x28: /* READ(10) */
    case 0x2a: /* WRITE(10) */
    case 0x88: /* READ(16) (what pvscsi's guest sd sends) */
    case 0x8a: { /* WRITE(16) */
        int ten = c[0] == 0x28 || c[0] == 0x2a, rd = c[0] == 0x28 || c[0] == 0x88;
        uint32_t lba_hi = ten ? 0 : be32(c + 2);
        uint32_t lba = ten ? be32(c + 2) : be32(c + 6);
        uint32_t blocks = ten ? ((uint32_t)c[7] << 8 | c[8]) : be32(c + 10);
        if (lba_hi || lba > LUN_BLOCKS || blocks > LUN_BLOCKS - lba) { sense(0x05, 0x21); return; }
        uint32_t bytes = blocks * BLOCK, have = data_len();
        if (have < bytes) bytes = have - have % BLOCK;
        uint8_t *at = disk[lun] + (size_t)lba * BLOCK;
        int rc = rd ? copy_out(at, bytes) : map_in(at, bytes);
        if (rc) rsp->rslt = RSLT_ERROR;
        else rsp->residual_len = data_len() - bytes;
        return;
    }
    default: /* everything else: ILLEGAL REQUEST, INVALID COMMAND OPERATION CODE */
        sense(0x05, 0x20);
        return;
    }
}

static int translate(void)
{
    for (uint32_t i = 0; i < MAX_DEVS; i++)
        if (v2p[i].lun >= 0 && v2p[i].state >= XenbusStateInitialised && v2p[i].chn == req.channel &&
            v2p[i].tgt == req.id && v2p[i].vlun == req.lun)
            return v2p[i].lun;
    return -1;
}

static void serve(void)
{
    int lun;
    rsp->rslt = RSLT_GOOD;
    /* Linux's order (prepare_pending_reqs): direction, CDB length, translation; then the act. */
    if (req.sc_data_direction > 3 || req.cmd_len > VSCSIIF_MAX_COMMAND_SIZE) { rsp->rslt = RSLT_ERROR; return; }
    if ((lun = translate()) < 0) { rsp->rslt = RSLT_NO_CONNECT; return; }
    switch (req.act) {
    case VSCSIIF_ACT_SCSI_CDB:
        if ((req.nr_segments & VSCSIIF_SG_GRANT) || req.nr_segments > VSCSIIF_SG_TABLESIZE) {
            rsp->rslt = RSLT_ERROR; /* no feature-sg-grant offered: direct segments only */
            return;
        }
        for (uint32_t i = 0; i < req.nr_segments; i++)
            if (req.seg[i].offset >= 4096 || req.seg[i].length > 4096 - req.seg[i].offset) {
                rsp->rslt = RSLT_ERROR;
                return;
            }
        cdb(lun);
        return;
    case VSCSIIF_ACT_SCSI_ABORT:
    case VSCSIIF_ACT_SCSI_RESET:
        rsp->rslt = RSLT_TMF_SUCCESS;
        return;
    default:
        rsp->rslt = RSLT_ERROR;
        return;
    }
}

static int do_ring(void)
{
    int work = 0, more;
    if (halted || !ring.sring) return 0;
    do {
        RING_IDX rc = ring.req_cons, rp = ring.sring->req_prod;
        xen_rmb(); /* requests only after their producer index */
        if (RING_REQUEST_PROD_OVERFLOW(&ring, rp)) {
            pv_printf("scsiback: dom%u provided bogus ring requests (%u - %u = %u); halting ring processing", fe_id, rp,
                      rc, rp - rc);
            halted = 1;
            return 1;
        }
        while (rc != rp) {
            if (RING_REQUEST_CONS_OVERFLOW(&ring, rc)) break;
            RING_COPY_REQUEST(&ring, rc, &req);
            ring.req_cons = ++rc;
            rsp = RING_GET_RESPONSE(&ring, ring.rsp_prod_pvt);
            rsp->rqid = req.rqid;
            rsp->sense_len = 0;
            rsp->residual_len = 0;
            serve();
            ring.rsp_prod_pvt++;
            served++;
            int notify;
            RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&ring, notify);
            if (notify) xenevtchn_notify(xce, port);
            work = 1;
        }
        RING_FINAL_CHECK_FOR_REQUESTS(&ring, more);
    } while (more);
    return work;
}

/* Unmap the ring and unbind the port (Linux's scsiback_disconnect). */
static void disconnect(void)
{
    if (ring_page) {
        xengnttab_unmap(xgt, ring_page, 1);
        ring_page = NULL;
        memset(&ring, 0, sizeof ring);
    }
    if (port) {
        xenevtchn_unbind(xce, port);
        port = 0;
    }
}

/* ---- xenbus ---- */

enum {
    B_INIT, B_WATCH, B_IDLE, B_DIR_FE, B_DIR_DEV, B_RD_STATE, B_RD_FE, B_RD_FEID, B_W_INITWAIT, B_WATCH_FE,
    B_WAIT, B_CHECK_BE, B_RD_FE_STATE, B_RD_REF, B_RD_EVT, B_CONNECT, B_DEVS, B_DEV_STATE, B_DEV_PDEV,
    B_DEV_VDEV, B_DEV_W, B_W_CONNECTED, B_W_CLOSING, B_W_CLOSED, B_UNWATCH, B_GONE
};
static int bstate = B_INIT, vhost, connected, dev_op, dev_st, dev_lun, fe_state;
static unsigned be_st;

/* After the LUN scan: where to go (Connected after an add, back to waiting after an update). */
static int after_devs(void) { return dev_op == 1 ? B_W_CONNECTED : B_WAIT; }

static int step(void)
{
    switch (bstate) {
    case B_INIT:
        pv_start_info(&si);
        xs_init(&xs, pv_frame_ptr(si.store_mfn), si.store_evtchn);
        xce = xenevtchn_open(NULL, 0);
        xgt = xengnttab_open(NULL, 0);
        for (uint32_t i = 0; i < MAX_DEVS; i++) v2p[i].lun = -1;
        pv_snprintf(root, sizeof root, "/local/domain/%u/backend/vscsi", si.domid);
        pv_printf("scsiback: dom%u, %u frames (%u for the image and RAM disk), serving %s", si.domid, si.nr_pages,
                  si.first_free_frame, root);
        bstate = B_WATCH;
        return 1;
    case B_WATCH:
        if (!xs_watch(root, "be")) return 0;
        bstate = B_IDLE;
        return 1;
    case B_IDLE:
        if (closing) { bstate = B_GONE; return 1; }
        if (xs.watch_events == seen_watch) return 0;
        seen_watch = xs.watch_events;
        bstate = B_DIR_FE;
        return 1;
    case B_DIR_FE: { /* the first frontend listed */
        if (!xs_dir(root)) return 0;
        if (xs_err || xs.reply_len == 0) { bstate = B_IDLE; return 1; }
        int ok;
        fe_id = (domid_t)U(xs.reply, &ok);
        pv_snprintf(bpath, sizeof bpath, "%s/%s", root, xs.reply);
        bstate = ok ? B_DIR_DEV : B_IDLE;
        return 1;
    }
    case B_DIR_DEV: {
        if (!xs_dir(bpath)) return 0;
        if (xs_err || xs.reply_len == 0) { bstate = B_IDLE; return 1; }
        size_t n = strlen(bpath);
        pv_snprintf(bpath + n, sizeof bpath - n, "/%s", xs.reply);
        bstate = B_RD_STATE;
        return 1;
    }
    case B_RD_STATE: { /* a new vhost is Initialising (the toolstack wrote its nodes) */
        if (!xs_rd(P(bpath, "state"))) return 0;
        int ok;
        bstate = !xs_err && U(xs.reply, &ok) == XenbusStateInitialising ? B_RD_FE : B_IDLE;
        return 1;
    }
    case B_RD_FE:
        if (!xs_rd(P(bpath, "frontend"))) return 0;
        if (xs_err) { bstate = B_IDLE; return 1; }
        memcpy(fpath, xs.reply, xs.reply_len + 1);
        bstate = B_RD_FEID;
        return 1;
    case B_RD_FEID: {
        if (!xs_rd(P(bpath, "frontend-id"))) return 0;
        int ok;
        fe_id = (domid_t)U(xs.reply, &ok);
        bstate = xs_err || !ok ? B_IDLE : B_W_INITWAIT;
        return 1;
    }
    case B_W_INITWAIT:
        if (!xs_wr(P(bpath, "state"), N(XenbusStateInitWait))) return 0;
        vhost = 1;
        bstate = B_WATCH_FE;
        return 1;
    case B_WATCH_FE:
        if (!xs_watch(P(fpath, "state"), "fe")) return 0;
        bstate = B_RD_FE_STATE;
        return 1;
    case B_WAIT:
        if (closing) { bstate = connected ? B_W_CLOSING : B_W_CLOSED; return 1; }
        if (xs.watch_events == seen_watch) return 0;
        seen_watch = xs.watch_events;
        bstate = B_CHECK_BE;
        return 1;
    case B_CHECK_BE: { /* the toolstack may have removed the vhost */
        if (!xs_rd(P(bpath, "state"))) return 0;
        int ok;
        be_st = xs_err ? 0 : U(xs.reply, &ok);
        if (xs_err) { disconnect(); bstate = B_UNWATCH; return 1; }
        bstate = B_RD_FE_STATE;
        return 1;
    }
    case B_RD_FE_STATE: {
        if (!xs_rd(P(fpath, "state"))) return 0;
        int ok;
        fe_state = xs_err ? XenbusStateClosed : (int)U(xs.reply, &ok);
        if ((fe_state == XenbusStateInitialised || fe_state == XenbusStateConnected) && !connected)
            bstate = B_RD_REF;
        else if (fe_state == XenbusStateConnected) { dev_op = 2; bstate = B_DEVS; }
        else if (fe_state == XenbusStateClosing) bstate = B_W_CLOSING;
        else if (fe_state == XenbusStateClosed && be_st != XenbusStateClosed) bstate = B_W_CLOSED;
        else bstate = B_WAIT;
        return 1;
    }
    case B_RD_REF: {
        if (!xs_rd(P(fpath, "ring-ref"))) return 0;
        int ok;
        ring_ref = U(xs.reply, &ok);
        bstate = xs_err || !ok ? B_WAIT : B_RD_EVT;
        return 1;
    }
    case B_RD_EVT: {
        if (!xs_rd(P(fpath, "event-channel"))) return 0;
        int ok;
        fe_port = U(xs.reply, &ok);
        bstate = xs_err || !ok ? B_WAIT : B_CONNECT;
        return 1;
    }
    case B_CONNECT: {
        ring_page = xengnttab_map_grant_ref(xgt, fe_id, ring_ref, PROT_READ | PROT_WRITE);
        if (!ring_page) { pv_printf("scsiback: cannot map ring-ref %u of dom%u", ring_ref, fe_id); bstate = B_WAIT; return 1; }
        BACK_RING_INIT(&ring, (struct vscsiif_sring *)ring_page, 4096);
        xenevtchn_port_or_error_t p = xenevtchn_bind_interdomain(xce, fe_id, fe_port);
        if (p < 0) { pv_printf("scsiback: cannot bind port %u of dom%u", fe_port, fe_id); disconnect(); bstate = B_WAIT; return 1; }
        port = (evtchn_port_t)p;
        connected = 1;
        halted = 0;
#ifdef BREAK_MAP_UNGRANTED
        pv_printf("scsiback: (broken) mapping ref %u of dom%u, which it was never granted", ring_ref + 100, fe_id);
        if (xengnttab_map_grant_ref(xgt, fe_id, ring_ref + 100, PROT_READ) == NULL)
            pv_printf("scsiback: the map was refused");
#endif
        pv_printf("scsiback: dom%u's ring-ref %u mapped at 0x%x, port %u bound to local port %u", fe_id, ring_ref,
                  (unsigned)(uintptr_t)ring_page, fe_port, port);
        dev_op = 1;
        bstate = B_DEVS;
        return 1;
    }
    case B_DEVS: { /* list vscsi-devs: dev-0\0dev-1\0... */
        if (!xs_dir(P(bpath, "vscsi-devs"))) return 0;
        ndevs = 0;
        if (!xs_err)
            for (uint32_t o = 0; o < xs.reply_len && ndevs < MAX_DEVS; o += (uint32_t)strlen(xs.reply + o) + 1)
                if (strlen(xs.reply + o) < sizeof devname[0]) strcpy(devname[ndevs++], xs.reply + o);
        dev_i = 0;
        bstate = ndevs ? B_DEV_STATE : after_devs();
        return 1;
    }
    case B_DEV_STATE: {
        pv_snprintf(path, sizeof path, "%s/vscsi-devs/%s/state", bpath, devname[dev_i]);
        if (!xs_rd(path)) return 0;
        int ok;
        dev_st = xs_err ? -1 : (int)U(xs.reply, &ok);
        bstate = (dev_op == 1 && dev_st == XenbusStateInitialising) ||
                         (dev_op == 2 && dev_st == XenbusStateInitialised)
                     ? B_DEV_PDEV
                     : B_DEV_W;
        if (bstate == B_DEV_W) dev_st = -1; /* nothing to write */
        return 1;
    }
    case B_DEV_PDEV:
        pv_snprintf(path, sizeof path, "%s/vscsi-devs/%s/p-dev", bpath, devname[dev_i]);
        if (!xs_rd(path)) return 0;
        dev_lun = -1;
        for (int l = 0; l < NLUNS && !xs_err; l++)
            if (strcmp(xs.reply, lun_pdev[l]) == 0) dev_lun = l;
        bstate = B_DEV_VDEV;
        return 1;
    case B_DEV_VDEV: {
        pv_snprintf(path, sizeof path, "%s/vscsi-devs/%s/v-dev", bpath, devname[dev_i]);
        if (!xs_rd(path)) return 0;
        unsigned v[4] = { 0 }, n = 0;
        for (const char *c = xs.reply; !xs_err && *c && n < 4; c++) {
            if (*c == ':') n++;
            else v[n] = v[n] * 10 + (unsigned)(*c - '0');
        }
        int slot = dev_i < MAX_DEVS ? (int)dev_i : -1;
        if (dev_op == 1) {
            if (xs_err || n != 3 || dev_lun < 0 || slot < 0) {
                pv_printf("scsiback: %s: p-dev is not one of this backend's LUNs (0:0:0:0, 0:0:0:1)", devname[dev_i]);
                dev_st = XenbusStateClosed;
            } else {
                v2p[slot].lun = dev_lun;
                v2p[slot].chn = (uint16_t)v[1];
                v2p[slot].tgt = (uint16_t)v[2];
                v2p[slot].vlun = (uint16_t)v[3];
                v2p[slot].state = dev_st = XenbusStateInitialised;
                pv_printf("scsiback: LUN %s (RAM disk %d) as %u:%u:%u", lun_pdev[dev_lun], dev_lun, v[1], v[2], v[3]);
            }
        } else {
            if (slot >= 0 && v2p[slot].lun >= 0) v2p[slot].state = dev_st = XenbusStateConnected;
            else dev_st = -1;
        }
        bstate = B_DEV_W;
        return 1;
    }
    case B_DEV_W:
        if (dev_st >= 0) {
            pv_snprintf(path, sizeof path, "%s/vscsi-devs/%s/state", bpath, devname[dev_i]);
            if (!xs_wr(path, N((unsigned)dev_st))) return 0;
        }
        bstate = ++dev_i < ndevs ? B_DEV_STATE : after_devs();
        return 1;
    case B_W_CONNECTED:
        if (!xs_wr(P(bpath, "state"), N(XenbusStateConnected))) return 0;
        pv_printf("scsiback: vhost %s connected", bpath);
        bstate = B_WAIT;
        return 1;
    case B_W_CLOSING:
        disconnect();
        if (connected) pv_printf("scsiback: vhost %s: ring unmapped, port unbound after %u requests", bpath, served);
        connected = 0;
        if (!xs_wr(P(bpath, "state"), N(XenbusStateClosing))) return 0;
        bstate = closing ? B_W_CLOSED : B_WAIT;
        return 1;
    case B_W_CLOSED:
        disconnect();
        connected = 0;
        if (!xs_wr(P(bpath, "state"), N(XenbusStateClosed))) return 0;
        be_st = XenbusStateClosed;
        bstate = closing ? B_UNWATCH : B_WAIT;
        return 1;
    case B_UNWATCH: /* the vhost is gone: forget it, wait for the next */
        if (!xs_unwatch(P(fpath, "state"), "fe")) return 0;
        for (uint32_t i = 0; i < MAX_DEVS; i++) v2p[i].lun = -1;
        vhost = 0;
        be_st = 0;
        pv_printf("scsiback: vhost %s removed", bpath);
        bstate = closing ? B_GONE : B_IDLE;
        return 1;
    default:
        return 0;
    }
}

/* ---- exports ---- */

EXPORT(pv_poll) int pv_poll(void)
{
    int work = 0;
    if (xce) while (xenevtchn_pending(xce) >= 0) {} /* the ports are looked at below, every pass */
    for (int i = 0; i < 64; i++) {
        int w = xs_service(&xs);
        w |= do_ring();
        w |= step();
        if (!w) break;
        work = 1;
    }
    return work;
}

EXPORT(pv_shutdown) void pv_shutdown(void) { closing = 1; }
EXPORT(pv_closed) int pv_closed(void) { return bstate == B_GONE; }
EXPORT(pv_status) int pv_status(void) { return halted ? -1 : 0; }
/* The LUNs this backend serves, one "h:c:t:l vendor model" line each (pvscsi lists them as its inventory). */
EXPORT(pv_inventory) const char *pv_inventory(void) { return inventory; }
EXPORT(pv_requests_served) uint32_t pv_requests_served(void) { return served; }
