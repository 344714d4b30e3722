/*
 * The smallest wasm kernel: blocking style, for a domain's worker. It reads its own name from
 * xenstore with the SDK's synchronous helpers, which sleep in pv_evtchn_wait() (Atomics.wait in
 * the worker) until xenstored answers, and logs a greeting. In single-thread mode nothing may
 * block: write pv_poll() as a state machine instead, as scsifront.c does.
 */
#include <pvwasm/xen-wasm.h>
#include <pvwasm/hypercall.h>
#include <pvwasm/runtime.h>
#include <pvwasm/xenbus.h>

static struct xs_client xs;
static int done;

__attribute__((export_name("pv_poll"))) int pv_poll(void)
{
    if (done) return 0;
    done = 1;
    struct pv_start_info si;
    char path[64], name[64];
    pv_start_info(&si);
    xs_init(&xs, pv_frame_ptr(si.store_mfn), si.store_evtchn);
    pv_snprintf(path, sizeof path, "/local/domain/%u/name", si.domid);
    if (xs_read_sync(&xs, path, name, sizeof name) < 0) {
        pv_printf("xs-hello: cannot read %s", path);
        return 1;
    }
    uint32_t t0 = pv_time_ms();
    int pending = pv_evtchn_wait(50); /* nothing is coming: sleeps about 50 ms */
    pv_printf("xs-hello: hello from %s (dom%u); an idle wait returned %d after %u ms", name, si.domid, pending,
              pv_time_ms() - t0);
    return 1;
}
