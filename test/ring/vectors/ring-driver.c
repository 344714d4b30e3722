/*
 * The C half of pvscsi's ring conformance vectors. It drives one vscsiif ring page with Xen's own
 * io/ring.h macros, both ends in one process, reading commands from stdin line by line and
 * answering each with zero or more lines and then a line holding only ".". The TypeScript driver
 * (ts-driver.ts) implements the same commands with pvscsi's ring and codecs; the tests compare the
 * two transcripts, and in mixed runs hand the page back and forth between them with load/dump.
 *
 * Requests and responses are filled from their rqid with fixed formulas, so both sides write the
 * same bytes when they agree on the layout.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* With the current interface version ring.h leaves the barriers to the includer, as Xen's own
 * tools (xenctrl.h) do. One thread here, but keep them real. */
#define xen_mb()  __sync_synchronize()
#define xen_rmb() __sync_synchronize()
#define xen_wmb() __sync_synchronize()
#include <xen/io/vscsiif.h>

#define PAGE 4096
static uint8_t page[PAGE] __attribute__((aligned(PAGE)));
static vscsiif_sring_t *s = (vscsiif_sring_t *)page;
static vscsiif_front_ring_t f;
static vscsiif_back_ring_t b;

static void hex(const char *tag, const void *p, size_t n)
{
    const uint8_t *c = p;
    printf("%s ", tag);
    for (size_t i = 0; i < n; i++) printf("%02x", c[i]);
    printf("\n");
}

static void fill_request(vscsiif_request_t *r, unsigned rqid)
{
    memset(r, 0, sizeof(*r));
    r->rqid = rqid;
    r->act = VSCSIIF_ACT_SCSI_CDB;
    r->cmd_len = 6 + rqid % 11;
    for (unsigned i = 0; i < r->cmd_len; i++) r->cmnd[i] = (rqid * 7 + i * 13) & 0xff;
    r->timeout_per_command = rqid * 3;
    r->channel = rqid % 3;
    r->id = rqid % 64;
    r->lun = rqid % 8;
    r->ref_rqid = rqid ^ 0x5a5a;
    r->sc_data_direction = rqid % 4;
    r->nr_segments = rqid % (VSCSIIF_SG_TABLESIZE + 1);
    for (unsigned i = 0; i < r->nr_segments; i++) {
        r->seg[i].gref = rqid * 1000 + i;
        r->seg[i].offset = (i * 512) % PAGE;
        r->seg[i].length = PAGE - r->seg[i].offset;
    }
}

static void fill_response(vscsiif_response_t *r, unsigned rqid)
{
    memset(r, 0, sizeof(*r));
    r->rqid = rqid;
    r->act = VSCSIIF_ACT_SCSI_CDB;
    r->sense_len = rqid % 19;
    for (unsigned i = 0; i < r->sense_len; i++) r->sense_buffer[i] = (rqid + i * 5) & 0xff;
    r->rslt = ((rqid % 21) << 16) | ((rqid * 2) & 0xff);
    r->residual_len = rqid * 37;
}

static int unhex(const char *h, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(h + 2 * i, "%2x", &v) != 1) return -1;
        out[i] = v;
    }
    return 0;
}

static unsigned *shared_field(const char *name)
{
    if (!strcmp(name, "req_prod")) return &s->req_prod;
    if (!strcmp(name, "req_event")) return &s->req_event;
    if (!strcmp(name, "rsp_prod")) return &s->rsp_prod;
    if (!strcmp(name, "rsp_event")) return &s->rsp_event;
    return NULL;
}

