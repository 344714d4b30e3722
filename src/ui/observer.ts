import { BackendKernel } from "../system/backend-kernel.js";
import { GuestKernel } from "../system/guest-kernel.js";
import type { LocalSystem } from "../system/single-thread.js";
import { type TraceBuffer, TraceKind } from "../trace/trace-buffer.js";
import { abiDocument } from "../xen/abi-registry.js";

/**
 * What the live view draws, read from the running single-thread system between two core actions:
 * the shared ring's page and both drivers' private indices, the event channels' bits, the grant
 * table, and — from the trace recorder — notification decisions and xenbus history. Reading only:
 * an observer never changes the machine.
 */

/** The ownership of a ring slot (see {@link RingView.slots}). */
export type SlotState = "free" | "written" | "published" | "serving" | "responded" | "consumed";

/** One slot of the ring. */
export interface SlotView {
  readonly slot: number;
  readonly state: SlotState;
  /** The free-running index the slot holds now (or held last). */
  readonly index: number;
  /** rqid of the request in the slot (requests) or of the response (responses). */
  readonly rqid: number | null;
}

/** The ring of one controller: indices as raw u32 and as slot, the invariant, the slots. */
export interface RingView {
  readonly domid: number;
  readonly devid: number;
  readonly size: number;
  readonly shared: { reqProd: number; reqEvent: number; rspProd: number; rspEvent: number };
  readonly front: { reqProdPvt: number; rspCons: number };
  readonly back: { reqCons: number; rspProdPvt: number } | null;
  readonly invariant: { holds: boolean; text: string };
  readonly slots: SlotView[];
  /** The last request written, as bytes and fields (the pahole view). */
  readonly lastRequest: { index: number; slot: number; hex: string[]; fields: FieldView[] } | null;
}

/** A field of a struct over bytes. */
export interface FieldView {
  readonly name: string;
  readonly offset: number;
  readonly size: number;
  /** Little-endian value for fields of 1, 2 or 4 bytes; bytes in hex otherwise. */
  readonly value: string;
}

/** One notification decision (`RING_PUSH_*_AND_CHECK_NOTIFY`). */
export interface NotifyView {
  readonly side: "requests" | "responses";
  readonly newIdx: number;
  readonly oldIdx: number;
  readonly event: number;
  readonly sent: boolean;
  /** The test as arithmetic: `(new - event) = 1 < (new - old) = 3 → notify`. */
  readonly text: string;
}

/** An event channel port of a domain. */
export interface PortView {
  readonly domid: number;
  readonly port: number;
  readonly remote: string;
  readonly pending: boolean;
  readonly masked: boolean;
  /** This port's selector bit in the vcpu's `evtchn_pending_sel`. */
  readonly selector: boolean;
}

/** A domain's vcpu 0 as the event channel sees it. */
export interface VcpuView {
  readonly domid: number;
  readonly upcallPending: boolean;
  /** How it waits: in the single-thread system every vcpu is polled by the stepper. */
  readonly mode: "polled" | "stalled";
}

/** A grant of the guest. */
export interface GrantView {
  readonly ref: number;
  readonly grantee: number;
  readonly frame: number;
  readonly flags: string[];
  /** Read-only plus writable mappings of it right now. */
  readonly pins: number;
  /** The in-flight request holding it, or "ring" for the ring page. */
  readonly owner: string;
}

/** A xenbus state change, with what caused it. */
export interface XenbusEvent {
  readonly seq: number;
  readonly lane: "frontend" | "backend";
  readonly path: string;
  readonly kind: "write" | "watch";
  readonly state: number | null;
  readonly text: string;
}

/** Everything the page draws. */
export interface Snapshot {
  readonly seq: number;
  readonly steps: number;
  readonly running: boolean;
  readonly controllers: Array<{ domid: number; devid: number; state: string }>;
  readonly ring: RingView | null;
  readonly notify: NotifyView[];
  readonly notifyCounts: Record<"requests" | "responses", { sent: number; suppressed: number }>;
  readonly ports: PortView[];
  readonly vcpus: VcpuView[];
  readonly grants: GrantView[];
  readonly xenbus: XenbusEvent[];
  readonly log: string[];
  readonly lesson: { index: number; count: number; title: string; text: string } | null;
}

