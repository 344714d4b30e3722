/**
 * A hostile backend against a WebAssembly frontend driver (xl's `kernel = "front.wasm"`, e.g.
 * examples/c/scsifront.c): the single-thread system boots the module as a guest's kernel, and
 * dom0 plays its backend by hand — the controller's xenstore nodes (optionally with garbage
 * values), the ring mapped and answered by a {@link HostileBack} with the attack classes given.
 * The module is pumped one `pv_poll()` at a time. The report says whether it trapped, what it
 * logged and reported (`pv_status()`), what pvscsi's protocol checker saw it do on its ring, and
 * whether any frame it never held changed (a write outside its own memory). Deterministic for
 * a given module, seed and attack list.
 * @module
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DomainContext } from "../hypervisor/context.js";
import { SharedRing } from "../ring/shared-ring.js";
import type { MappedFrame } from "../scsiback/ports.js";
import { LocalSystem } from "../system/single-thread.js";
import { WasmGuestKernel } from "../system/wasm-guest-kernel.js";
import { Host } from "../toolstack/host.js";
import { DMA_FROM_DEVICE, VSCSIIF_ACT_SCSI_CDB, VSCSIIF_SG_GRANT } from "../vscsiif/constants.js";
import type { VscsiifRequest } from "../vscsiif/request.js";
import type { VscsiifResponse } from "../vscsiif/response.js";
import type { WasmFault } from "../wasm/kernel.js";
import { VSCSIIF_ENTRY_SIZE } from "../xen/vscsiif-layout.js";
import { XenbusState } from "../xenbus/state.js";
import { Chooser } from "./chooser.js";
import { type BackAttackClass, HostileBack } from "./hostile.js";

/**
 * Garbage a hostile backend writes in its own xenstore directory, which the frontend reads:
 * - `garbage-sg-grant`: `feature-sg-grant` not a number, negative, or beyond 2³²;
 * - `garbage-v-dev`: `vscsi-devs/dev-0/v-dev` not `h:c:t:l` (letters, missing fields, huge numbers);
 * - `garbage-state`: the backend's `state` not a number, or a state that does not exist;
 * - `state-out-of-order`: Closing, then Closed, then Connected again while the frontend runs.
 */
export type XenstoreAttack = "garbage-sg-grant" | "garbage-v-dev" | "garbage-state" | "state-out-of-order";

/** Every xenstore attack, in the order the docs list them. */
export const XENSTORE_ATTACKS: readonly XenstoreAttack[] = [
  "garbage-sg-grant",
  "garbage-v-dev",
  "garbage-state",
  "state-out-of-order",
];

/** Options of {@link attackWasmFrontend}. */
export interface WasmAttackOptions {
  /** Path of the frontend module (`.wasm`). */
  readonly kernelPath: string;
  /** Ring attacks of the hostile backend (empty: an honest backend that answers GOOD). */
  readonly attacks: readonly BackAttackClass[];
  /** One xenstore attack, or none. */
  readonly xenstore?: XenstoreAttack;
  readonly seed: number;
  /** Core steps to run (each one xenstored pass, event delivery or `pv_poll()`; default 3000). */
  readonly steps?: number;
  /** The guest's memory in MiB (default 4). */
  readonly memoryMiB?: number;
  /** More READs after the self-test, through the module's `pv_set_requests` if it has one (default 24). */
  readonly requests?: number;
  /**
   * Requests answered honestly before the attacks start (default: drawn from the seed in
   * [0, 32), so seeds meet the driver at different points: handshake, data, indirect, ABORT).
   */
  readonly attackAfter?: number;
}

/** What the attack found. */
export interface WasmAttackReport {
  /** The module trapped or made a malformed hypercall (pvscsi stopped it), or null. */
  readonly fault: WasmFault | null;
  /** `pv_status()` at the end (null once faulted or when not exported). */
  readonly status: number | null;
  /** The driver's own log. */
  readonly log: readonly string[];
  /** What the hostile backend did, one line per service pass that did something. */
  readonly did: readonly string[];
  /** The frontend reached Connected in xenstore. */
  readonly connected: boolean;
  /** Requests the frontend put on the ring. */
  readonly requests: number;
  /** What pvscsi's vscsiif protocol checker saw the module do wrong on its ring. */
  readonly violations: readonly string[];
  /** Frames the module never held (sampled after each step) whose bytes changed. */
  readonly strayWrites: readonly number[];
  /** The module still worked on every step once the backend had gone quiet (a livelock). */
  readonly spinning: boolean;
}

