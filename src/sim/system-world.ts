/**
 * The whole-system simulator: pvscsi's single-thread system ({@link LocalSystem}) with the
 * toolstack ({@link Host}) over it, every action a step of one seeded scheduler. A step is one of:
 * xenstored processing a queued pass (a message, a watch event), xenstored's vcpu taking its
 * events, a vcpu servicing its events (xenstore replies and watches, ring notifications), a
 * driver servicing its pending rings (scsiback, scsifront), a disk delivering a completion it
 * holds (any of them: out of order), a virtual timer firing (the toolstack's timeouts), a guest
 * submitting a verified READ or WRITE, a toolstack operation starting (`xl create`,
 * `xl scsi-attach`, `xl scsi-detach`, `xl destroy`), or a fault. After each step the promise
 * callbacks it released run to completion (the toolstack's and the xenbus drivers' async code),
 * virtual time moves on a millisecond, and the invariants are checked. Nothing real is waited
 * for: no timer, no I/O, so a run is a pure function of (scenario, seed).
 * @module
 */

import type { GuestScsiDevice } from "../guest/midlayer.js";
import { Frontend } from "../scsifront/frontend.js";
import type { ScsiResult } from "../scsifront/scsi-host.js";
import { BackendKernel } from "../system/backend-kernel.js";
import { GuestKernel } from "../system/guest-kernel.js";
import type { ReadyStep } from "../system/single-thread.js";
import { LocalSystem } from "../system/single-thread.js";
import { Host } from "../toolstack/host.js";
import { removeController } from "../toolstack/vscsi-nodes.js";
import { GNTTAB_RESERVED_CONSOLE, GNTTAB_RESERVED_XENSTORE } from "../xen/grant-constants.js";
import type { XenstoreClient, XsOps } from "../xenstore/client.js";
import type { DumpNode } from "../xenstore/dump.js";
import type { Chooser } from "./chooser.js";
import { GatedDisk } from "./gated-disk.js";
import type { SystemScenario } from "./system-scenario.js";
import { VirtualClock } from "./virtual-clock.js";

/** The whole-system invariants, by the names docs/sim.md states them under. */
export type SystemInvariant =
  | "no-crash"
  | "read-back"
  | "allowed-result"
  | "toolstack"
  | "liveness"
  | "cleanup";

/** A whole-system invariant that failed. */
export class SystemViolation extends Error {
  override readonly name = "SystemViolation";
  constructor(
    readonly invariant: SystemInvariant,
    readonly detail: string,
    readonly step: number,
  ) {
    super(`${invariant} at step ${step}: ${detail}`);
  }
}

/** What a run did, for the summary. */
export interface SystemWorldStats {
  steps: number;
  virtualMs: number;
  xenstoredPasses: number;
  eventDeliveries: number;
  ringPasses: number;
  diskCompletions: number;
  timersFired: number;
  ioSubmitted: number;
  ioCompleted: number;
  ioFailed: number;
  toolstackOps: number;
  toolstackFailed: number;
  eagainInjected: number;
  hostileWrites: number;
  /**
   * Grants a guest whose backend nodes got garbage still had live when destroyed (its own only:
   * nothing mapped by another domain, no port), counted instead of failing `cleanup`.
   */
  grantsLeftAfterClose: number;
  /**
   * Grants of a guest fed xenbus garbage still mapped by its backend when `xl destroy` freed it
   * (libxl's removal timed out); the final checks require they were let go.
   */
  mappedAtDestroy: number;
  /** xenbus errors (`…/error/…/error` nodes) the drivers had recorded when a guest was destroyed. */
  xenbusErrors: number;
  /** `backend-crash`: dom0's scsiback unbound from a guest's controller under I/O. */
  backendCrashes: number;
  /** ...and restarted: bound again, the controller re-created by the toolstack. */
  backendRestarts: number;
  /** Commands that failed because of a backend crash (in flight at it, or submitted before the guest saw it). */
  ioFailedByCrash: number;
  /** GOOD commands a guest submitted after its backend was restarted (liveness after a restart). */
  ioAfterRestart: number;
}

const BLOCK = 512;
/** Steps an honest guest's command may stay in flight before liveness fails. */
const LIVENESS_STEPS = 4000;
/** Garbage a hostile peer writes where a xenbus state belongs. */
const BAD_STATES = [
  "0",
  "1",
  "2",
  "3",
  "4",
  "5",
  "6",
  "7",
  "8",
  "9",
  "-1",
  "abc",
  "",
  "4294967300",
  " 4",
  "0x4",
];
/** Garbage for numeric nodes (ring-ref, event-channel, feature-sg-grant). */
const BAD_NUMBERS = ["-1", "0", "x", "", "99999999", "1e3", "8", "65536"];
/** Garbage for `v-dev` and `p-dev`. */
const BAD_HCTLS = ["x", "0:0:0", "9:9:9:9:9", "-1:0:0:0", "0:0:0:99999", ""];

interface LunState {
  readonly lun: number;
  readonly pdev: string;
  readonly disk: GatedDisk;
  attached: boolean;
  /** Operations under way that may fail its commands (detach, an attack). */
  disrupt: number;
  readonly possible: Set<number>[];
  readonly hist: number[][];
}

