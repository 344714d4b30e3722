/*
 * A reference PVSCSI frontend in C, written against Xen's own io/ring.h and io/vscsiif.h and
 * compiled to WebAssembly with pvscsi's SDK (sdk/). It runs as a domain's kernel: its linear
 * memory is the domain's memory, its xenstore client (sdk/src/xenbus.c) runs in here over the
 * domain's xenstore page, and it talks to pvscsi's scsiback through a real ring, grants and an
 * event channel.
 *
 * What it does, as Linux's xen-scsifront does: watch device/vscsi/0, read backend and
 * backend-id, allocate and grant the ring page, allocate the event channel, write ring-ref,
 * event-channel and state Initialised; on the backend's Connected read feature-sg-grant, bring
 * vscsi-devs/dev-0 up and go Connected. Then a self-test of the device: INQUIRY, REPORT LUNS,
 * WRITE and READ back (data through grants), a transfer of more than 26 pages through indirect
 * segments (feature-sg-grant), an ABORT, every response checked; then `PV_REQUESTS` more READs
 * for a benchmark. pv_status() says how it went; the log says what happened.
 *
 * A hostile backend must not make it touch memory it does not own or trust a response it should
 * not (pvscsi's `attackWasmFrontend` attacks it; test/wasm/c-scsifront-hostile-backend.test.ts):
 * as Linux's scsifront, a response for an rqid not in flight or more responses than requests
 * (RING_RESPONSE_PROD_OVERFLOW) stop the ring for good, a grant the backend still maps after
 * its response fails the host and its page is never reused (XSA-396), xenstore values are
 * parsed strictly (a malformed v-dev refuses the device; a malformed feature-sg-grant means
 * none), and a backend going Closing closes the frontend.
 *
 * Event-driven and non-blocking: pvscsi calls pv_poll() when an event arrives (in the domain's
 * worker) or on every pass (single-thread mode). Build: see examples/c/Makefile.
 *
 * Deliberately broken variants for the protocol checker's tests: -DBREAK_TRAP, -DBREAK_OOB,
 * -DBREAK_RQID_REUSE, -DBREAK_RING_OVERFLOW, -DBREAK_NO_NOTIFY, -DBREAK_END_MAPPED, -DBREAK_GRANT_RO,
 * -DBREAK_LOOP.
 */
#include <pvwasm/xen-wasm.h>
#include <pvwasm/hypercall.h>
#include <pvwasm/runtime.h>
#include <pvwasm/xenbus.h>
#include <xen/io/ring.h>
#include <xen/io/vscsiif.h>
#include <xen/io/xenbus.h>

/* vscsiif.h itself defines the ring types (DEFINE_RING_TYPES(vscsiif, ...)). */

#define EXPORT(name) __attribute__((export_name(#name)))

#ifndef PV_REQUESTS
#define PV_REQUESTS 0 /* > 0: a benchmark build: after TEST UNIT READY, this many timed 4 KiB READs */
#endif
#define BIG_PAGES 64 /* > VSCSIIF_SG_TABLESIZE: needs indirect segments */
#define MAX_PAGES 128
#define NR_SHADOW __CONST_RING_SIZE(vscsiif, 4096) /* 16: one shadow per ring slot */

static struct pv_start_info si;
static struct xs_client xs;
static char fe[64], be[128], path[192];
static domid_t be_id;
static uint32_t sg_grant;
static uint16_t vchn, vtgt, vlun;
static struct vscsiif_front_ring ring;
static void *ring_page;
static grant_ref_t ring_ref;
static evtchn_port_t port;
static int status;          /* 0 running, 1 self-test passed, < 0 failed */
static int ring_broken;     /* the backend broke the ring protocol: no response is trusted any more */
static int closing;         /* pv_shutdown() asked */
static uint32_t seen_watch;
static uint32_t bench_left = PV_REQUESTS, bench_done, bench_t0;

#define FAIL(...) do { pv_printf("scsifront: FAIL: " __VA_ARGS__); status = -1; return 1; } while (0)