const BACKEND_ROOT = "/local/domain/0/backend/vscsi-hostile";
/** Most core steps one attacker xenstore operation may take. */
const DRIVE_STEPS = 20_000;
/** Steps with the backend quiet at the end, to tell an idle driver from a spinning one. */
const SPIN_STEPS = 300;

/** Boot `kernelPath` as a guest's kernel and attack it as its backend; see {@link WasmAttackReport}. */
export async function attackWasmFrontend(o: WasmAttackOptions): Promise<WasmAttackReport> {
  const c = Chooser.seeded(o.seed);
  const attackAfter = o.attackAfter ?? c.pick(32);
  const dir = mkdtempSync(join(tmpdir(), "pvscsi-wasm-attack-"));
  const cfg = join(dir, "front.cfg");
  const text = `name = "front"\nmemory = ${o.memoryMiB ?? 4}\nkernel = "${o.kernelPath}"\n`;
  writeFileSync(cfg, text);
  const sys = await LocalSystem.start({ runLimitMs: 60_000 });
  const host = new Host(sys);
  const did: string[] = [];
  /**
   * Await `p` (a xenstore operation of the attacker) one core step at a time, so a guest that
   * never stops working cannot hold the machine (LocalSystem.run would settle forever).
   */
  const drive = async <T>(p: Promise<T>): Promise<T> => {
    let done = false;
    let value: T | undefined;
    let error: unknown = null;
    p.then(
      (v) => {
        done = true;
        value = v;
      },
      (e: unknown) => {
        done = true;
        error = e ?? new Error("rejected");
      },
    );
    for (let i = 0; i < DRIVE_STEPS && !done; i++) await sys.step();
    if (!done) throw new Error(`a xenstore operation did not finish in ${DRIVE_STEPS} steps`);
    if (error !== null) throw error;
    return value as T;
  };
  let connected = false;
  let requests = 0;
  try {
    const { domid } = await sys.run(host.create(text, cfg));
    const kernel = sys.kernelOf(domid);
    if (!(kernel instanceof WasmGuestKernel)) throw new Error("the domain's kernel is not a wasm module");
    const fe = `/local/domain/${domid}/device/vscsi/0`;
    const be = `${BACKEND_ROOT}/${domid}/0`;
    kernel.wasm.exportedFunction("pv_set_requests")?.(o.requests ?? 24);
    const gctx = kernel.ctx;
    const before = gctx.memory.slice();
    const held = new Uint8Array(gctx.view.frames);
    const image = kernel.wasm.image.imageFrames;
    const sample = () => {
      for (let f = image; f < held.length; f++) if (gctx.frames.isAllocated(f)) held[f] = 1;
    };
    sample();
    const xsAttack = o.xenstore;
    const sg =
      xsAttack === "garbage-sg-grant"
        ? pickOf(c, ["x", "-1", "4294967296", "99999999999999999999", ""])
        : "128";
    const vdev =
      xsAttack === "garbage-v-dev"
        ? pickOf(c, [
            "a:b:c:d",
            "0:0",
            "4294967295:4294967295:4294967295:4294967295",
            "::::::::",
            "0:0:0:0:0:0",
            "-1:-1:-1:-1",
          ])
        : "0:0:0:0";
    await drive(
      sys.xs.transaction(async (tx) => {
        await tx.mkdir(be);
        await tx.setPerms(be, ["n0", `r${domid}`]);
        await tx.mkdir(fe);
        await tx.setPerms(fe, [`n${domid}`, "r0"]);
        await tx.write(`${be}/frontend`, fe);
        await tx.write(`${be}/frontend-id`, String(domid));
        await tx.write(`${be}/feature-sg-grant`, sg);
        await tx.write(`${be}/vscsi-devs/dev-0/p-dev`, "hostile");
        await tx.write(`${be}/vscsi-devs/dev-0/v-dev`, vdev);
        await tx.write(`${be}/vscsi-devs/dev-0/state`, String(XenbusState.Initialising));
        await tx.write(`${be}/state`, String(XenbusState.InitWait));
        await tx.write(`${fe}/backend`, be);
        await tx.write(`${fe}/backend-id`, "0");
        await tx.write(`${fe}/state`, String(XenbusState.Initialising));
      }),
    );
    const ctx = sys.backendCtx;
    const handles: number[] = [];
    let hostile: HostileBack | null = null;
    let ringHandle = -1;
    let port = -1;
    let outOfOrder = 0;
    const steps = o.steps ?? 3000;
    for (let i = 0; i < steps; i++) {
      await sys.step();
      sample();
      if (hostile === null) {
        const st = await drive(sys.xs.tryRead(`${fe}/state`));
        if (st !== String(XenbusState.Initialised)) continue;
        const ref = Number(await drive(sys.xs.tryRead(`${fe}/ring-ref`)));
        const remotePort = Number(await drive(sys.xs.tryRead(`${fe}/event-channel`)));
        ringHandle = ctx.mapper.map(domid, ref, false);
        if (ringHandle < 0) throw new Error(`the frontend's ring-ref ${ref} does not map (${ringHandle})`);
        port = ctx.evtchn.bindInterdomain(domid, remotePort);
        const mem = ctx.mapper.mappedMemory(ringHandle);
        const sring = new SharedRing(
          mem.buffer,
          mem.byteOffset + ctx.mapper.mappedOffset(ringHandle),
          4096,
          VSCSIIF_ENTRY_SIZE,
        );
        hostile = new HostileBack(
          sring,
          {
            // Kept mapped on purpose (the keep-mapped attack); unmapped at teardown.
            map: (gref: number, readonly: boolean, out: MappedFrame) => {
              const h = ctx.mapper.map(domid, gref, readonly);
              if (h < 0) return h;
              handles.push(h);
              out.mem = ctx.mapper.mappedMemory(h);
              out.base = ctx.mapper.mappedOffset(h);
              out.handle = h;
              return 0;
            },
          },
          () => ctx.evtchn.send(port),
          honestDisk(ctx, domid),
        );
        const state =
          xsAttack === "garbage-state"
            ? pickOf(c, ["connected", "-4", "99", "4x", ""])
            : String(XenbusState.Connected);
        await drive(sys.xs.write(`${be}/vscsi-devs/dev-0/state`, String(XenbusState.Connected)));
        await drive(sys.xs.write(`${be}/state`, state));
        did.push(`ring-ref ${ref} mapped, port ${remotePort} bound, backend state '${state}'`);
        continue;
      }
      if (!connected)
        connected = (await drive(sys.xs.tryRead(`${fe}/state`))) === String(XenbusState.Connected);
      if (xsAttack === "state-out-of-order" && connected && outOfOrder < 3 && c.pick(40) === 0) {
        const next = [XenbusState.Closing, XenbusState.Closed, XenbusState.Connected][outOfOrder++]!;
        await drive(sys.xs.write(`${be}/state`, String(next)));
        did.push(`backend state ${next}`);
      }
      const pushed = (hostile.sring.reqProd - hostile.back.reqCons) >>> 0;
      if (pushed === 0 || pushed > 64) continue;
      const line = hostile.service(requests < attackAfter ? [] : o.attacks, c);
      requests += pushed;
      if (line !== "") did.push(line);
    }
    // Then the backend goes quiet: a driver with nothing left to do must stop working.
    let busySteps = 0;
    for (let i = 0; i < SPIN_STEPS; i++) {
      const r = await sys.step();
      if (r !== null && r.domid === domid && r.work > 0) busySteps++;
    }
    const spinning = busySteps === SPIN_STEPS;
    const log = [...kernel.log];
    const fault = kernel.wasm.fault;
    const status = kernel.wasm.status();
    const violations = kernel.wasm.violations.map((v) => v.message);
    const strayWrites: number[] = [];
    const after = gctx.memory;
    for (let f = image; f < held.length; f++) {
      if (held[f] === 1) continue;
      const a = f * 4096;
      for (let b = a; b < a + 4096; b++) {
        if (after[b] !== before[b]) {
          strayWrites.push(f);
          break;
        }
      }
    }
    // Let go of what the attacker holds, so the domain can be destroyed cleanly.
    for (const h of handles) ctx.mapper.unmap(h);
    if (port > 0) ctx.evtchn.close(port);
    if (ringHandle >= 0) ctx.mapper.unmap(ringHandle);
    await drive(sys.xs.rm(`${BACKEND_ROOT}/${domid}`)).catch(() => undefined);
    await sys.run(host.destroy("front")).catch(() => undefined);
    return { fault, status, log, did, connected, requests, violations, strayWrites, spinning };
  } finally {
    await sys.run(host.shutdown()).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The honest third of the hostile backend's answers: a small disk (2,048 blocks of 512 bytes)
 * answering INQUIRY, REPORT LUNS, TEST UNIT READY, READ(10) and WRITE(10) through the request's
 * grants (direct or indirect segments), ABORT and RESET with SUCCESS, anything else ILLEGAL
 * REQUEST — so a driver's self-test gets far enough for the attacks to meet every path.
 */
function honestDisk(ctx: DomainContext, domid: number): (req: VscsiifRequest, rsp: VscsiifResponse) => void {
  const store = new Uint8Array(2048 * 512);
  const segs: Array<[number, number, number]> = [];
  const inquiry = new Uint8Array(36);
  inquiry.set([0, 0, 6, 2, 31]);
  inquiry.set(new TextEncoder().encode("PVSCSI  HOSTILE BACKEND 0001"), 8);
  const reportLuns = Uint8Array.of(0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  /** The data segments: direct, or read from the indirect pages; false when one does not map. */
  const collect = (req: VscsiifRequest): boolean => {
    segs.length = 0;
    const n = req.nrSegments;
    if ((n & VSCSIIF_SG_GRANT) === 0) {
      for (let i = 0; i < Math.min(n, 26); i++)
        segs.push([req.segGref(i), req.segOffset(i), req.segLength(i)]);
      return true;
    }
    for (let d = 0; d < Math.min(n & ~VSCSIIF_SG_GRANT, 26); d++) {
      const h = ctx.mapper.map(domid, req.segGref(d), true);
      if (h < 0) return false;
      const m = ctx.mapper.mappedMemory(h);
      const at = ctx.mapper.mappedOffset(h) + req.segOffset(d);
      for (let k = 0; k + 8 <= Math.min(req.segLength(d), 4096 - req.segOffset(d)); k += 8) {
        const e = at + k;
        const gref = (m[e]! | (m[e + 1]! << 8) | (m[e + 2]! << 16) | (m[e + 3]! << 24)) >>> 0;
        segs.push([gref, m[e + 4]! | (m[e + 5]! << 8), m[e + 6]! | (m[e + 7]! << 8)]);
      }
      ctx.mapper.unmap(h);
    }
    return true;
  };
  /** Move `len` bytes between `buf` at `from` and the segments; false when a grant does not map. */
  const move = (toGuest: boolean, buf: Uint8Array, from: number, len: number): boolean => {
    let done = 0;
    for (const [gref, off, slen] of segs) {
      if (done >= len) break;
      const h = ctx.mapper.map(domid, gref, !toGuest);
      if (h < 0) return false;
      const m = ctx.mapper.mappedMemory(h);
      const at = ctx.mapper.mappedOffset(h) + Math.min(off, 4096);
      const n = Math.min(slen, 4096 - Math.min(off, 4096), len - done, buf.length - from - done);
      if (n > 0) {
        if (toGuest) m.set(buf.subarray(from + done, from + done + n), at);
        else buf.set(m.subarray(at, at + n), from + done);
        done += n;
      }
      ctx.mapper.unmap(h);
    }
    return true;
  };
  const DID_ERROR = 0x07 << 16;
  return (req, rsp) => {
    if (req.act !== VSCSIIF_ACT_SCSI_CDB) {
      rsp.rslt = 0x2002; // SUCCESS for ABORT and RESET
      return;
    }
    if (!collect(req)) {
      rsp.rslt = DID_ERROR;
      return;
    }
    const c = req.cmnd;
    const lba = ((c[2]! << 24) | (c[3]! << 16) | (c[4]! << 8) | c[5]!) >>> 0;
    const bytes = ((c[7]! << 8) | c[8]!) * 512;
    let ok = true;
    switch (c[0]) {
      case 0x12:
        ok = req.scDataDirection === DMA_FROM_DEVICE && move(true, inquiry, 0, Math.min(c[4]!, 36));
        break;
      case 0xa0:
        ok = move(true, reportLuns, 0, reportLuns.length);
        break;
      case 0x00:
        break;
      case 0x28:
      case 0x2a:
        if (lba * 512 + bytes > store.length) {
          rsp.rslt = 2; // CHECK CONDITION, ILLEGAL REQUEST / LBA OUT OF RANGE
          rsp.setSense(Uint8Array.of(0x70, 0, 5, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x21, 0), 14);
          return;
        }
        ok = move(c[0] === 0x28, store, lba * 512, bytes);
        break;
      default:
        rsp.rslt = 2; // INVALID COMMAND OPERATION CODE
        rsp.setSense(Uint8Array.of(0x70, 0, 5, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x20, 0), 14);
        return;
    }
    if (!ok) rsp.rslt = DID_ERROR;
  };
}

function pickOf<T>(c: Chooser, xs: readonly T[]): T {
  return xs[c.pick(xs.length)]!;
}