interface IoCmd {
  readonly id: number;
  readonly lun: LunState;
  readonly kind: "read" | "write";
  readonly lba: number;
  readonly blocks: number;
  readonly value: number;
  readonly submittedAt: number;
  disrupted: boolean;
  /** Submitted while its guest's backend was crashed (before the guest saw it go). */
  readonly duringCrash: boolean;
  /** Submitted after a restart of its guest's backend. */
  readonly afterRestart: boolean;
  /** For a WRITE: the writes to the same LUN whose lives overlapped its own (either may land last). */
  readonly concurrent: Set<IoCmd>;
  readonly snap: Set<number>[];
  readonly histAt: number[];
}

type Phase = "none" | "creating" | "up" | "destroying" | "gone";

interface GuestState {
  readonly index: number;
  readonly name: string;
  readonly hostile: boolean;
  domid: number;
  phase: Phase;
  readonly luns: LunState[];
  opsLeft: number;
  readonly inflight: Set<IoCmd>;
  /** Garbage was written into its backend nodes: its commands and operations may fail. */
  attacked: boolean;
  /** Its own xenstore connection (a hostile guest writes its frontend nodes through it). */
  xs: XenstoreClient | null;
  /** `backend-crash`: dom0's scsiback is letting go of its controller, or has, until the restart. */
  crash: "none" | "unbinding" | "down";
  /** Its backend was restarted at least once. */
  restarted: boolean;
}

interface ToolOp {
  readonly label: string;
  readonly guest: GuestState;
  done: boolean;
}

interface Action {
  readonly label: string;
  run(): void;
}

/** The pattern of `value` in block `lba`: value and LBA in its first 8 bytes, then a mix of both. */
function fillBlock(out: Uint8Array, at: number, value: number, lba: number): void {
  for (let i = 0; i < BLOCK; i++) out[at + i] = (value * 7 + lba * 13 + i * 31 + (i >> 8)) & 0xff;
  const v = new DataView(out.buffer, out.byteOffset + at, 8);
  v.setUint32(0, value, true);
  v.setUint32(4, lba, true);
}

/** The value a block holds (0 for a block never written), or -1 for one that matches no pattern. */
function decodeBlock(data: Uint8Array, at: number, lba: number): number {
  let zero = true;
  for (let i = 0; i < BLOCK; i++)
    if (data[at + i] !== 0) {
      zero = false;
      break;
    }
  if (zero) return 0;
  const v = new DataView(data.buffer, data.byteOffset + at, 8).getUint32(0, true);
  const expect = new Uint8Array(BLOCK);
  fillBlock(expect, 0, v, lba);
  for (let i = 0; i < BLOCK; i++) if (data[at + i] !== expect[i]) return -1;
  return v;
}

/** The whole-system simulation of one scenario under one choice source. */
export class SystemWorld {
  readonly stats: SystemWorldStats = {
    steps: 0,
    virtualMs: 0,
    xenstoredPasses: 0,
    eventDeliveries: 0,
    ringPasses: 0,
    diskCompletions: 0,
    timersFired: 0,
    ioSubmitted: 0,
    ioCompleted: 0,
    ioFailed: 0,
    toolstackOps: 0,
    toolstackFailed: 0,
    eagainInjected: 0,
    hostileWrites: 0,
    grantsLeftAfterClose: 0,
    xenbusErrors: 0,
    mappedAtDestroy: 0,
    backendCrashes: 0,
    backendRestarts: 0,
    ioFailedByCrash: 0,
    ioAfterRestart: 0,
  };
  readonly trace: string[] = [];
  readonly clock = new VirtualClock();
  private sys!: LocalSystem;
  private host!: Host;
  private readonly guests: GuestState[] = [];
  private readonly disks: GatedDisk[] = [];
  private op: ToolOp | null = null;
  private nextCmd = 1;
  private nextValue = 1;
  private active = true;
  private failure: SystemViolation | null = null;
  private baselineStore = "";
  private baselineWatches = new Set<string>();
  private baselinePorts = 0;
  /** The `disconnect-keeps-inflight` mutant's patch, undone at shutdown. */
  private unpatch: (() => void) | null = null;

  constructor(
    readonly scenario: SystemScenario,
    private readonly chooser: Chooser,
    private readonly traceOn: boolean,
  ) {
    const honest = scenario.guests;
    const hostile = scenario.faults.includes("hostile-xenstore-front") ? 1 : 0;
    for (let g = 0; g < honest + hostile; g++) {
      const luns: LunState[] = [];
      for (let l = 0; l < scenario.maxLuns; l++) {
        const disk = new GatedDisk(`g${g}l${l}`, scenario.blocks);
        this.disks.push(disk);
        luns.push({
          lun: l,
          pdev: `1:0:${g}:${l}`,
          disk,
          attached: false,
          disrupt: 0,
          possible: Array.from({ length: scenario.blocks }, () => new Set([0])),
          hist: Array.from({ length: scenario.blocks }, () => []),
        });
      }
      this.guests.push({
        index: g,
        name: g < honest ? `g${g}` : "hostile",
        hostile: g >= honest,
        domid: -1,
        phase: "none",
        luns,
        opsLeft: g < honest ? scenario.ops : 0,
        inflight: new Set(),
        attacked: false,
        xs: null,
        crash: "none",
        restarted: false,
      });
    }
  }