/* ---- xenstore operations as steps: each returns 1 once its reply is in xs.reply ---- */

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
static int xs_wr(const char *p, const char *v) { return xs_op(XS_WRITE, p, v, (uint32_t)strlen(v)); }
static int xs_watch(const char *p, const char *token) { return xs_op(XS_WATCH, p, token, (uint32_t)strlen(token) + 1); }
static const char *P(const char *base, const char *leaf) { pv_snprintf(path, sizeof path, "%s/%s", base, leaf); return path; }
static char num[16];
static const char *N(unsigned v) { pv_snprintf(num, sizeof num, "%u", v); return num; }

/* A decimal number of at most `max`, all digits, no overflow (xenstore values are the peer's). */
static uint32_t parse_u32(const char *s, const char *end, uint32_t max, int *ok)
{
    uint32_t v = 0;
    *ok = s != end;
    for (; s != end; s++) {
        if (*s < '0' || *s > '9' || v > (max - (uint32_t)(*s - '0')) / 10) { *ok = 0; return 0; }
        v = v * 10 + (uint32_t)(*s - '0');
    }
    return v;
}

/* ---- requests ---- */

struct shadow {
    int inflight;
    uint32_t npages, nind;
    void *pages[MAX_PAGES];
    grant_ref_t refs[MAX_PAGES];
    void *ind[2];
    grant_ref_t ind_refs[2];
    struct vscsiif_response rsp;
    int done;
};
static struct shadow shadows[NR_SHADOW];

static int grant(void *page, int ro)
{
    int ref = gnttab_grant_access(be_id, pv_virt_to_frame(page), ro);
    if (ref < 0) pv_printf("scsifront: grant failed (%d)", ref);
    return ref;
}

/* Queue one request in slot `rqid` (its pages already allocated); data direction: 0 none, 1 to device, 2 from. */
static void submit(uint16_t rqid, uint8_t act, const uint8_t *cdb, uint8_t cdb_len, uint8_t dir, uint32_t bytes, uint16_t ref_rqid)
{
    struct shadow *s = &shadows[rqid];
    struct vscsiif_request *req = RING_GET_REQUEST(&ring, ring.req_prod_pvt);
    memset(req, 0, sizeof *req);
    req->rqid = rqid;
    req->act = act;
    req->cmd_len = cdb_len;
    memcpy(req->cmnd, cdb, cdb_len);
    req->channel = vchn;
    req->id = vtgt;
    req->lun = vlun;
    req->ref_rqid = ref_rqid;
    req->sc_data_direction = dir;
    s->nind = 0;
    uint32_t left = bytes;
    if (s->npages <= VSCSIIF_SG_TABLESIZE) {
        for (uint32_t i = 0; i < s->npages; i++) {
#ifdef BREAK_GRANT_RO
            s->refs[i] = grant(s->pages[i], 1); /* broken: the device writes into a read-only grant */
#else
            s->refs[i] = grant(s->pages[i], dir == 1);
#endif
            req->seg[i].gref = s->refs[i];
            req->seg[i].offset = 0;
            req->seg[i].length = left < 4096 ? left : 4096;
            left -= req->seg[i].length;
        }
        req->nr_segments = (uint8_t)s->npages;
    } else {
        /* Indirect: descriptor pages, each VSCSIIF_SG_PER_PAGE segments, granted read-only. */
        s->nind = (s->npages + VSCSIIF_SG_PER_PAGE - 1) / VSCSIIF_SG_PER_PAGE;
        for (uint32_t d = 0; d < s->nind; d++) {
            s->ind[d] = pv_page_alloc();
            struct scsiif_request_segment *segs = s->ind[d];
            uint32_t n = s->npages - d * VSCSIIF_SG_PER_PAGE;
            if (n > VSCSIIF_SG_PER_PAGE) n = VSCSIIF_SG_PER_PAGE;
            for (uint32_t i = 0; i < n; i++) {
                uint32_t p = d * VSCSIIF_SG_PER_PAGE + i;
                s->refs[p] = grant(s->pages[p], dir == 1);
                segs[i].gref = s->refs[p];
                segs[i].offset = 0;
                segs[i].length = left < 4096 ? left : 4096;
                left -= segs[i].length;
            }
            s->ind_refs[d] = grant(s->ind[d], 1);
            req->seg[d].gref = s->ind_refs[d];
            req->seg[d].offset = 0;
            req->seg[d].length = (uint16_t)(n * sizeof(struct scsiif_request_segment));
        }
        req->nr_segments = (uint8_t)(VSCSIIF_SG_GRANT | s->nind);
    }
    s->inflight = 1;
    s->done = 0;
    ring.req_prod_pvt++;
}