const STATE_NAMES = [
  "Unknown",
  "Initialising",
  "InitWait",
  "Initialised",
  "Connected",
  "Closing",
  "Closed",
  "Reconfiguring",
  "Reconfigured",
];

const u32 = (x: number) => x >>> 0;
const dist = (from: number, to: number) => (to - from) >>> 0;

/** Selection and history the observer keeps between snapshots. */
export class Observer {
  /** The controller shown. */
  domid = -1;
  devid = 0;
  /** Domains the stepper does not run (a stalled backend). */
  readonly stalled = new Set<number>();
  private readonly notes: NotifyView[] = [];
  private readonly counts = {
    requests: { sent: 0, suppressed: 0 },
    responses: { sent: 0, suppressed: 0 },
  };
  private readonly xenbus: XenbusEvent[] = [];
  private traceSeen = 0;
  private prevRspCons: number | null = null;
  private consumedFrom = 0;
  private consumedTo = 0;
  private xbSeq = 0;
  private readonly requestFields = abiDocument().structs.vscsiif_request!;

  constructor(
    private readonly sys: LocalSystem,
    private readonly trace: TraceBuffer,
    private readonly backendDomid = 0,
  ) {}

  /** Forget the notification and xenbus history (a new selection, a replay). */
  reset(): void {
    this.notes.length = 0;
    this.xenbus.length = 0;
    this.counts.requests = { sent: 0, suppressed: 0 };
    this.counts.responses = { sent: 0, suppressed: 0 };
    this.traceSeen = this.trace.written;
    this.prevRspCons = null;
  }

  /** Read the trace records written since the last call into the histories. */
  private absorb(): void {
    const recs = this.trace.records(this.traceSeen);
    this.traceSeen = this.trace.written;
    const feDir = `/local/domain/${this.domid}/device/vscsi/${this.devid}`;
    const beDir = `/local/domain/${this.backendDomid}/backend/vscsi/${this.domid}/${this.devid}`;
    for (const r of recs) {
      if (r.kind === TraceKind.NotifySent || r.kind === TraceKind.NotifySuppressed) {
        const front = r.c === 0;
        if (front ? r.a !== this.domid : r.a !== this.backendDomid) continue;
        if (r.b !== this.devid) continue;
        const sent = r.kind === TraceKind.NotifySent;
        const side = front ? "requests" : "responses";
        this.counts[side][sent ? "sent" : "suppressed"]++;
        const n = u32(r.d);
        const o = u32(r.e);
        const ev = u32(r.f);
        this.notes.push({
          side,
          newIdx: n,
          oldIdx: o,
          event: ev,
          sent,
          text: `(new − event) = ${dist(ev, n)} ${sent ? "<" : "≥"} (new − old) = ${dist(o, n)} → ${sent ? "notify" : "suppressed"}`,
        });
        if (this.notes.length > 12) this.notes.shift();
      } else if (r.kind === TraceKind.XenstoreWrite || r.kind === TraceKind.WatchFire) {
        const path = this.trace.string(r.b);
        const lane = path.startsWith(feDir) ? "frontend" : path.startsWith(beDir) ? "backend" : null;
        if (lane === null) continue;
        if (r.kind === TraceKind.XenstoreWrite) {
          const value = this.trace.string(r.c);
          const isState = path.endsWith("/state");
          const st = isState ? Number(value) : null;
          const rel = path.slice((lane === "frontend" ? feDir : beDir).length + 1) || ".";
          this.xenbus.push({
            seq: ++this.xbSeq,
            lane,
            path,
            kind: "write",
            state: st,
            text:
              st !== null
                ? `dom${r.a} writes ${rel} = ${value} (${STATE_NAMES[st] ?? "?"})`
                : `dom${r.a} writes ${rel} = ${value}`,
          });
        } else {
          this.xenbus.push({
            seq: ++this.xbSeq,
            lane,
            path,
            kind: "watch",
            state: null,
            text: `watch fires for dom${r.a}: ${path}`,
          });
        }
        if (this.xenbus.length > 40) this.xenbus.shift();
      }
    }
  }