  /** The current step number. */
  get step(): number {
    return this.stats.steps;
  }

  private fail(invariant: SystemInvariant, detail: string): void {
    if (this.failure === null) this.failure = new SystemViolation(invariant, detail, this.stats.steps);
  }

  private log(line: string): void {
    if (this.traceOn) this.trace.push(`${this.stats.steps} t=${this.clock.now()} ${line}`);
  }

  /** Let every promise callback released so far run (nothing else is pending: no timers, no I/O). */
  private drain(): Promise<void> {
    return new Promise<void>((resolve) => setImmediate(resolve));
  }

  /** Boot the machine (deterministically, by settling in virtual time) and take the baseline. */
  async boot(): Promise<void> {
    const s = this.scenario;
    const sections = this.guests
      .flatMap((g) => g.luns.map((l) => `[disk ${l.pdev}]\nsize = ${s.blocks * BLOCK}\n`))
      .join("");
    const byPdev = new Map<string, GatedDisk>();
    for (const g of this.guests) for (const l of g.luns) byPdev.set(l.pdev, l.disk);
    this.sys = await LocalSystem.start({
      clock: this.clock,
      hostConfig: { text: sections, source: "sim.conf", baseDir: "/nonexistent" },
      devices: (pdev) => {
        const d = byPdev.get(pdev);
        return d === undefined ? undefined : { device: d, physLun: 0 };
      },
    });
    this.host = new Host(this.sys, { stateTimeoutMs: s.stateTimeoutMs });
    // The toolstack's host-lifetime watches (dom0's LUN-change node) are part of the baseline.
    await this.sys.settle();
    this.baselineStore = JSON.stringify(this.sys.xenstored.db.dump());
    this.baselineWatches = this.watches();
    this.baselinePorts = this.sys.hv.report(0).boundPorts.length;
    if (s.faults.includes("xs-eagain") && s.eagainRate > 0) {
      this.sys.xenstored.db.injectConflict = () => {
        if (!this.active) return false;
        const hit = this.chooser.pick(1000) < s.eagainRate;
        if (hit) this.stats.eagainInjected++;
        return hit;
      };
    }
    if (s.mutation === "no-eagain-retry") this.mutateNoRetry(this.sys.xs);
    if (s.mutation === "destroy-leaves-nodes") this.mutateLeaveBackendNodes(this.sys.xs);
    if (s.mutation === "disconnect-keeps-inflight") this.mutateKeepInflight();
    this.sys.externallyDriven = true;
  }

  /** Mutant: the toolstack's transactions give up at the first `EAGAIN` (no libxl retry loop). */
  private mutateNoRetry(xs: XenstoreClient): void {
    const once = async <T>(body: (tx: XsOps) => Promise<T>): Promise<T> => {
      const id = await xs.transactionStart();
      let result: T;
      try {
        result = await body(xs.inTransaction(id));
      } catch (e) {
        await xs.transactionEnd(id, false).catch(() => undefined);
        throw e;
      }
      await xs.transactionEnd(id, true);
      return result;
    };
    Object.defineProperty(xs, "transaction", { value: once, configurable: true });
  }

  /** Mutant: `xl destroy` forgets to remove the backend directories of the guest's controllers. */
  private mutateLeaveBackendNodes(xs: XenstoreClient): void {
    const rm = xs.rm.bind(xs);
    const skip = (path: string) => /^\/local\/domain\/0\/backend\/vscsi\/\d+\/\d+$/.test(path);
    Object.defineProperty(xs, "rm", {
      value: (path: string) => (skip(path) ? Promise.resolve() : rm(path)),
      configurable: true,
    });
  }

  /**
   * Mutant: scsifront never fails the commands still in flight when its backend closes with them
   * unanswered (Linux fails them as the host is removed). Patched on the class for this run only
   * (runs are sequential), undone by {@link shutdown}.
   */
  private mutateKeepInflight(): void {
    const proto = Frontend.prototype as { fail(reason: string): void };
    const original = proto.fail;
    proto.fail = () => undefined;
    this.unpatch = () => {
      proto.fail = original;
    };
  }

  /** Every watch xenstored holds, as `domid path token`. */
  private watches(): Set<string> {
    const out = new Set<string>();
    for (const c of this.sys.xenstored.db.connections) {
      if (c.isClosed) continue;
      for (const w of c.watchList()) out.add(`dom${c.domid} ${w.path} ${w.token}`);
    }
    return out;
  }