static void push(void)
{
    int notify;
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&ring, notify);
#ifdef BREAK_NO_NOTIFY
    notify = 0; /* broken on purpose: the backend asked for an event (req_event) and gets none */
#endif
    if (notify) evtchn_send(port);
}

/*
 * End a request's grants. A grant the backend still maps (XSA-396) cannot be ended: as Linux's
 * scsifront_gnttab_done, that fails the host ("grant still in use by backend"), and the page is
 * given up for good (never reused, never freed: the backend may still write it).
 */
static uint32_t grants_still_mapped;
static void still_mapped(void)
{
    if (grants_still_mapped++ == 0) pv_printf("scsifront: grant still in use by backend: host failed");
    status = -1;
}
static void release(struct shadow *s)
{
    for (uint32_t i = 0; i < s->npages; i++)
        if (s->refs[i] && !gnttab_end_access(s->refs[i])) {
            still_mapped();
            s->pages[i] = 0; /* leaked on purpose */
        }
    for (uint32_t d = 0; d < s->nind; d++) {
        if (!gnttab_end_access(s->ind_refs[d])) still_mapped();
        else pv_page_free(s->ind[d]);
    }
    s->nind = 0;
    memset(s->refs, 0, sizeof s->refs);
}

static int take_responses(void)
{
    int work = 0, more;
    if (ring_broken) return 0;
    do {
        RING_IDX rp = ring.sring->rsp_prod;
        xen_rmb(); /* responses only after their producer index */
        /* As Linux's scsifront_ring_drain: more responses than requests is the backend's bug. */
        if (RING_RESPONSE_PROD_OVERFLOW(&ring, rp)) {
            pv_printf("scsifront: illegal number of responses (rsp_prod %u, rsp_cons %u): ring stopped", rp,
                      ring.rsp_cons);
            ring_broken = 1;
            status = -1;
            return 1;
        }
        for (RING_IDX i = ring.rsp_cons; i != rp; i++) {
            struct vscsiif_response r;
            memcpy(&r, RING_GET_RESPONSE(&ring, i), sizeof r); /* one read of shared memory (XSA-155) */
            if (r.rqid >= NR_SHADOW || !shadows[r.rqid].inflight) {
                pv_printf("scsifront: backend answered rqid %u, which is not in flight: ring stopped", r.rqid);
                ring.rsp_cons = i + 1;
                ring_broken = 1;
                status = -1;
                return 1;
            }
            struct shadow *s = &shadows[r.rqid];
            memcpy(&s->rsp, &r, sizeof r);
            release(s);
            s->inflight = 0;
            s->done = 1;
            work = 1;
        }
        ring.rsp_cons = rp;
        RING_FINAL_CHECK_FOR_RESPONSES(&ring, more);
    } while (more);
    return work;
}

/* ---- the self-test ---- */

enum { T_START, T_INQ, T_RL, T_TUR, T_WRITE, T_READ, T_BIG_W, T_BIG_R, T_ABORT, T_BENCH, T_DONE };
static int test = T_START;
static int test_sent, tur_tries;
static uint8_t pattern_seed = 0x5a;

static void alloc_pages(struct shadow *s, uint32_t n)
{
    s->npages = n;
    for (uint32_t i = 0; i < n; i++)
        if (!s->pages[i]) s->pages[i] = pv_page_alloc();
}

static void fill(struct shadow *s, uint32_t bytes, uint8_t seed)
{
    for (uint32_t i = 0; i < bytes; i++) ((uint8_t *)s->pages[i / 4096])[i % 4096] = (uint8_t)(seed + i * 7 + (i >> 12));
}

static int check(struct shadow *s, uint32_t bytes, uint8_t seed)
{
    for (uint32_t i = 0; i < bytes; i++)
        if (((uint8_t *)s->pages[i / 4096])[i % 4096] != (uint8_t)(seed + i * 7 + (i >> 12))) return (int)i;
    return -1;
}