  /** The view now. */
  snapshot(extra: {
    seq: number;
    steps: number;
    running: boolean;
    log: string[];
    lesson: Snapshot["lesson"];
  }): Snapshot {
    const sys = this.sys;
    const controllers: Snapshot["controllers"] = [];
    for (const d of sys.hv.domains()) {
      const k = sys.kernelOf(d.domid);
      if (!(k instanceof GuestKernel)) continue;
      for (const c of k.frontend.controllers())
        controllers.push({ domid: d.domid, devid: c.devid, state: c.state });
    }
    if (this.domid < 0 || !controllers.some((c) => c.domid === this.domid && c.devid === this.devid)) {
      const first = controllers[0];
      if (first !== undefined) {
        this.domid = first.domid;
        this.devid = first.devid;
      }
    }
    this.absorb();
    return {
      ...extra,
      controllers,
      ring: this.ringView(),
      notify: [...this.notes],
      notifyCounts: {
        requests: { ...this.counts.requests },
        responses: { ...this.counts.responses },
      },
      ports: this.portViews(),
      vcpus: this.vcpuViews(),
      grants: this.grantViews(),
      xenbus: [...this.xenbus],
    };
  }

  private frontendHost() {
    const k = this.sys.kernelOf(this.domid);
    if (!(k instanceof GuestKernel)) return null;
    return k.frontend.controllers().find((c) => c.devid === this.devid)?.host ?? null;
  }

  private ringView(): RingView | null {
    const host = this.frontendHost();
    const front = host?.frontend.ring ?? null;
    if (host === null || front === null) return null;
    const sring = front.sring;
    const back = this.backRing();
    const size = sring.size;
    const shared = {
      reqProd: u32(sring.reqProd),
      reqEvent: u32(sring.reqEvent),
      rspProd: u32(sring.rspProd),
      rspEvent: u32(sring.rspEvent),
    };
    const P = u32(front.reqProdPvt);
    const C = u32(front.rspCons);
    const RC = back ? u32(back.reqCons) : shared.reqProd;
    const BP = back ? u32(back.rspProdPvt) : shared.rspProd;
    if (this.prevRspCons !== null && this.prevRspCons !== C) {
      this.consumedFrom = this.prevRspCons;
      this.consumedTo = C;
    }
    this.prevRspCons = C;
    // rsp_cons ≤ rsp_prod ≤ rsp_prod_pvt ≤ req_cons ≤ req_prod ≤ req_prod_pvt ≤ rsp_cons + size,
    // as u32 distances from rsp_cons (so it survives the wrap at 2^32).
    const chain = [
      ["rsp_cons", C],
      ["rsp_prod", shared.rspProd],
      ["rsp_prod_pvt", BP],
      ["req_cons", RC],
      ["req_prod", shared.reqProd],
      ["req_prod_pvt", P],
    ] as const;
    let holds = true;
    for (let i = 1; i < chain.length; i++)
      if (dist(C, chain[i - 1]![1]) > dist(C, chain[i]![1])) holds = false;
    if (dist(C, P) > size) holds = false;
    const text = `${chain.map(([n, v]) => `${n} ${dist(C, v)}`).join(" ≤ ")} ≤ ${size}  (distances from rsp_cons, mod 2³²)`;

    const mask = size - 1;
    const bytes = sring.bytes;
    const slots: SlotView[] = [];
    for (let s = 0; s < size; s++) slots.push({ slot: s, state: "free", index: 0, rqid: null });
    const readRqid = (idx: number) => {
      const off = sring.slotOffset(idx);
      return bytes[off]! | (bytes[off + 1]! << 8);
    };
    const consumedSpan = dist(this.consumedFrom, this.consumedTo);
    if (consumedSpan <= size) {
      for (let k = 0; k < consumedSpan; k++) {
        const i = u32(this.consumedFrom + k);
        if (dist(i, C) === 0 || dist(i, C) > size) continue;
        slots[i & mask] = { slot: i & mask, state: "consumed", index: i, rqid: readRqid(i) };
      }
    }
    const n = dist(C, P);
    for (let k = 0; k < Math.min(n, size); k++) {
      const i = u32(C + k);
      const d = k;
      let state: SlotState;
      if (d >= dist(C, shared.reqProd)) state = "written";
      else if (d >= dist(C, RC)) state = "published";
      else if (d >= dist(C, shared.rspProd)) state = "serving";
      else state = "responded";
      slots[i & mask] = { slot: i & mask, state, index: i, rqid: readRqid(i) };
    }

    let lastRequest: RingView["lastRequest"] = null;
    if (P !== 0 || C !== 0 || shared.reqProd !== 0) {
      const idx = u32(P - 1);
      const off = sring.slotOffset(idx);
      const hex: string[] = [];
      for (let b = 0; b < sring.entrySize; b++) hex.push(bytes[off + b]!.toString(16).padStart(2, "0"));
      const fields: FieldView[] = [];
      for (const [name, f] of Object.entries(this.requestFields.fields)) {
        let value: string;
        if (f.size === 1 || f.size === 2 || f.size === 4) {
          let v = 0;
          for (let b = f.size - 1; b >= 0; b--) v = v * 256 + bytes[off + f.offset + b]!;
          value = String(v);
        } else {
          const shown = Math.min(f.size, 16);
          value = hex.slice(f.offset, f.offset + shown).join(" ") + (f.size > shown ? " …" : "");
        }
        fields.push({ name, offset: f.offset, size: f.size, value });
      }
      lastRequest = { index: idx, slot: idx & mask, hex, fields };
    }
    return {
      domid: this.domid,
      devid: this.devid,
      size,
      shared,
      front: { reqProdPvt: P, rspCons: C },
      back: back ? { reqCons: RC, rspProdPvt: BP } : null,
      invariant: { holds, text },
      slots,
      lastRequest,
    };
  }