  /** Run the scenario to its end: the active phase, then the drain and teardown; throws a violation. */
  async run(): Promise<void> {
    const s = this.scenario;
    for (let i = 0; i < s.steps; i++) {
      await this.oneStep();
      this.raise();
    }
    this.active = false;
    this.log("drain: no new work, no faults; every guest destroyed");
    for (let i = 0; i < s.drainSteps; i++) {
      const moved = await this.oneStep();
      this.raise();
      if (!moved && this.op === null && this.guests.every((g) => g.phase === "gone" || g.phase === "none")) {
        await this.finalChecks();
        this.raise();
        return;
      }
    }
    this.fail("liveness", `not at rest after ${s.drainSteps} drain steps: ${this.pendingSummary()}`);
    this.raise();
  }

  private raise(): void {
    if (this.failure !== null) throw this.failure;
  }

  private pendingSummary(): string {
    const parts: string[] = [];
    for (const g of this.guests)
      if (g.inflight.size > 0) parts.push(`${g.name}: ${g.inflight.size} commands in flight`);
    for (const g of this.guests)
      if (g.phase !== "gone" && g.phase !== "none") parts.push(`${g.name} ${g.phase}`);
    if (this.op) parts.push(`toolstack: ${this.op.label} unfinished`);
    const held = this.disks.reduce((n, d) => n + d.held.length, 0);
    if (held > 0) parts.push(`${held} disk completions held`);
    const ready = this.sys.readySteps().map((r) => `${r.actor} dom${r.domid}`);
    if (ready.length > 0) parts.push(`ready: ${ready.join(", ")}`);
    return parts.join("; ") || "nothing";
  }