static void rw10(uint8_t *cdb, uint8_t op, uint32_t lba, uint16_t blocks)
{
    memset(cdb, 0, 10);
    cdb[0] = op;
    cdb[2] = lba >> 24; cdb[3] = lba >> 16; cdb[4] = lba >> 8; cdb[5] = lba;
    cdb[7] = blocks >> 8; cdb[8] = blocks;
}

static int rsp_ok(struct shadow *s, const char *what)
{
    if (s->rsp.rslt != 0) {
        pv_printf("scsifront: FAIL: %s: rslt 0x%x sense_len %u key %x", what, s->rsp.rslt, s->rsp.sense_len,
                  s->rsp.sense_len > 2 ? s->rsp.sense_buffer[2] & 15 : 0);
        status = -1;
        return 0;
    }
    return 1;
}

static int self_test(void)
{
    struct shadow *s0 = &shadows[0], *s1 = &shadows[1];
    uint8_t cdb[16];
    if (test_sent && !s0->done) return 0;
    switch (test) {
    case T_START:
        test = T_INQ;
        test_sent = 0;
        /* fall through */
    case T_INQ:
        if (!test_sent) {
            alloc_pages(s0, 1);
            memset(cdb, 0, 6); cdb[0] = 0x12; cdb[4] = 96;
            submit(0, VSCSIIF_ACT_SCSI_CDB, cdb, 6, 2, 96, 0);
#ifdef BREAK_RQID_REUSE
            submit(0, VSCSIIF_ACT_SCSI_CDB, cdb, 6, 2, 96, 0); /* broken: rqid 0 is in flight */
#endif
#ifdef BREAK_RING_OVERFLOW
            for (unsigned i = 1; i <= NR_SHADOW; i++) { /* broken: 17 requests on a 16-slot ring */
                shadows[i % NR_SHADOW].npages = 0;
                submit((uint16_t)(i % NR_SHADOW), VSCSIIF_ACT_SCSI_CDB, (const uint8_t *)"\0\0\0\0\0\0", 6, 0, 0, 0);
            }
#endif
            push();
            test_sent = 1;
            return 1;
        }
        if (!rsp_ok(s0, "INQUIRY")) return 1;
        {
            const uint8_t *d = s0->pages[0];
            char vendor[9], product[17];
            memcpy(vendor, d + 8, 8); vendor[8] = 0;
            memcpy(product, d + 16, 16); product[16] = 0;
            pv_printf("scsifront: INQUIRY %u:%u:%u: type %u, '%s' '%s'", vchn, vtgt, vlun, d[0] & 31, vendor, product);
        }
        test = T_RL; test_sent = 0;
        return 1;
    case T_RL:
        if (!test_sent) {
            alloc_pages(s0, 1);
            memset(cdb, 0, 12); cdb[0] = 0xa0; cdb[9] = 0x10; /* 4096 bytes */
            submit(0, VSCSIIF_ACT_SCSI_CDB, cdb, 12, 2, 4096, 0);
            push();
            test_sent = 1;
            return 1;
        }
        if (!rsp_ok(s0, "REPORT LUNS")) return 1;
        {
            const uint8_t *d = s0->pages[0];
            uint32_t len = (uint32_t)d[0] << 24 | d[1] << 16 | d[2] << 8 | d[3];
            pv_printf("scsifront: REPORT LUNS: %u LUN(s), first %u", len / 8, d[9]);
            if (len < 8) FAIL("REPORT LUNS lists no LUN");
        }
        test = T_TUR; test_sent = 0;
        return 1;
    case T_TUR:
        /* The first media access reports the power-on UNIT ATTENTION (06/29/00): consume it. */
        if (!test_sent) {
            s0->npages = 0;
            memset(cdb, 0, 6);
            submit(0, VSCSIIF_ACT_SCSI_CDB, cdb, 6, 0, 0, 0);
            push();
            test_sent = 1;
            return 1;
        }
        test_sent = 0;
        if (s0->rsp.rslt == 0) {
            pv_printf("scsifront: TEST UNIT READY: ready");
            /* A benchmark build (PV_REQUESTS) may run on a null device, which keeps no data. */
            test = PV_REQUESTS > 0 ? T_BENCH : T_WRITE;
        } else if (s0->rsp.sense_len > 2 && (s0->rsp.sense_buffer[2] & 15) == 6 && ++tur_tries < 4) {
            pv_printf("scsifront: TEST UNIT READY: unit attention %02x/%02x, again", s0->rsp.sense_buffer[12],
                      s0->rsp.sense_buffer[13]);
        } else {
            FAIL("TEST UNIT READY: rslt 0x%x", s0->rsp.rslt);
        }
        return 1;
    case T_WRITE:
    case T_BIG_W:
        if (test == T_BIG_W && sg_grant < BIG_PAGES) {
            /* Indirect segments only when the backend offers enough of them (feature-sg-grant). */
            pv_printf("scsifront: feature-sg-grant %u < %u: no transfer through indirect segments", sg_grant, BIG_PAGES);
            test = T_ABORT; test_sent = 0;
            return 1;
        }
        if (!test_sent) {
            uint32_t pages = test == T_WRITE ? 4 : BIG_PAGES;
            alloc_pages(s0, pages);
            fill(s0, pages * 4096, (uint8_t)(pattern_seed + test));
            rw10(cdb, 0x2a, test == T_WRITE ? 8 : 64, (uint16_t)(pages * 8));
            submit(0, VSCSIIF_ACT_SCSI_CDB, cdb, 10, 1, pages * 4096, 0);
            push();
            test_sent = 1;
            return 1;
        }
        if (!rsp_ok(s0, "WRITE(10)")) return 1;
        test++; test_sent = 0;
        return 1;
    case T_READ:
    case T_BIG_R:
        if (!test_sent) {
            uint32_t pages = test == T_READ ? 4 : BIG_PAGES;
            alloc_pages(s0, pages);
            memset(s0->pages[0], 0, 4096);
            for (uint32_t i = 0; i < pages; i++) memset(s0->pages[i], 0xee, 4096);
            rw10(cdb, 0x28, test == T_READ ? 8 : 64, (uint16_t)(pages * 8));
            submit(0, VSCSIIF_ACT_SCSI_CDB, cdb, 10, 2, pages * 4096, 0);
            push();
            test_sent = 1;
            return 1;
        }
        if (!rsp_ok(s0, "READ(10)")) return 1;
        {
            uint32_t pages = test == T_READ ? 4 : BIG_PAGES;
            int bad = check(s0, pages * 4096, (uint8_t)(pattern_seed + test - 1));
            if (bad >= 0) FAIL("READ(10) of %u pages: byte %d differs from what was written", pages, bad);
            pv_printf("scsifront: WRITE+READ %u pages (%s): data checked", pages,
                      pages > VSCSIIF_SG_TABLESIZE ? "indirect segments" : "direct segments");
        }
        test++; test_sent = 0;
        return 1;
    case T_ABORT:
        /* A READ, then an ABORT naming it: both must be answered. */
        if (!test_sent) {
            alloc_pages(s1, 8);
            rw10(cdb, 0x28, 0, 64);
            submit(1, VSCSIIF_ACT_SCSI_CDB, cdb, 10, 2, 8 * 4096, 0);
            s0->npages = 0;
            submit(0, VSCSIIF_ACT_SCSI_ABORT, cdb, 0, 0, 0, 1);
            push();
            test_sent = 1;
            return 1;
        }
        if (s1->inflight) return 0;
        pv_printf("scsifront: ABORT of rqid 1: abort rslt 0x%x, read rslt 0x%x", s0->rsp.rslt, s1->rsp.rslt);
        test = T_BENCH; test_sent = 0;
        return 1;
    case T_BENCH:
        if (test_sent) bench_done++;
        else bench_t0 = pv_time_ms();
        if (bench_left == 0) {
            test = T_DONE;
            if (bench_done) pv_printf("scsifront: bench: %u requests in %u ms", bench_done, pv_time_ms() - bench_t0);
            if (grants_still_mapped) FAIL("%u grant(s) still mapped after their responses", grants_still_mapped);
            status = 1;
            pv_printf("scsifront: self-test passed (%u benchmark requests)", bench_done);
            return 1;
        }
        bench_left--;
        alloc_pages(s0, 1);
        rw10(cdb, 0x28, 0, 8);
        submit(0, VSCSIIF_ACT_SCSI_CDB, cdb, 10, 2, 4096, 0);
        push();
        test_sent = 1;
        return 1;
    default:
        return 0;
    }
}

