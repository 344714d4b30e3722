import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { blockOnUpcall, sleepOnUpcall } from "../../src/evtchn/index.js";
import { Hypervisor } from "../../src/hypervisor/index.js";
import { LocalSystem } from "../../src/system/single-thread.js";
import { Host } from "../../src/toolstack/host.js";

/**
 * A sender sets Xen's bits as always but calls Atomics.notify only for a vcpu whose blocked flag
 * says it may sleep. Deterministic, in one thread: a waiter that did not announce itself is still
 * waiting after a send (our own notify finds it), one that did was woken by the send (our notify
 * finds nobody). And the single-thread system, where nobody ever sleeps, never notifies at all.
 */
function pair() {
  const hv = new Hypervisor();
  hv.createDomain({ domid: 0, name: "dom0", frames: 1 });
  const guest = hv.createDomain({ name: "guest", frames: 1 });
  const back = hv.context(0);
  const front = hv.context(guest.domid);
  const fport = front.evtchn.allocUnbound(0);
  const bport = back.evtchn.bindInterdomain(guest.domid, fport);
  const out = new Int32Array(front.evtchn.maxPorts);
  back.evtchn.collect(out);
  front.evtchn.collect(out);
  return { back, front, fport, bport, out };
}

describe("wake-ups only for a vcpu that may sleep", () => {
  it("a send to a running vcpu sets the bits and wakes nobody", async () => {
    const { back, front, fport, bport, out } = pair();
    const ev = front.evtchn;
    // A waiter that did not say it sleeps (blocked flag 0).
    const w = Atomics.waitAsync(ev.waitArray, ev.waitIndex, 0);
    expect(w.async).toBe(true);
    expect(back.evtchn.send(bport)).toBe(0);
    expect(ev.upcallPending()).toBe(true);
    expect(ev.isPending(fport)).toBe(true);
    // Still waiting: the send did not notify it; release it ourselves.
    expect(Atomics.notify(ev.waitArray, ev.waitIndex)).toBe(1);
    expect(await w.value).toBe("ok");
    expect(ev.collect(out)).toBe(1);
    expect(out[0]).toBe(fport);
  });

  it("a send to a vcpu that announced its sleep wakes it", async () => {
    const { back, front, bport, out } = pair();
    const ev = front.evtchn;
    const sleeping = sleepOnUpcall(ev);
    expect(Atomics.load(ev.blockArray, ev.blockIndex)).toBe(1);
    expect(back.evtchn.send(bport)).toBe(0);
    // The send took the waiter off the list already.
    expect(Atomics.notify(ev.waitArray, ev.waitIndex)).toBe(0);
    await sleeping;
    expect(Atomics.load(ev.blockArray, ev.blockIndex)).toBe(0);
    expect(ev.collect(out)).toBe(1);
  });

  it("a second send before the vcpu collects neither notifies nor raises anything again", async () => {
    const { back, front, bport } = pair();
    const ev = front.evtchn;
    expect(back.evtchn.send(bport)).toBe(0);
    // Announced, but the upcall is already pending: the final check sees it and no sleep happens.
    expect(blockOnUpcall(ev, 10_000)).toBe("not-equal");
    expect(Atomics.load(ev.blockArray, ev.blockIndex)).toBe(0);
  });

  it("kick() and a control call in transit wake an announced sleeper, and the count goes back to 0", async () => {
    const { front } = pair();
    const ev = front.evtchn;
    const sleeping = sleepOnUpcall(ev);
    ev.beginCall();
    expect(ev.callsInTransit()).toBe(1);
    expect(Atomics.notify(ev.waitArray, ev.waitIndex)).toBe(0);
    await sleeping;
    ev.endCall();
    expect(ev.callsInTransit()).toBe(0);
  });

  it("the blocked flag and the call count live in the hypervisor-private buffer, one cache line per vcpu", () => {
    const hv = new Hypervisor();
    const d = hv.createDomain({ name: "two", frames: 1, vcpus: 2 });
    const v0 = hv.context(d.domid, { vcpu: 0 }).evtchn;
    const v1 = hv.context(d.domid, { vcpu: 1 }).evtchn;
    expect(v0.blockArray.buffer).not.toBe(v0.waitArray.buffer);
    expect(v1.blockIndex - v0.blockIndex).toBe(16);
  });
});

describe("the single-thread system never sleeps, so it never notifies", () => {
  let dir: string | undefined;
  const notify = Atomics.notify;
  afterEach(() => {
    Atomics.notify = notify;
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it("moves data through a guest's dd with no Atomics.notify at all", async () => {
    dir = mkdtempSync(join(tmpdir(), "pvscsi-wake-"));
    const sys = await LocalSystem.start({
      hostConfig: { text: "[disk 0:0:0:0]\nsize = 8M\n", source: "wake.conf", baseDir: dir },
    });
    const host = new Host(sys);
    try {
      await sys.run(host.create(`name = "w"\nvscsi = [ '/dev/sda,0:0:0:0' ]\n`, "w.cfg"));
      let notifies = 0;
      Atomics.notify = (a, i, c) => {
        notifies++;
        return notify(a as Int32Array, i, c);
      };
      const w = await sys.run(
        host.guestCommand("w", ["dd", "of=/dev/sda", "if=pattern:7", "bs=4k", "count=256"]),
      );
      expect(w.exitCode, w.stderr).toBe(0);
      const r = await sys.run(
        host.guestCommand("w", ["dd", "if=/dev/sda", "bs=4k", "count=256", "status=hash"]),
      );
      expect(r.exitCode, r.stderr).toBe(0);
      Atomics.notify = notify;
      const [vhost] = await sys.run(host.backendReport());
      expect(vhost!.stats.responses).toBeGreaterThanOrEqual(512);
      // Hundreds of events were sent, each setting Xen's bits; not one needed a wake-up.
      expect(vhost!.stats.notifies).toBeGreaterThan(0);
      expect(notifies).toBe(0);
      const hw = /sha256 ([0-9a-f]{64})/.exec(r.stdout)?.[1];
      expect(hw).toBeDefined();
    } finally {
      Atomics.notify = notify;
      await sys.run(host.shutdown());
    }
  });
});