  /** Take one step; false when nothing at all could run (not even a timer). */
  private async oneStep(): Promise<boolean> {
    const acts = this.actions();
    if (acts.length === 0) {
      if (this.clock.pending === 0) return false;
      this.clock.jumpToNext();
      this.log("idle: time jumps to the next timer");
      this.stats.timersFired += this.clock.fireDue();
    } else {
      const a = acts[this.chooser.pick(acts.length)]!;
      this.log(a.label);
      try {
        a.run();
      } catch (e) {
        this.fail("no-crash", `${a.label} threw: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      }
    }
    await this.drain();
    this.stats.steps++;
    this.clock.advance(1);
    this.stats.virtualMs = this.clock.now();
    this.checkLiveness();
    return true;
  }

  private checkLiveness(): void {
    for (const g of this.guests)
      for (const c of g.inflight)
        if (this.stats.steps - c.submittedAt > LIVENESS_STEPS)
          this.fail(
            "liveness",
            `${g.name}'s ${c.kind} #${c.id} (LUN ${c.lun.lun}) in flight for ${LIVENESS_STEPS} steps`,
          );
  }

  /** Every action enabled now, in a fixed order. */
  private actions(): Action[] {
    const out: Action[] = [];
    for (const r of this.sys.readySteps()) out.push(this.systemAction(r));
    for (const d of this.disks)
      if (d.held.length > 0)
        out.push({
          label: `disk ${d.name} completes (${d.held.length} held)`,
          run: () => {
            d.completeAt(this.chooser.pick(d.held.length));
            this.stats.diskCompletions++;
          },
        });
    if (this.clock.due())
      out.push({
        label: "timer fires",
        run: () => {
          this.stats.timersFired += this.clock.fireDue();
        },
      });
    for (const g of this.guests)
      if (this.canSubmit(g)) out.push({ label: `${g.name} submits`, run: () => this.submit(g) });
    if (this.op === null) this.lifecycleActions(out);
    const s = this.scenario;
    if (this.active && s.faultRate > 0 && this.chooser.pick(1000) < s.faultRate) this.faultActions(out);
    return out;
  }

  private systemAction(r: ReadyStep): Action {
    return {
      label: `${r.actor} dom${r.domid}`,
      run: () => {
        const w = r.run();
        if (r.actor === "xenstored") this.stats.xenstoredPasses += w;
        else if (r.actor.endsWith("events")) this.stats.eventDeliveries += w;
        else this.stats.ringPasses += w;
      },
    };
  }

  private lifecycleActions(out: Action[]): void {
    for (const g of this.guests) {
      if (this.active && g.phase === "none")
        out.push({ label: `xl create ${g.name}`, run: () => this.create(g) });
      // The restart is the toolstack's: it comes even in the drain (a guest must get its LUNs back).
      if (g.phase === "up" && g.crash === "down")
        out.push({ label: `restart ${g.name}'s backend`, run: () => this.restartBackend(g) });
      if (!this.active && g.phase === "up" && g.inflight.size === 0 && g.crash === "none")
        out.push({ label: `xl destroy ${g.name}`, run: () => this.destroy(g) });
    }
  }

  private faultActions(out: Action[]): void {
    const f = this.scenario.faults;
    if (f.includes("hotplug") && this.op === null)
      for (const g of this.guests) {
        if (g.phase !== "up" || g.hostile || g.crash !== "none") continue;
        const attached = g.luns.filter((l) => l.attached);
        for (const l of g.luns) {
          if (!l.attached)
            out.push({ label: `xl scsi-attach ${g.name} ${l.pdev}`, run: () => this.attach(g, l) });
          // Keep one LUN: detaching the last one removes the controller (also covered, rarely).
          else if (attached.length > 1 || this.chooser.pick(4) === 0)
            out.push({ label: `xl scsi-detach ${g.name} 0:0:0:${l.lun}`, run: () => this.detach(g, l) });
        }
      }
    const hostile = this.guests.find((g) => g.hostile);
    if (f.includes("hostile-xenstore-front") && hostile?.phase === "up")
      out.push({ label: "hostile guest writes its frontend nodes", run: () => this.hostileFront(hostile) });
    if (f.includes("backend-crash") && this.op === null)
      // Mostly under I/O (a guest idle since its workload ended may crash too).
      for (const g of this.guests)
        if (g.phase === "up" && !g.hostile && g.crash === "none")
          out.push({ label: `dom0's scsiback crashes under ${g.name}`, run: () => this.crashBackend(g) });
    const victim = this.guests[0]!;
    if (f.includes("hostile-xenstore-back") && victim.phase === "up" && !victim.hostile)
      out.push({ label: `garbage in ${victim.name}'s backend nodes`, run: () => this.hostileBack(victim) });
  }

  // ---- the workload ------------------------------------------------------------------------------

  private guestDevices(g: GuestState): GuestScsiDevice[] {
    const k = this.sys.kernelOf(g.domid);
    if (!(k instanceof GuestKernel)) return [];
    return k.frontend.scsi
      .list()
      .filter((d) => d.channel === 0 && d.id === 0 && d.lun < g.luns.length && d.devNode !== null);
  }

  private canSubmit(g: GuestState): boolean {
    return (
      this.active &&
      g.phase === "up" &&
      !g.hostile &&
      g.opsLeft > 0 &&
      // Its backend gone, a guest's commands fail at once (its host is removed): it waits for
      // the restart rather than burn its workload on them.
      g.crash !== "down" &&
      g.inflight.size < this.scenario.depth &&
      this.guestDevices(g).length > 0
    );
  }

  private submit(g: GuestState): void {
    const s = this.scenario;
    const devs = this.guestDevices(g);
    const dev = devs[this.chooser.pick(devs.length)]!;
    const lun = g.luns[dev.lun]!;
    const k = this.sys.kernelOf(g.domid) as GuestKernel;
    const kind = this.chooser.pick(2) === 0 ? "read" : "write";
    const blocks = 1 + this.chooser.pick(s.maxBlocks);
    const lba = this.chooser.pick(s.blocks - blocks + 1);
    const value = kind === "write" ? this.nextValue++ : 0;
    const snap: Set<number>[] = [];
    const histAt: number[] = [];
    for (let b = lba; b < lba + blocks; b++) {
      snap.push(new Set(lun.possible[b]));
      histAt.push(lun.hist[b]!.length);
    }
    const cmd: IoCmd = {
      id: this.nextCmd++,
      lun,
      kind,
      lba,
      blocks,
      value,
      submittedAt: this.stats.steps,
      disrupted: lun.disrupt > 0 || g.attacked || g.crash !== "none",
      duringCrash: g.crash !== "none",
      afterRestart: g.restarted,
      concurrent: new Set(),
      snap,
      histAt,
    };
    const cdb = [
      kind === "read" ? 0x28 : 0x2a,
      0,
      lba >>> 24,
      (lba >>> 16) & 0xff,
      (lba >>> 8) & 0xff,
      lba & 0xff,
      0,
      0,
      blocks,
      0,
    ];
    let p: Promise<ScsiResult>;
    if (kind === "write") {
      for (const o of g.inflight)
        if (o.kind === "write" && o.lun === lun && o.lba < lba + blocks && lba < o.lba + o.blocks) {
          o.concurrent.add(cmd);
          cmd.concurrent.add(o);
        }
      const data = new Uint8Array(blocks * BLOCK);
      for (let i = 0; i < blocks; i++) {
        fillBlock(data, i * BLOCK, value, lba + i);
        lun.hist[lba + i]!.push(value);
        lun.possible[lba + i]!.add(value);
      }
      p = k.frontend.scsi.execute(dev, { cdb, dataOut: data });
    } else {
      p = k.frontend.scsi.execute(dev, { cdb, dataInLength: blocks * BLOCK });
    }
    this.log(
      `  ${g.name} ${kind} #${cmd.id} lun ${lun.lun} lba ${lba}+${blocks}${kind === "write" ? ` value ${value}` : ""}`,
    );
    g.opsLeft--;
    g.inflight.add(cmd);
    this.stats.ioSubmitted++;
    p.then(
      (r) => this.completed(g, cmd, r),
      (e: unknown) => this.completed(g, cmd, e instanceof Error ? e : new Error(String(e))),
    );
  }

  private completed(g: GuestState, cmd: IoCmd, r: ScsiResult | Error): void {
    if (!g.inflight.delete(cmd)) {
      this.fail("allowed-result", `${g.name}'s command #${cmd.id} completed twice`);
      return;
    }
    this.stats.ioCompleted++;
    const good = !(r instanceof Error) && r.status === 0 && r.host === 0;
    const label =
      r instanceof Error ? r.message : `host 0x${r.host.toString(16)} status 0x${r.status.toString(16)}`;
    this.log(
      `${g.name} ${cmd.kind} #${cmd.id} lun ${cmd.lun.lun} lba ${cmd.lba}+${cmd.blocks} -> ${good ? "GOOD" : label}`,
    );
    if (!good) {
      this.stats.ioFailed++;
      if (cmd.duringCrash || (cmd.disrupted && g.crash !== "none")) this.stats.ioFailedByCrash++;
      if (!cmd.disrupted && !g.attacked)
        this.fail(
          "allowed-result",
          `${g.name}'s ${cmd.kind} #${cmd.id} of LUN ${cmd.lun.lun} failed (${label}) with nothing disrupting it`,
        );
      return;
    }
    if (cmd.afterRestart) this.stats.ioAfterRestart++;
    const res = r as ScsiResult;
    const lun = cmd.lun;
    if (cmd.kind === "write") {
      // Data lands when the device runs a command, completions come back in any order: a write
      // whose life overlapped this one's may have landed after it, whether it succeeded or not.
      for (let b = cmd.lba; b < cmd.lba + cmd.blocks; b++) {
        const now = new Set([cmd.value]);
        for (const o of cmd.concurrent) if (b >= o.lba && b < o.lba + o.blocks) now.add(o.value);
        lun.possible[b] = now;
      }
      return;
    }
    if (res.residual !== 0 || res.data.length !== cmd.blocks * BLOCK) {
      this.fail("allowed-result", `${g.name}'s read #${cmd.id} is GOOD with residual ${res.residual}`);
      return;
    }
    for (let i = 0; i < cmd.blocks; i++) {
      const b = cmd.lba + i;
      const v = decodeBlock(res.data, i * BLOCK, b);
      const allowed = new Set(cmd.snap[i]);
      for (const x of lun.hist[b]!.slice(cmd.histAt[i])) allowed.add(x);
      if (!allowed.has(v))
        this.fail(
          "read-back",
          `${g.name} read block ${b} of LUN ${lun.lun} as ${v < 0 ? "garbage" : `value ${v}`}; allowed: ${[...allowed].join(", ")}`,
        );
    }
  }

  // ---- the toolstack -----------------------------------------------------------------------------

  /** Start a toolstack operation; it moves with the other steps, one at a time (libxl's lock). */
  private startOp(g: GuestState, label: string, p: Promise<unknown>, after: (ok: boolean) => void): void {
    const op: ToolOp = { label, guest: g, done: false };
    this.op = op;
    this.stats.toolstackOps++;
    p.then(
      () => {
        op.done = true;
        this.op = null;
        this.log(`${label}: done`);
        after(true);
      },
      (e: unknown) => {
        op.done = true;
        this.op = null;
        this.stats.toolstackFailed++;
        const msg = e instanceof Error ? e.message : String(e);
        this.log(`${label}: failed: ${msg}`);
        after(false);
        if (!g.hostile && !g.attacked) this.fail("toolstack", `${label} failed: ${msg}`);
      },
    );
  }

  private create(g: GuestState): void {
    g.phase = "creating";
    const initial = g.luns.slice(0, g.hostile ? 1 : this.scenario.luns);
    const vscsi = initial.map((l) => `'${l.pdev},0:0:0:${l.lun}'`).join(", ");
    const text = `name = "${g.name}"\nmemory = 8\nvscsi = [ ${vscsi} ]\n`;
    this.startOp(g, `xl create ${g.name}`, this.host.create(text, `/nonexistent/${g.name}.cfg`), (ok) => {
      if (!ok) {
        g.phase = "gone";
        return;
      }
      g.domid = this.host.resolveDomain(g.name).handle.domid;
      g.phase = "up";
      for (const l of initial) l.attached = true;
      if (g.hostile) g.xs = this.sys.xenstored.client(g.domid);
    });
  }

  private attach(g: GuestState, l: LunState): void {
    l.attached = true;
    this.startOp(
      g,
      `xl scsi-attach ${g.name} ${l.pdev}`,
      this.host.scsiAttach(g.name, l.pdev, `0:0:0:${l.lun}`),
      (ok) => {
        if (!ok) l.attached = false;
      },
    );
  }

  private detach(g: GuestState, l: LunState): void {
    l.disrupt++;
    for (const c of g.inflight) if (c.lun === l) c.disrupted = true;
    this.startOp(
      g,
      `xl scsi-detach ${g.name} 0:0:0:${l.lun}`,
      this.host.scsiDetach(g.name, `0:0:0:${l.lun}`),
      (ok) => {
        l.disrupt--;
        if (ok) l.attached = false;
      },
    );
  }

  private destroy(g: GuestState): void {
    g.phase = "destroying";
    // What the drivers answered bad values with: xenbus_dev_error/_fatal nodes for this guest.
    const mine = new RegExp(`^/local/domain/(0/error/backend/vscsi/${g.domid}/|${g.domid}/error/)`);
    for (const line of flatten(this.sys.xenstored.db.dump())) {
      const at = line.indexOf("=");
      const path = line.slice(0, at);
      if (!mine.test(path) || !path.endsWith("/error") || line.slice(at + 1) === '""') continue;
      this.stats.xenbusErrors++;
      this.log(`  xenbus error recorded: ${path} = ${line.slice(at + 1)}`);
    }
    const p = this.host.destroy(g.name).then((r) => {
      if (r.clean) return;
      const foreign = r.mappedGrants.length + r.heldMappings.length;
      // Garbage in its backend nodes can wedge a guest's xenbus work before it releases its
      // ring: its own grants left live are counted, not a violation (docs/sim.md).
      const ownOnly = foreign === 0 && r.boundPorts.length === 0;
      if (ownOnly && g.attacked) {
        this.stats.grantsLeftAfterClose += r.liveGrants.length;
        this.log(`  ${g.name} left ${r.liveGrants.length} of its own grants live (it was fed garbage)`);
        return;
      }
      // A guest whose xenbus peers were fed garbage may be destroyed while scsiback still maps
      // its ring: libxl's removal timed out and went on (Xen keeps such a domain as a zombie until
      // the backend unmaps). Allowed at the destroy; the final checks require that dom0 then let
      // go of every mapping.
      if ((g.attacked || g.hostile) && r.heldMappings.length === 0) {
        this.stats.mappedAtDestroy += r.mappedGrants.length;
        this.log(`  ${g.name} destroyed with ${r.mappedGrants.length} grants still mapped by its backend`);
        return;
      }
      const left = [
        ...r.mappedGrants.map((m) => `ref ${m.ref} mapped by dom${m.mapper}`),
        ...r.heldMappings.map((m) => `a mapping of dom${m.granter}'s ref ${m.ref}`),
        ...r.liveGrants.map((m) => `ref ${m.ref} granted to dom${m.grantee}`),
        ...r.boundPorts.map((b) => `port ${b.port} ${b.status}`),
      ];
      this.fail("cleanup", `xl destroy ${g.name} left: ${left.join(", ")}`);
    });
    this.startOp(g, `xl destroy ${g.name}`, p, () => {
      g.phase = "gone";
    });
  }

  // ---- backend crash and restart ---------------------------------------------------------------------

  private scsiback() {
    const k = this.sys.kernelOf(0);
    if (!(k instanceof BackendKernel)) throw new Error("dom0 has no scsiback");
    return k.backend;
  }

  /**
   * dom0's scsiback lets go of the guest's controller abruptly: unbound, as when the module is
   * unloaded (Linux `xenbus_dev_remove`: drain, unmap, Closed). Its nodes stay. Every command of
   * the guest in flight may now fail (DID_ERROR/DID_RESET/DID_NO_CONNECT), none may be lost.
   */
  private crashBackend(g: GuestState): void {
    const t = this.scsiback().unbind(g.domid, 0);
    if (t === null) {
      this.log(`  no scsiback device for ${g.name}'s controller`);
      return;
    }
    this.stats.backendCrashes++;
    g.crash = "unbinding";
    for (const c of g.inflight) c.disrupted = true;
    const domid = g.domid;
    void t.then(() => {
      this.log(`${g.name}'s backend is gone`);
      // The backend is gone: nothing of the guest may stay mapped by dom0 (but its xenstore and
      // console pages, which xenstored and the console daemon map for the domain's life).
      const held = this.sys.hv
        .report(0)
        .heldMappings.filter(
          (m) =>
            m.granter === domid && m.ref !== GNTTAB_RESERVED_XENSTORE && m.ref !== GNTTAB_RESERVED_CONSOLE,
        );
      if (held.length > 0)
        this.fail(
          "cleanup",
          `dom0 still maps ${held.length} of ${g.name}'s grants (ref ${held[0]!.ref}) after its backend let go`,
        );
      g.crash = "down";
    });
  }

  /**
   * The backend restarted: scsiback bound again (it probes the nodes still there: InitWait, then
   * Closed after the frontend's Closed). Linux's scsifront does not reconnect from Closed (its
   * `scsifront_backend_changed` ignores InitWait; `scsifront_disconnect` removed its host), so
   * the toolstack re-creates the controller (libxl's controller removal, then `xl scsi-attach` of
   * each LUN): the guest sees its LUNs removed and added again.
   */
  private restartBackend(g: GuestState): void {
    this.stats.backendRestarts++;
    const scsiback = this.scsiback();
    scsiback.bind(g.domid, 0);
    const luns = g.luns.filter((l) => l.attached);
    for (const l of luns) l.disrupt++;
    const domid = g.domid;
    const work = (async () => {
      // The module's probes are done when modprobe returns (xenbus probes at driver
      // registration); only then does the toolstack act.
      await scsiback.settled();
      await removeController(
        this.sys.xs,
        { backendDomid: 0, frontendDomid: domid, devid: 0 },
        this.scenario.stateTimeoutMs,
        this.clock,
      );
      for (const l of luns) await this.host.scsiAttach(g.name, l.pdev, `0:0:0:${l.lun}`);
    })();
    this.startOp(g, `restart ${g.name}'s backend (re-create its controller)`, work, (ok) => {
      for (const l of luns) l.disrupt--;
      g.crash = "none";
      g.restarted = true;
      if (!ok) for (const l of luns) l.attached = false;
    });
  }

  // ---- hostile peers -------------------------------------------------------------------------------

  private pickOf<T>(xs: readonly T[]): T {
    return xs[this.chooser.pick(xs.length)]!;
  }

  /** The hostile guest writes (or removes) one of its own frontend nodes: out-of-order states, garbage. */
  private hostileFront(g: GuestState): void {
    const fe = `/local/domain/${g.domid}/device/vscsi/0`;
    const what = this.chooser.pick(6);
    const xs = g.xs!;
    let p: Promise<unknown>;
    let line: string;
    if (what === 0 || what === 1) {
      const v = this.pickOf(BAD_STATES);
      p = xs.write(`${fe}/state`, v);
      line = `state = '${v}'`;
    } else if (what === 2) {
      const v = this.pickOf(BAD_NUMBERS);
      p = xs.write(`${fe}/ring-ref`, v);
      line = `ring-ref = '${v}'`;
    } else if (what === 3) {
      const v = this.pickOf(BAD_NUMBERS);
      p = xs.write(`${fe}/event-channel`, v);
      line = `event-channel = '${v}'`;
    } else if (what === 4) {
      const v = this.pickOf(BAD_STATES);
      p = xs.write(`${fe}/vscsi-devs/dev-0/state`, v);
      line = `vscsi-devs/dev-0/state = '${v}'`;
    } else {
      p = xs.rm(`${fe}/state`);
      line = "rm state";
    }
    this.stats.hostileWrites++;
    this.log(`  hostile frontend: ${line}`);
    p.catch(() => undefined);
  }

  /** Garbage and out-of-order states land in the victim's backend nodes. */
  private hostileBack(g: GuestState): void {
    if (!g.attacked) {
      g.attacked = true;
      for (const c of g.inflight) c.disrupted = true;
    }
    const be = `/local/domain/0/backend/vscsi/${g.domid}/0`;
    const what = this.chooser.pick(5);
    let path: string;
    let v: string;
    if (what === 0 || what === 1) {
      path = `${be}/state`;
      v = this.pickOf(BAD_STATES);
    } else if (what === 2) {
      path = `${be}/feature-sg-grant`;
      v = this.pickOf(BAD_NUMBERS);
    } else if (what === 3) {
      path = `${be}/vscsi-devs/dev-${this.chooser.pick(2)}/state`;
      v = this.pickOf(BAD_STATES);
    } else {
      path = `${be}/vscsi-devs/dev-${this.chooser.pick(2)}/v-dev`;
      v = this.pickOf(BAD_HCTLS);
    }
    this.stats.hostileWrites++;
    this.log(`  hostile backend: ${path.slice(be.length + 1)} = '${v}'`);
    // Only where the node exists, checked in the same transaction: a backend writes its own
    // nodes, it does not re-create what the toolstack removed.
    void this.sys.xs
      .transaction(async (tx) => {
        if ((await tx.tryRead(path)) !== undefined) await tx.write(path, v);
      })
      .catch(() => undefined);
  }

  // ---- teardown ----------------------------------------------------------------------------------

  private async finalChecks(): Promise<void> {
    const leaks: string[] = [];
    for (const r of this.sys.hv.reports()) {
      if (r.domid !== 0) leaks.push(`dom${r.domid} (${r.name}) still exists`);
    }
    const d0 = this.sys.hv.report(0);
    for (const m of d0.heldMappings) leaks.push(`dom0 still maps dom${m.granter}'s ref ${m.ref}`);
    for (const g of d0.mappedGrants) leaks.push(`dom0's ref ${g.ref} still mapped by dom${g.mapper}`);
    if (d0.boundPorts.length !== this.baselinePorts)
      leaks.push(`dom0 has ${d0.boundPorts.length} ports bound, ${this.baselinePorts} at boot`);
    const store = JSON.stringify(this.sys.xenstored.db.dump());
    if (store !== this.baselineStore) {
      const before = new Set(flatten(JSON.parse(this.baselineStore) as DumpNode));
      const extra = flatten(JSON.parse(store) as DumpNode).filter((p) => !before.has(p));
      leaks.push(`xenstore differs from boot: ${extra.slice(0, 6).join(", ") || "(values changed)"}`);
    }
    const w = this.watches();
    for (const x of w) if (!this.baselineWatches.has(x)) leaks.push(`watch left: ${x}`);
    for (const d of this.disks)
      if (d.held.length > 0) leaks.push(`disk ${d.name} holds ${d.held.length} completions`);
    if (leaks.length > 0) this.fail("cleanup", leaks.join("; "));
  }

  /** Stop the machine (not checked: the run's verdict is in). */
  async shutdown(): Promise<void> {
    this.unpatch?.();
    this.unpatch = null;
    if (this.sys === undefined) return;
    this.sys.externallyDriven = false;
    await this.sys.run(this.host.shutdown()).catch(() => undefined);
  }
}

/** Every node path of a dump, with its value. */
function flatten(n: DumpNode, path = ""): string[] {
  const out = [`${path === "" ? "/" : path}=${JSON.stringify(n.value ?? "")}`];
  for (const c of n.children ?? []) out.push(...flatten(c, `${path}/${c.name}`));
  return out;
}