/* ---- the xenbus state machine ---- */

enum {
    X_INIT, X_WATCH_FE, X_WAIT_FE, X_READ_BE, X_READ_BEID, X_SETUP, X_W_REF, X_W_EVT, X_W_INITIALISED,
    X_WATCH_BE, X_WAIT_BE, X_READ_BE_STATE, X_READ_SG, X_READ_VDEV, X_W_DEV_STATE, X_W_CONNECTED,
    X_RUN, X_READ_BE_RUNNING, X_W_CLOSING, X_WAIT_CLOSED, X_READ_BE_CLOSED, X_W_CLOSED, X_GONE,
    X_W_DEV_REFUSED, X_FAILED
};
static int xstate = X_INIT;
static uint32_t be_watch_seen;

static int be_closing;      /* the backend went Closing or Closed while connected */

static int step(void)
{
    /* A failure before running (FAIL) ends the handshake once, instead of retrying every pass. */
    if (status < 0 && xstate < X_RUN && !closing) xstate = X_FAILED;
    if (closing && !issued && (xstate < X_RUN || xstate == X_FAILED)) {
        /* Shut down before connecting: nothing set up yet, or close what is. */
        xstate = xstate < X_SETUP ? X_GONE : X_W_CLOSING;
        return 1;
    }
    switch (xstate) {
    case X_INIT:
        pv_start_info(&si);
        xs_init(&xs, pv_frame_ptr(si.store_mfn), si.store_evtchn);
        pv_snprintf(fe, sizeof fe, "/local/domain/%u/device/vscsi/0", si.domid);
        pv_printf("scsifront: dom%u, %u frames (%u for the image), xenstore page frame %u port %u", si.domid,
                  si.nr_pages, si.first_free_frame, si.store_mfn, si.store_evtchn);
        xstate = X_WATCH_FE;
        return 1;
    case X_WATCH_FE:
        if (!xs_watch(fe, "fe")) return 0;
        xstate = X_WAIT_FE;
        return 1;
    case X_WAIT_FE:
        if (xs.watch_events == seen_watch) return 0;
        seen_watch = xs.watch_events;
        xstate = X_READ_BE;
        return 1;
    case X_READ_BE:
        if (!xs_rd(P(fe, "backend"))) return 0;
        if (xs_err) { xstate = X_WAIT_FE; return 1; }
        if (xs.reply_len >= sizeof be) FAIL("backend path of %u bytes (at most %u)", xs.reply_len, (unsigned)sizeof be - 1);
        memcpy(be, xs.reply, xs.reply_len + 1);
        xstate = X_READ_BEID;
        return 1;
    case X_READ_BEID: {
        if (!xs_rd(P(fe, "backend-id"))) return 0;
        int ok;
        be_id = (domid_t)pv_strtoul(xs.reply, &ok);
        if (xs_err || !ok) FAIL("backend-id unreadable");
        xstate = X_SETUP;
        return 1;
    }
    case X_SETUP: {
        ring_page = pv_page_alloc();
        if (!ring_page) FAIL("no page for the ring");
        memset(ring_page, 0, 4096);
        struct vscsiif_sring *sring = ring_page;
        SHARED_RING_INIT(sring);
        FRONT_RING_INIT(&ring, sring, 4096);
        int ref = grant(ring_page, 0);
        if (ref < 0) FAIL("cannot grant the ring page");
        ring_ref = (grant_ref_t)ref;
        if (evtchn_alloc_unbound(be_id, &port) != 0) FAIL("cannot allocate an event channel");
        xstate = X_W_REF;
        return 1;
    }
    case X_W_REF:
        if (!xs_wr(P(fe, "ring-ref"), N(ring_ref))) return 0;
        xstate = X_W_EVT;
        return 1;
    case X_W_EVT:
        if (!xs_wr(P(fe, "event-channel"), N(port))) return 0;
        xstate = X_W_INITIALISED;
        return 1;
    case X_W_INITIALISED:
        if (!xs_wr(P(fe, "state"), N(XenbusStateInitialised))) return 0;
        xstate = X_WATCH_BE;
        return 1;
    case X_WATCH_BE:
        if (!xs_watch(P(be, "state"), "be")) return 0;
        be_watch_seen = 0;
        xstate = X_WAIT_BE;
        return 1;
    case X_WAIT_BE:
        if (xs.watch_events == be_watch_seen) return 0;
        be_watch_seen = xs.watch_events;
        xstate = X_READ_BE_STATE;
        return 1;
    case X_READ_BE_STATE: {
        if (!xs_rd(P(be, "state"))) return 0;
        int ok;
        unsigned st = (unsigned)pv_strtoul(xs.reply, &ok);
        xstate = st == XenbusStateConnected ? X_READ_SG : X_WAIT_BE;
        return 1;
    }
    case X_READ_SG: {
        if (!xs_rd(P(be, "feature-sg-grant"))) return 0;
        int ok;
        /* As Linux's xenbus_read_unsigned: absent or not a number means the default, none. */
        sg_grant = xs_err ? 0 : parse_u32(xs.reply, xs.reply + xs.reply_len, 0xffffffffu, &ok);
        if (!xs_err && !ok) {
            pv_printf("scsifront: feature-sg-grant '%s' is not a number: taken as 0", xs.reply);
            sg_grant = 0;
        }
        xstate = X_READ_VDEV;
        return 1;
    }
    case X_READ_VDEV: {
        if (!xs_rd(P(be, "vscsi-devs/dev-0/v-dev"))) return 0;
        if (xs_err) FAIL("no vscsi-devs/dev-0 in %s", be);
        /* "host:channel:target:lun", each decimal and within vscsiif's 16-bit fields, nothing else
         * (Linux's scsifront_do_lun_hotplug refuses what sscanf("%u:%u:%u:%u") does not parse). */
        uint32_t v[4] = { 0 };
        unsigned i = 0;
        int ok = 1;
        const char *start = xs.reply, *end = xs.reply + xs.reply_len;
        for (const char *c = start;; c++) {
            if (c == end || *c == ':') {
                int one;
                if (i < 4) v[i] = parse_u32(start, c, 0xffff, &one);
                else one = 0;
                ok &= one;
                i++;
                if (c == end) break;
                start = c + 1;
            }
        }
        if (!ok || i != 4) {
            pv_printf("scsifront: FAIL: v-dev '%s' is not host:channel:target:lun: device refused", xs.reply);
            status = -1;
            xstate = X_W_DEV_REFUSED;
            return 1;
        }
        vchn = (uint16_t)v[1]; vtgt = (uint16_t)v[2]; vlun = (uint16_t)v[3];
        xstate = X_W_DEV_STATE;
        return 1;
    }
    case X_W_DEV_REFUSED:
        /* As Linux: the LUN's state goes Closed; the controller stays, with nothing to run. */
        if (!xs_wr(P(fe, "vscsi-devs/dev-0/state"), N(XenbusStateClosed))) return 0;
        xstate = X_FAILED;
        return 1;
    case X_W_DEV_STATE:
        if (!xs_wr(P(fe, "vscsi-devs/dev-0/state"), N(XenbusStateConnected))) return 0;
        xstate = X_W_CONNECTED;
        return 1;
    case X_W_CONNECTED:
        if (!xs_wr(P(fe, "state"), N(XenbusStateConnected))) return 0;
#ifdef BREAK_END_MAPPED
        if (!gnttab_end_access(ring_ref)) pv_printf("scsifront: (broken) ended the ring grant the backend maps");
#endif
        pv_printf("scsifront: connected to %s (dom%u), ring-ref %u, port %u, feature-sg-grant %u", be, be_id,
                  ring_ref, port, sg_grant);
        xstate = X_RUN;
#ifdef BREAK_LOOP
        /* Connected (the state write is on the xenstore ring), then never returns to pvscsi. */
        for (;;) {}
#endif
        return 1;
    case X_RUN:
        if (closing) {
            /* As Linux's scsifront_remove: go Closing; the backend answers or drops what is in flight. */
            xstate = X_W_CLOSING;
            return 1;
        }
        if (xs.watch_events != be_watch_seen && !issued) {
            be_watch_seen = xs.watch_events;
            xstate = X_READ_BE_RUNNING;
            return 1;
        }
#ifdef BREAK_TRAP
        __builtin_trap(); /* broken: an unreachable instruction */
#endif
#ifdef BREAK_OOB
        *(volatile uint32_t *)(uintptr_t)(si.nr_pages * 4096u + 64) = 1; /* broken: past the domain's memory */
#endif
        return status == 0 ? self_test() : 0;
    case X_READ_BE_RUNNING: {
        /* The backend's state changed while connected: Closing or Closed closes this end too
         * (Linux's scsifront_backend_changed); anything else is ignored. */
        if (!xs_rd(P(be, "state"))) return 0;
        int ok;
        uint32_t st = xs_err ? 0 : parse_u32(xs.reply, xs.reply + xs.reply_len, 0xff, &ok);
        if (!xs_err && ok && (st == XenbusStateClosing || st == XenbusStateClosed)) {
            pv_printf("scsifront: backend went %s: closing", st == XenbusStateClosing ? "Closing" : "Closed");
            be_closing = 1;
            xstate = X_W_CLOSING;
        } else {
            xstate = X_RUN;
        }
        return 1;
    }
    case X_W_CLOSING:
        if (!xs_wr(P(fe, "state"), N(XenbusStateClosing))) return 0;
        /* The backend already closing: read its state now rather than wait for a change. */
        xstate = be_closing ? X_READ_BE_CLOSED : X_WAIT_CLOSED;
        return 1;
    case X_WAIT_CLOSED:
        if (xs.watch_events == be_watch_seen) return 0;
        be_watch_seen = xs.watch_events;
        xstate = X_READ_BE_CLOSED;
        return 1;
    case X_READ_BE_CLOSED: {
        if (!xs_rd(P(be, "state"))) return 0;
        int ok;
        unsigned st = (unsigned)pv_strtoul(xs.reply, &ok);
        if (!xs_err && st != XenbusStateClosing && st != XenbusStateClosed) { xstate = X_WAIT_CLOSED; return 1; }
        /* The backend let go of the ring: end its grant, close the port, free the pages. */
        for (unsigned i = 0; i < NR_SHADOW; i++)
            if (shadows[i].inflight) { release(&shadows[i]); shadows[i].inflight = 0; }
        /* A backend that still maps the ring after Closing: say so once, and give the page up
         * for good (XSA-396) instead of retrying (which spun here, flooding the log). */
        if (!gnttab_end_access(ring_ref)) {
            pv_printf("scsifront: FAIL: the backend still maps the ring page after Closing: page given up");
            status = -1;
        } else {
            pv_page_free(ring_page);
        }
        evtchn_close(port);
        for (unsigned i = 0; i < NR_SHADOW; i++)
            for (uint32_t p = 0; p < MAX_PAGES; p++)
                if (shadows[i].pages[p]) { pv_page_free(shadows[i].pages[p]); shadows[i].pages[p] = 0; }
        xstate = X_W_CLOSED;
        return 1;
    }
    case X_W_CLOSED:
        if (!xs_wr(P(fe, "state"), N(XenbusStateClosed))) return 0;
        pv_printf("scsifront: closed");
        xstate = X_GONE;
        return 1;
    default:
        return 0;
    }
}

/* ---- exports ---- */

EXPORT(pv_poll) int pv_poll(void)
{
    evtchn_port_t fired[16];
    int work = 0;
    pv_evtchn_poll(fired, 16);
    for (int i = 0; i < 64; i++) {
        int w = xs_service(&xs);
        if (ring.sring && RING_HAS_UNCONSUMED_RESPONSES(&ring)) w |= take_responses();
        w |= step();
        if (!w) break;
        work = 1;
    }
    return work;
}

EXPORT(pv_status) int pv_status(void) { return xstate == X_GONE && status == 1 ? 2 : status; }
EXPORT(pv_shutdown) void pv_shutdown(void) { closing = 1; }
EXPORT(pv_closed) int pv_closed(void) { return xstate == X_GONE; }
EXPORT(pv_set_requests) void pv_set_requests(uint32_t n) { bench_left = n; }
EXPORT(pv_requests_done) uint32_t pv_requests_done(void) { return bench_done; }