  private backRing() {
    const k = this.sys.kernelOf(this.backendDomid);
    if (!(k instanceof BackendKernel)) return null;
    return k.backend.vhostOf(this.domid, this.devid)?.ring ?? null;
  }

  private portViews(): PortView[] {
    const out: PortView[] = [];
    for (const domid of [this.domid, this.backendDomid]) {
      const k = this.sys.kernelOf(domid);
      if (k === undefined) continue;
      const ev = k.ctx.evtchn;
      const v = ev.self;
      const selBase = v.layout.evtchn.vcpus + 1;
      for (const p of this.sys.hv.report(domid).boundPorts) {
        if (p.vcpu !== 0) continue; // xenstored's vcpu 1 in dom0
        const sel = Atomics.load(v.sharedInfo, selBase + (p.port >>> 10));
        out.push({
          domid,
          port: p.port,
          remote:
            p.remotePort === null
              ? `unbound (for dom${p.remoteDomid})`
              : `dom${p.remoteDomid}:${p.remotePort}`,
          pending: ev.isPending(p.port),
          masked: ev.isMasked(p.port),
          selector: (sel & (1 << ((p.port >>> 5) & 31))) !== 0,
        });
      }
    }
    return out;
  }

  private vcpuViews(): VcpuView[] {
    const out: VcpuView[] = [];
    for (const domid of [this.domid, this.backendDomid]) {
      const k = this.sys.kernelOf(domid);
      if (k === undefined) continue;
      out.push({
        domid,
        upcallPending: k.ctx.evtchn.upcallPending(),
        mode: this.stalled.has(domid) ? "stalled" : "polled",
      });
    }
    return out;
  }

  private grantViews(): GrantView[] {
    if (this.domid < 0) return [];
    let r: ReturnType<LocalSystem["hv"]["report"]>;
    try {
      r = this.sys.hv.report(this.domid);
    } catch {
      return [];
    }
    const host = this.frontendHost();
    const owners = new Map<number, string>();
    if (host !== null)
      for (let rq = 0; rq < 64; rq++)
        for (const ref of host.frontend.grantsOf(rq)) owners.set(ref, `rqid ${rq}`);
    const pins = new Map(r.mappedGrants.map((m) => [m.ref, m]));
    const out: GrantView[] = [];
    for (const g of r.liveGrants) {
      const m = pins.get(g.ref);
      const flags = ["permit_access"];
      if (g.readonly) flags.push("readonly");
      if (m !== undefined && m.pins > 0) flags.push("reading");
      if (m !== undefined && m.writablePins > 0) flags.push("writing");
      out.push({
        ref: g.ref,
        grantee: g.grantee,
        frame: g.frame,
        flags,
        pins: m === undefined ? 0 : m.pins,
        owner: owners.get(g.ref) ?? "ring page",
      });
    }
    return out;
  }
}