int main(void)
{
    static char line[2 * PAGE + 64];
    char cmd[32], arg1[32];
    unsigned long v;

    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    while (fgets(line, sizeof(line), stdin)) {
        int n = sscanf(line, "%31s %31s %lu", cmd, arg1, &v);
        if (n < 1) { printf(".\n"); fflush(stdout); continue; }
        unsigned a = n >= 2 ? (unsigned)strtoul(arg1, NULL, 0) : 0;

        if (!strcmp(cmd, "init")) {
            XEN_FRONT_RING_INIT(&f, s, PAGE);
            BACK_RING_INIT(&b, s, PAGE);
        } else if (!strcmp(cmd, "start")) {
            SHARED_RING_INIT(s);
            s->req_prod = s->rsp_prod = a;
            s->req_event = s->rsp_event = a + 1;
            FRONT_RING_ATTACH(&f, s, a, PAGE);
            BACK_RING_ATTACH(&b, s, a, PAGE);
        } else if (!strcmp(cmd, "freq")) {
            fill_request(RING_GET_REQUEST(&f, f.req_prod_pvt), a);
            f.req_prod_pvt++;
        } else if (!strcmp(cmd, "fpush")) {
            RING_PUSH_REQUESTS(&f);
        } else if (!strcmp(cmd, "fpushn")) {
            int notify;
            RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&f, notify);
            printf("notify %d\n", notify);
        } else if (!strcmp(cmd, "bconsume")) {
            RING_IDX rc = b.req_cons, rp = s->req_prod;
            xen_rmb();
            if (RING_REQUEST_PROD_OVERFLOW(&b, rp)) {
                printf("prod-overflow\n");
            } else {
                while (rc != rp) {
                    vscsiif_request_t req;
                    if (RING_REQUEST_CONS_OVERFLOW(&b, rc)) { printf("cons-overflow\n"); break; }
                    RING_COPY_REQUEST(&b, rc, &req);
                    b.req_cons = ++rc;
                    hex("req", &req, sizeof(req));
                }
            }
        } else if (!strcmp(cmd, "bresp")) {
            fill_response(RING_GET_RESPONSE(&b, b.rsp_prod_pvt), a);
            b.rsp_prod_pvt++;
        } else if (!strcmp(cmd, "bpush")) {
            RING_PUSH_RESPONSES(&b);
        } else if (!strcmp(cmd, "bpushn")) {
            int notify;
            RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&b, notify);
            printf("notify %d\n", notify);
        } else if (!strcmp(cmd, "fconsume")) {
            RING_IDX rc = f.rsp_cons, rp = s->rsp_prod;
            xen_rmb();
            if (RING_RESPONSE_PROD_OVERFLOW(&f, rp)) {
                printf("rsp-overflow\n");
            } else {
                while (rc != rp) {
                    vscsiif_response_t rsp;
                    RING_COPY_RESPONSE(&f, rc, &rsp);
                    f.rsp_cons = ++rc;
                    hex("rsp", &rsp, sizeof(rsp));
                }
            }
        } else if (!strcmp(cmd, "bfinal")) {
            int work;
            RING_FINAL_CHECK_FOR_REQUESTS(&b, work);
            printf("work %d\n", work);
        } else if (!strcmp(cmd, "ffinal")) {
            int work;
            RING_FINAL_CHECK_FOR_RESPONSES(&f, work);
            printf("work %d\n", work);
        } else if (!strcmp(cmd, "fstate")) {
            printf("free %u full %d unconsumed %u\n", RING_FREE_REQUESTS(&f), RING_FULL(&f),
                   XEN_RING_NR_UNCONSUMED_RESPONSES(&f));
        } else if (!strcmp(cmd, "bstate")) {
            printf("unconsumed %u\n", XEN_RING_NR_UNCONSUMED_REQUESTS(&b));
        } else if (!strcmp(cmd, "findices")) {
            printf("req_prod_pvt %u rsp_cons %u\n", f.req_prod_pvt, f.rsp_cons);
        } else if (!strcmp(cmd, "bindices")) {
            printf("rsp_prod_pvt %u req_cons %u\n", b.rsp_prod_pvt, b.req_cons);
        } else if (!strcmp(cmd, "sindices")) {
            printf("req_prod %u req_event %u rsp_prod %u rsp_event %u\n", s->req_prod, s->req_event,
                   s->rsp_prod, s->rsp_event);
        } else if (!strcmp(cmd, "poke")) {
            unsigned *p = n >= 3 ? shared_field(arg1) : NULL;
            if (!p) printf("error poke\n"); else *p = (unsigned)v;
        } else if (!strcmp(cmd, "bcheck")) {
            printf("prod-overflow %d cons-overflow %d\n", RING_REQUEST_PROD_OVERFLOW(&b, a),
                   RING_REQUEST_CONS_OVERFLOW(&b, a));
        } else if (!strcmp(cmd, "fcheck")) {
            printf("rsp-overflow %d\n", RING_RESPONSE_PROD_OVERFLOW(&f, a));
        } else if (!strcmp(cmd, "dump")) {
            hex("page", page, PAGE);
        } else if (!strcmp(cmd, "load")) {
            char *h = strchr(line, ' ');
            if (!h || strlen(h + 1) < 2 * PAGE || unhex(h + 1, page, PAGE)) printf("error load\n");
        } else {
            printf("error unknown %s\n", cmd);
        }
        printf(".\n");
        fflush(stdout);
    }
    return 0;
}
