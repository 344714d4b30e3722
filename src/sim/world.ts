/**
 * The simulated machine: guests, each a scsifront {@link Frontend} and a scsiback {@link Vhost}
 * over a ring page in the guest's memory, with disks whose completions the scheduler chooses.
 * Every step the scheduler asks which actions are enabled (a guest submitting or pushing
 * requests, an event delivered to either end, a device completing any command it holds, a guest's
 * error handler, a fault), picks one with the {@link Chooser}, runs it, and checks every
 * invariant. Time is virtual: one tick per step, and an idle machine jumps to its next timeout.
 * @module
 */

import { SharedRing } from "../ring/shared-ring.js";
import { SAM_STAT_CHECK_CONDITION, SAM_STAT_GOOD } from "../scsi/device.js";
import { Vhost } from "../scsiback/vhost.js";
import { FrontCommand, Frontend } from "../scsifront/frontend.js";
import { DID_ABORT, DID_ERROR, DID_NO_CONNECT, DID_OK } from "../scsifront/host-byte.js";
import { FakeGuest } from "../testing/fake-guest.js";
import {
  DMA_FROM_DEVICE,
  DMA_NONE,
  DMA_TO_DEVICE,
  VSCSIIF_ACT_SCSI_ABORT,
  VSCSIIF_ACT_SCSI_RESET,
  XEN_VSCSIIF_RSLT_RESET_FAILED,
  XEN_VSCSIIF_RSLT_RESET_SUCCESS,
} from "../vscsiif/constants.js";
import { VSCSIIF_ENTRY_SIZE } from "../xen/vscsiif-layout.js";
import type { Chooser } from "./chooser.js";
import { HostileBack, HostileFront, responseLeak } from "./hostile.js";
import { checkScenario, DEFAULT_GUEST_FRAMES, type FaultClass, type Scenario } from "./scenario.js";
import { completable, completableIndex, SIM_BLOCK, type SimDevice, SimDisk } from "./sim-disk.js";
import { SimTape } from "./sim-tape.js";
import {
  applyTapeResult,
  newTapeJob,
  nextTapeOp,
  recordByte,
  TAPE_FIXED_BLOCK,
  type TapeJob,
  type TapeOp,
} from "./tape-workload.js";

/** The invariants, by the names docs/sim.md states them under. */
export type InvariantName =
  | "exactly-once"
  | "rqid-unique"
  | "allowed-result"
  | "read-back"
  | "canaries"
  | "ring-indices"
  | "grants-at-completion"
  | "cleanup"
  | "liveness"
  | "response-padding"
  | "no-crash"
  | "tape-order"
  | "unit-attention";

/** An invariant that failed: which, where, and what was seen. */
export class SimViolation extends Error {
  override readonly name = "SimViolation";
  constructor(
    readonly invariant: InvariantName,
    readonly detail: string,
    readonly step: number,
  ) {
    super(`${invariant} at step ${step}: ${detail}`);
  }
}

const CANARY = 0xa5;
const GUARD = 0x5a;
const GUARD_WORD = 0x5a5a5a5a;
const PAGE = 4096;

/** A guest's memory and grant table that notices the frontend ending a grant still mapped. */
class SimGuestMemory extends FakeGuest {
  /** Ends asked for by the frontend while the backend mapped the grant (XSA-396 discipline). */
  endsWhileMapped = 0;

  override endAccess(ref: number): boolean {
    const g = this.grants.get(ref);
    if (g !== undefined && g.maps > 0) this.endsWhileMapped++;
    return super.endAccess(ref);
  }

  /** The guest itself (not its driver) revokes `ref`, as a hostile or buggy kernel might. */
  revoke(ref: number): boolean {
    return super.endAccess(ref);
  }
}

type Kind = "read" | "write" | "sync" | "tur" | "abort" | "reset" | "tape";

interface SimCmd {
  readonly id: number;
  readonly kind: Kind;
  readonly lun: number;
  readonly lba: number;
  readonly blocks: number;
  readonly value: number;
  readonly frames: number[];
  readonly offset: number;
  readonly length: number;
  readonly fc: FrontCommand;
  submitted: number;
  completions: number;
  rqid: number;
  /** The error handler's progress on it: 0 none, 1 ABORT sent, 2 RESET sent. */
  eh: number;
  ehAt: number;
  /** For ABORT: the command it aborts. */
  target: SimCmd | null;
  /** Its grants were revoked by a hostile guest: DID_ERROR is allowed. */
  revoked: boolean;
  /** The LUN was unplugged while it was in flight: DID_NO_CONNECT is allowed. */
  unplugged: boolean;
  /** An ABORT or RESET that could reach it was in flight meanwhile: an aborted answer is allowed. */
  abortable: boolean;
  /** SYNCHRONIZE CACHE: per block, what it makes stable when it succeeds. */
  covered: Set<number>[] | null;
  histLen: number[] | null;
  /** Its LUN lost power while it was in flight: what its blocks could hold just before. */
  preLoss: Set<number>[] | null;
  /** A tape command: what the workload asked and expects. */
  tapeOp: TapeOp | null;
}

interface LunModel {
  /** Values a block may hold now. */
  readonly cur: Set<number>[];
  /** Values a block may hold after a power loss now. */
  readonly stable: Set<number>[];
  /** Values of writes in flight on the block. */
  readonly pending: Set<number>[];
  /** Every value written to the block, in submission order. */
  readonly hist: number[][];
  /** Commands in flight covering the block. */
  readonly busy: Int32Array;
}

/** One simulated guest with its vhost, its disks, and the simulator's model of them. */
type GrantMapperLike = ReturnType<FakeGuest["mapper"]>;

class SimGuest {
  readonly mem: SimGuestMemory;
  readonly mapper: GrantMapperLike;
  readonly sring: SharedRing;
  readonly front: Frontend;
  readonly vhost: Vhost;
  readonly disks: SimDevice[] = [];
  /** The tape backup job when the scenario's LUN is a tape (one command at a time, as st). */
  readonly tapeJob: TapeJob | null;
  tapeBusy = false;
  readonly models: LunModel[] = [];
  readonly plugged: boolean[] = [];
  readonly inflight = new Set<SimCmd>();
  readonly guardFrame: number;
  readonly guardWords: Int32Array;
  backPending = false;
  frontPending = false;
  unflushed = false;
  destroyed = false;
  opsLeft: number;
  /** The memory at destruction (a destroyed domain's pages must not change). */
  snapshot: Uint8Array | null = null;
  // The ring as seen on the wire: indices read so far, rqids outstanding.
  seenReq = 0;
  seenRsp = 0;
  readonly outstanding = new Map<number, number>();
  /** Set for the hostile guest: it writes its ring by hand instead of running scsifront. */
  readonly hostile: HostileFront | null = null;
  /** Set when this guest's backend is hostile: its scsifront is under attack. */
  readonly hback: HostileBack | null = null;

  constructor(
    readonly index: number,
    scenario: Scenario,
  ) {
    this.opsLeft = scenario.ops;
    this.mem = new SimGuestMemory(scenario.guestFrames ?? DEFAULT_GUEST_FRAMES);
    this.mapper = this.mem.mapper();
    const ringFrame = this.mem.allocFrame();
    this.sring = new SharedRing(this.mem.bytes.buffer, ringFrame * PAGE, PAGE, VSCSIIF_ENTRY_SIZE);
    this.guardFrame = this.mem.allocFrame();
    this.mem.frameBytes(this.guardFrame).fill(GUARD);
    this.guardWords = new Int32Array(this.mem.bytes.buffer, this.guardFrame * PAGE, PAGE / 4);
    this.front = new Frontend({
      backendDomid: 0,
      memory: this.mem,
      grants: this.mem,
      notifier: { notify: () => (this.backPending = true) },
      ...(scenario.mutation?.frontend ? { mutation: scenario.mutation.frontend } : {}),
    });
    this.vhost = new Vhost({
      frontendDomid: index + 1,
      devid: 0,
      initiator: { id: index + 1, name: `xen-pvscsi:dom${index + 1}/vhost0` },
      featureHost: false,
      budget: scenario.budget,
      grants: this.mapper,
      notifier: { notify: () => (this.frontPending = true) },
      wake: () => (this.backPending = true),
      ...(scenario.mutation?.backend ? { mutation: scenario.mutation.backend } : {}),
    });
    this.tapeJob =
      scenario.tape !== undefined
        ? newTapeJob(scenario.mutation?.workload === "tape-ignores-unit-attention")
        : null;
    for (let l = 0; l < scenario.luns; l++) {
      // Tapes: guests of even index have a drive that rewinds on a LUN reset, odd ones keep position.
      const disk: SimDevice =
        scenario.tape !== undefined
          ? new SimTape(`g${index}t${l}`, { rewindOnReset: index % 2 === 0 })
          : new SimDisk(`g${index}l${l}`, scenario.blocks, scenario.writeCache);
      this.disks.push(disk);
      this.vhost.translations.add({
        v: { chn: 0, tgt: 0, lun: l },
        device: disk,
        physLun: 0,
        pdev: disk.name,
      });
      this.plugged.push(true);
      const n = scenario.blocks;
      this.models.push({
        cur: Array.from({ length: n }, () => new Set([0])),
        stable: Array.from({ length: n }, () => new Set([0])),
        pending: Array.from({ length: n }, () => new Set<number>()),
        hist: Array.from({ length: n }, () => []),
        busy: new Int32Array(n),
      });
    }
    if (index === 0 && (scenario.hostile?.length ?? 0) > 0) {
      this.hostile = new HostileFront(this.sring, this.mem, () => (this.backPending = true), scenario.luns);
      this.opsLeft = scenario.ops * 2;
      this.vhost.connect(this.sring);
    } else if (index === 0 && (scenario.hostileBackend?.length ?? 0) > 0) {
      this.front.connect(this.sring);
      this.hback = new HostileBack(this.sring, this.mapper, () => (this.frontPending = true));
    } else {
      // Each end has its own view of the shared page, tagged for tracing with its own domain
      // (the guest is dom index+1, the backend dom0), as in the real system.
      this.sring.traceDomid = index + 1;
      const backView = new SharedRing(this.mem.bytes.buffer, this.sring.byteOffset, PAGE, VSCSIIF_ENTRY_SIZE);
      backView.traceDomid = 0;
      this.front.connect(this.sring);
      this.front.setFeatureSgGrant(128);
      this.vhost.connect(backView);
    }
  }
}

/** An action the scheduler may pick: its name in the trace, its weight, its body. */
interface Action {
  readonly name: string;
  readonly weight: number;
  readonly run: () => string;
}

/** What a finished run reports. */
export interface WorldStats {
  steps: number;
  ticks: number;
  submitted: number;
  completed: number;
  faults: number;
  bytes: number;
  /** Tape scenarios: backups verified end to end, and times a job lost its position and rewound. */
  tapeBackups: number;
  tapeRestarts: number;
}

/** The machine of one run. */
export class World {
  readonly guests: SimGuest[] = [];
  readonly trace: string[] = [];
  readonly stats: WorldStats = {
    steps: 0,
    ticks: 0,
    submitted: 0,
    completed: 0,
    faults: 0,
    bytes: 0,
    tapeBackups: 0,
    tapeRestarts: 0,
  };
  private tick = 0;
  private step = 0;
  private nextId = 1;

  /** Virtual time: the current tick (a trace recorder's clock in simulated runs). */
  get now(): number {
    return this.tick;
  }
  private nextValue = 1;
  private draining = false;
  /** TMFs in flight, per guest and LUN (an aborted answer is allowed to what they overlap). */
  private readonly tmfs = new Set<SimCmd>();
  private readonly tracing: boolean;
  /** Destroyed guests whose devices ran this step (their memory is checked against its snapshot). */
  private readonly deviceRan = new Set<SimGuest>();

  constructor(
    readonly scenario: Scenario,
    private readonly choose: Chooser,
    options: { readonly trace?: boolean } = {},
  ) {
    this.tracing = options.trace ?? true;
    checkScenario(scenario);
    for (let g = 0; g < scenario.guests; g++) this.guests.push(new SimGuest(g, scenario));
  }

  /** Run the scenario to the end; throws a {@link SimViolation} when an invariant fails. */
  run(): WorldStats {
    try {
      return this.runPhases();
    } finally {
      // Also when an invariant fails: the summary says how far the run got.
      this.stats.steps = this.step;
      this.stats.ticks = this.tick;
    }
  }

  private runPhases(): WorldStats {
    const s = this.scenario;
    for (let i = 0; i < s.steps; i++) if (!this.once()) break;
    this.draining = true;
    this.log("-- drain");
    let n = 0;
    while (this.once()) {
      if (++n > s.drainSteps) {
        throw this.violation("liveness", `still busy ${s.drainSteps} steps into the drain`);
      }
    }
    this.finalChecks();
    for (const g of this.guests) {
      if (g.tapeJob === null) continue;
      this.stats.tapeBackups += g.tapeJob.verified;
      this.stats.tapeRestarts += g.tapeJob.restarts;
    }
    return this.stats;
  }

  /** One step; false when nothing is enabled (and no timeout is due). */
  private once(): boolean {
    let actions = this.enabled();
    if (actions.length === 0) {
      // Idle: virtual time jumps to the next timeout, if any command waits for one.
      const due = this.nextTimeout();
      if (due === null) return false;
      this.tick = Math.max(this.tick, due);
      actions = this.enabled();
      if (actions.length === 0) return false;
    }
    let total = 0;
    for (const a of actions) total += a.weight;
    let r = this.choose.pick(total);
    let chosen = actions[actions.length - 1]!;
    for (const a of actions) {
      if (r < a.weight) {
        chosen = a;
        break;
      }
      r -= a.weight;
    }
    this.step++;
    this.tick++;
    let detail: string;
    try {
      detail = chosen.run();
    } catch (e) {
      if (e instanceof SimViolation) throw e;
      throw this.violation("no-crash", `${chosen.name} threw: ${e instanceof Error ? e.stack : e}`);
    }
    this.log(`${chosen.name}${detail ? ` ${detail}` : ""}`);
    this.checkStep();
    return true;
  }

  private log(line: string): void {
    if (this.tracing) this.trace.push(`${String(this.step).padStart(5)} t=${this.tick} ${line}`);
  }

  private violation(inv: InvariantName, detail: string): SimViolation {
    this.log(`VIOLATION ${inv}: ${detail}`);
    return new SimViolation(inv, detail, this.step);
  }

  // ---- the actions ----

  private enabled(): Action[] {
    const out: Action[] = [];
    const s = this.scenario;
    // Faults strike while the workload runs (not once it is over: that would only idle-loop).
    const busy = this.guests.some((g) => !g.destroyed && (g.opsLeft > 0 || g.inflight.size > 0));

    for (const g of this.guests) {
      const p = `g${g.index}`;
      // A destroyed guest's devices still finish what they held: scsiback must ignore it.
      g.disks.forEach((d, l) => {
        if (completable(d) > 0)
          out.push({ name: `${p}.l${l}.complete`, weight: 3, run: () => this.complete(g, d) });
      });
      if (g.destroyed) continue;
      if (g.hostile !== null) {
        const h = g.hostile;
        if (!this.draining && g.opsLeft > 0)
          out.push({ name: `${p}.attack`, weight: 3, run: () => this.attack(g, h) });
        if (g.backPending) out.push({ name: `${p}.back-event`, weight: 3, run: () => this.backEvent(g) });
        if (g.frontPending)
          out.push({ name: `${p}.front-event`, weight: 3, run: () => this.hostileDrain(g, h) });
        continue;
      }
      if (g.tapeJob !== null) {
        if (!this.draining && g.opsLeft > 0 && g.front.state === "connected" && !g.tapeBusy)
          out.push({ name: `${p}.tape`, weight: 3, run: () => this.submitTape(g, g.tapeJob!) });
      } else if (
        !this.draining &&
        g.opsLeft > 0 &&
        g.front.state === "connected" &&
        g.inflight.size < s.depth
      ) {
        out.push({ name: `${p}.submit`, weight: 3, run: () => this.submit(g) });
      }
      if (g.unflushed) out.push({ name: `${p}.push`, weight: 2, run: () => this.push(g) });
      if (g.backPending) out.push({ name: `${p}.back-event`, weight: 3, run: () => this.backEvent(g) });
      if (g.frontPending) out.push({ name: `${p}.front-event`, weight: 3, run: () => this.frontEvent(g) });
      if (this.overdue(g) !== null)
        out.push({ name: `${p}.timeout`, weight: 2, run: () => this.errorHandler(g) });
    }
    // Faults only strike between other steps: an idle machine's time jumps to its next timeout.
    // With faultSparsity N, a fault is offered on about one step in N (for serial workloads like
    // the tape's, where few other actions compete and weight 1 would still strike too often).
    const offered = s.faultSparsity === undefined || this.choose.pick(s.faultSparsity) === 0;
    if (out.length > 0 && !this.draining && busy && s.faults.length > 0 && s.faultRate > 0 && offered) {
      out.push({ name: "fault", weight: Math.max(1, Math.round(s.faultRate / 10)), run: () => this.fault() });
    }
    return out;
  }

  /** The tape job's next command (one at a time, as Linux's st). */
  private submitTape(g: SimGuest, job: TapeJob): string {
    const o = nextTapeOp(job, this.scenario.tape!, this.choose);
    const cmd = this.makeCmd(g, "tape", 0, 0, 0, undefined, o.bytes);
    if (cmd === null) return `${o.op} deferred: guest out of memory`;
    cmd.tapeOp = o;
    const fc = cmd.fc;
    fc.setCdb(o.cdb);
    fc.direction = o.bytes === 0 ? DMA_NONE : o.op === "read" ? DMA_FROM_DEVICE : DMA_TO_DEVICE;
    const mem = g.mem.bytes;
    if (o.op === "write") {
      for (let i = 0; i < o.bytes; i++) mem[addr(cmd.frames, cmd.offset + i)] = tapeByte(o, i);
    } else if (o.op === "mode") {
      o.param!.forEach((v, i) => {
        mem[addr(cmd.frames, cmd.offset + i)] = v;
      });
    }
    g.opsLeft--;
    g.tapeBusy = true;
    if (!this.send(g, cmd)) {
      g.tapeBusy = false;
      this.freeFrames(g, cmd);
      g.opsLeft++;
      return `${o.op} busy`;
    }
    return `#${cmd.id} ${describe(cmd)}`;
  }

  /**
   * A tape command came back: its host byte is one the faults explain; with DID_OK, the guest got
   * exactly the status, sense and residual the tape answered (so a unit attention cannot be
   * lost on the way); its buffers' canaries hold; and the job's model accepts the answer.
   */
  private tapeCompleted(g: SimGuest, cmd: SimCmd): void {
    g.tapeBusy = false;
    const fc = cmd.fc;
    const o = cmd.tapeOp!;
    const tape = g.disks[cmd.lun] as SimTape;
    const answer = tape.answers.get(cmd.rqid);
    tape.answers.delete(cmd.rqid);
    const key = fc.status === SAM_STAT_CHECK_CONDITION ? fc.sense[2]! & 0x0f : -1;
    this.log(
      `  g${g.index} #${cmd.id} done rslt 0x${fc.rslt.toString(16)}${key >= 0 ? ` sense ${key}/${fc.sense[12]!.toString(16)}/${fc.sense[13]!.toString(16)}` : ""}`,
    );
    if (fc.host !== DID_OK) this.checkResult(g, cmd);
    else {
      const bad = (why: string) =>
        this.violation("unit-attention", `g${g.index} #${cmd.id} ${describe(cmd)}: ${why}`);
      if (answer === undefined) throw bad("the guest got a status the tape never answered");
      if (answer.status !== fc.status)
        throw bad(
          `the guest got status 0x${fc.status.toString(16)}, the tape answered 0x${answer.status.toString(16)}`,
        );
      if (fc.residual !== cmd.length - answer.transferred)
        throw bad(`residual ${fc.residual}, the tape moved ${answer.transferred} of ${cmd.length}`);
      if (fc.status === SAM_STAT_CHECK_CONDITION) {
        for (const i of [0, 2, 3, 4, 5, 6, 12, 13]) {
          if (fc.sense[i] !== answer.sense[i]) throw bad(`sense byte ${i} differs from the tape's`);
        }
      }
    }
    this.checkCanaries(g, cmd);
    if (o.op === "write" && fc.host !== DID_ERROR) {
      const mem = g.mem.bytes;
      for (let i = 0; i < o.bytes; i++) {
        if (mem[addr(cmd.frames, cmd.offset + i)] !== tapeByte(o, i))
          throw this.violation(
            "canaries",
            `g${g.index} #${cmd.id}: the data of a WRITE (granted read-only) changed`,
          );
      }
    }
    const mem = g.mem.bytes;
    const why = applyTapeResult(
      g.tapeJob!,
      o,
      {
        delivered: fc.host === DID_OK,
        status: fc.status,
        sense: fc.sense,
        residual: fc.residual,
        dataMatches: (bytes) => {
          for (let i = 0; i < bytes; i++)
            if (mem[addr(cmd.frames, cmd.offset + i)] !== tapeByte(o, i)) return false;
          return true;
        },
      },
      this.scenario.faults.includes("device-error"),
    );
    if (why !== null) throw this.violation("tape-order", `g${g.index} #${cmd.id}: ${why}`);
    if (fc.host === DID_OK && fc.status === SAM_STAT_GOOD && (o.op === "read" || o.op === "write"))
      this.stats.bytes += o.bytes;
  }

  private submit(g: SimGuest): string {
    const s = this.scenario;
    const m = s.mix;
    const total = m.read + m.write + m.sync + m.tur;
    const r = this.choose.pick(total);
    const lun = this.choose.pick(s.luns);
    let kind: Kind = "tur";
    if (r < m.read) kind = "read";
    else if (r < m.read + m.write) kind = "write";
    else if (r < m.read + m.write + m.sync) kind = "sync";
    let lba = 0;
    let blocks = 0;
    if (kind === "read" || kind === "write") {
      blocks = 1 + this.choose.pick(s.maxBlocks);
      lba = this.choose.pick(s.blocks - blocks + 1);
      const model = g.models[lun]!;
      for (let b = lba; b < lba + blocks; b++) {
        if (model.busy[b]! > 0) {
          kind = "tur"; // overlapping I/O would make the outcome ambiguous: test the unit instead
          break;
        }
      }
      if (kind === "tur") blocks = 0;
    }
    const cmd = this.makeCmd(g, kind, lun, lba, blocks);
    if (cmd === null) return `${kind} deferred: guest out of memory`; // as a kernel would requeue it
    g.opsLeft--;
    if (!this.send(g, cmd)) {
      this.freeFrames(g, cmd);
      g.opsLeft++;
      return `${kind} busy`;
    }
    return `#${cmd.id} ${describe(cmd)}`;
  }

  private makeCmd(
    g: SimGuest,
    kind: Kind,
    lun: number,
    lba: number,
    blocks: number,
    target?: SimCmd,
    bytes?: number,
  ): SimCmd | null {
    const length = bytes ?? blocks * SIM_BLOCK;
    const offset = length > 0 ? this.choose.pick(8) * SIM_BLOCK : 0;
    const pages = length > 0 ? Math.ceil((offset + length) / PAGE) : 0;
    const frames: number[] = [];
    for (let i = 0; i < pages; i++) {
      const f = g.mem.allocFrame();
      if (f < 0) {
        // Out of memory (Scenario.guestFrames): the guest defers the command, as Linux's block
        // layer requeues a request it cannot map; nothing was submitted.
        for (const x of frames) g.mem.freeFrame(x);
        return null;
      }
      frames.push(f);
      g.mem.frameBytes(f).fill(CANARY);
    }
    const value = kind === "write" ? this.nextValue++ : 0;
    const fc = new FrontCommand(Math.max(frames.length, 1));
    fc.channel = 0;
    fc.id = 0;
    fc.lun = lun;
    frames.forEach((f, i) => {
      fc.frames[i] = f;
    });
    fc.frameCount = frames.length;
    fc.offset = offset;
    fc.length = length;
    const cmd: SimCmd = {
      id: this.nextId++,
      kind,
      lun,
      lba,
      blocks,
      value,
      frames,
      offset,
      length,
      fc,
      submitted: this.tick,
      completions: 0,
      rqid: -1,
      eh: 0,
      ehAt: 0,
      target: target ?? null,
      revoked: false,
      unplugged: false,
      abortable: false,
      covered: null,
      histLen: null,
      preLoss: null,
      tapeOp: null,
    };
    switch (kind) {
      case "read":
        fc.setCdb(rw10(0x28, lba, blocks));
        fc.direction = DMA_FROM_DEVICE;
        break;
      case "write":
        fc.setCdb(rw10(0x2a, lba, blocks));
        fc.direction = DMA_TO_DEVICE;
        for (let b = 0; b < blocks; b++)
          writePattern(g.mem.bytes, frames, offset + b * SIM_BLOCK, lba + b, value);
        break;
      case "sync":
        fc.setCdb([0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        fc.direction = DMA_NONE;
        break;
      case "tur":
        fc.setCdb([0, 0, 0, 0, 0, 0]);
        fc.direction = DMA_NONE;
        break;
      case "abort":
        fc.act = VSCSIIF_ACT_SCSI_ABORT;
        fc.refRqid = target!.rqid;
        fc.direction = DMA_NONE;
        break;
      case "reset":
        fc.act = VSCSIIF_ACT_SCSI_RESET;
        fc.direction = DMA_NONE;
        break;
      case "tape":
        break; // submitTape sets the CDB and the data
    }
    fc.onComplete = () => this.completed(g, cmd);
    return cmd;
  }

  /** Submit to the frontend and account for it; false when the frontend is busy. */
  private send(g: SimGuest, cmd: SimCmd): boolean {
    const r = g.front.submit(cmd.fc);
    if (r !== "queued") return false;
    if (cmd.completions > 0) return true; // failed at once (too large): already accounted
    cmd.rqid = cmd.fc.rqid;
    cmd.submitted = this.tick;
    g.inflight.add(cmd);
    g.unflushed = true;
    if (!g.plugged[cmd.lun]) cmd.unplugged = true;
    this.stats.submitted++;
    const model = g.models[cmd.lun]!;
    for (let b = cmd.lba; b < cmd.lba + cmd.blocks; b++) {
      model.busy[b]!++;
      if (cmd.kind === "write") {
        model.hist[b]!.push(cmd.value);
        model.pending[b]!.add(cmd.value);
      }
    }
    if (cmd.kind === "sync") {
      cmd.covered = model.cur.map((c, b) => new Set([...c, ...model.pending[b]!]));
      cmd.histLen = model.hist.map((h) => h.length);
    }
    if (cmd.kind === "abort" || cmd.kind === "reset") {
      this.tmfs.add(cmd);
      for (const c of g.inflight) if (c.lun === cmd.lun && c !== cmd) c.abortable = true;
    } else {
      // A TMF already in flight may still reach a command submitted after it.
      for (const t of this.tmfs) if (t.lun === cmd.lun && g.inflight.has(t)) cmd.abortable = true;
    }
    return true;
  }

  private push(g: SimGuest): string {
    g.unflushed = false;
    return g.front.flush() ? "notify" : "";
  }

  private backEvent(g: SimGuest): string {
    g.backPending = false;
    if (g.hback !== null) {
      const did = g.hback.service(this.scenario.hostileBackend!, this.choose);
      if (did.endsWith("more")) g.backPending = true;
      return did;
    }
    const more = g.vhost.service();
    if (more) g.backPending = true; // budget spent: the driver runs the ring again later
    return more ? "budget" : "";
  }

  private attack(g: SimGuest, h: HostileFront): string {
    const as = this.scenario.hostile!;
    const a = as[this.choose.pick(as.length)]!;
    g.opsLeft--;
    return `${a}: ${h.attack(a, this.choose)}`;
  }

  private hostileDrain(g: SimGuest, h: HostileFront): string {
    g.frontPending = false;
    const n = h.drain((bytes, off) => {
      const leak = responseLeak(bytes, off);
      if (leak !== null) throw this.violation("response-padding", `g${g.index}: a response leaks: ${leak}`);
    });
    return `${n} rsp (dropped)`;
  }

  private frontEvent(g: SimGuest): string {
    g.frontPending = false;
    return `${g.front.service()} rsp`;
  }

  private complete(g: SimGuest, d: SimDevice): string {
    if (g.destroyed) this.deviceRan.add(g);
    const k = this.choose.pick(completable(d));
    const i = completableIndex(d, k);
    const t = d.queue[i]!;
    const tag = t.task.tag;
    d.completeAt(i);
    return `tag ${tag}${t.fail ? " MEDIUM ERROR" : ""}`;
  }

  private overdue(g: SimGuest): SimCmd | null {
    const limit = this.scenario.timeoutTicks;
    for (const c of g.inflight) {
      if (c.kind === "abort" || c.kind === "reset" || c.eh >= 2) continue;
      const since = c.eh === 0 ? c.submitted : c.ehAt;
      if (this.tick - since < limit) continue;
      if (c.eh === 1 && [...g.inflight].some((t) => t.target === c)) continue; // its ABORT is out
      return c;
    }
    return null;
  }

  private nextTimeout(): number | null {
    let best: number | null = null;
    const limit = this.scenario.timeoutTicks;
    for (const g of this.guests) {
      if (g.destroyed || g.front.state !== "connected") continue;
      for (const c of g.inflight) {
        if (c.kind === "abort" || c.kind === "reset" || c.eh >= 2) continue;
        const at = (c.eh === 0 ? c.submitted : c.ehAt) + limit;
        if (best === null || at < best) best = at;
      }
    }
    return best;
  }

  /** The guest's SCSI error handler: ABORT the overdue command, then reset its LUN. */
  private errorHandler(g: SimGuest): string {
    const c = this.overdue(g)!;
    const kind: Kind = c.eh === 0 ? "abort" : "reset";
    const tmf = this.makeCmd(g, kind, c.lun, 0, 0, c)!; // no data pages: never out of memory
    if (!this.send(g, tmf)) {
      c.ehAt = this.tick; // ring full: try again after another timeout
      return `${kind} for #${c.id} busy`;
    }
    c.eh++;
    c.ehAt = this.tick;
    g.unflushed = false;
    g.front.flush();
    return `#${tmf.id} ${kind} for #${c.id} (rqid ${c.rqid})`;
  }

  // ---- faults ----

  private fault(): string {
    const fs = this.scenario.faults;
    const f = fs[this.choose.pick(fs.length)]!;
    const live = this.guests.filter((g) => !g.destroyed);
    if (live.length === 0) return `${f}: no guest`;
    const g = live[this.choose.pick(live.length)]!;
    this.stats.faults++;
    return `${f} g${g.index}: ${this.inject(f, g)}`;
  }

  private inject(f: FaultClass, g: SimGuest): string {
    const s = this.scenario;
    switch (f) {
      case "hot-unplug": {
        const l = this.choose.pick(s.luns);
        const disk = g.disks[l]!;
        if (g.plugged[l]) {
          g.vhost.translations.remove(0, 0, l);
          disk.removeNexus(g.vhost.initiator);
          g.plugged[l] = false;
          for (const c of g.inflight) if (c.lun === l) c.unplugged = true;
          return `l${l} detached`;
        }
        g.vhost.translations.add({
          v: { chn: 0, tgt: 0, lun: l },
          device: disk,
          physLun: 0,
          pdev: disk.name,
        });
        disk.addNexus(g.vhost.initiator);
        g.plugged[l] = true;
        return `l${l} attached`;
      }
      case "guest-destroy": {
        if (this.guests.filter((x) => !x.destroyed).length < 2) return "kept (last guest)";
        // The toolstack gave up on the frontend: scsiback abandons what it holds, then the domain goes.
        g.vhost.abandonAll();
        g.destroyed = true;
        if (g.mapper.mapped() !== 0) {
          throw this.violation(
            "cleanup",
            `g${g.index} destroyed with ${g.mapper.mapped()} grants still mapped`,
          );
        }
        g.snapshot = g.mem.bytes.slice();
        for (const c of g.inflight) {
          const model = g.models[c.lun]!;
          for (let b = c.lba; b < c.lba + c.blocks; b++) model.busy[b]!--;
        }
        return `destroyed with ${g.inflight.size} in flight`;
      }
      case "grant-revoke": {
        const cands = [...g.inflight].filter((c) => c.frames.length > 0);
        if (cands.length === 0) return "nothing granted";
        const c = cands[this.choose.pick(cands.length)]!;
        let ended = 0;
        let refused = 0;
        for (const [ref, grant] of [...g.mem.grants]) {
          if (!c.frames.includes(grant.frame)) continue;
          if (g.mem.revoke(ref)) ended++;
          else refused++;
        }
        if (ended > 0) c.revoked = true;
        return `#${c.id}: ${ended} ended, ${refused} refused (mapped)`;
      }
      case "abort-storm": {
        const n = 1 + this.choose.pick(4);
        const sent: string[] = [];
        for (let i = 0; i < n; i++) {
          const cands = [...g.inflight].filter((c) => c.kind !== "abort" && c.kind !== "reset");
          const useReset = this.choose.pick(4) === 0;
          let tmf: SimCmd;
          if (useReset || cands.length === 0) {
            tmf = this.makeCmd(g, "reset", this.choose.pick(s.luns), 0, 0)!;
          } else {
            const victim = cands[this.choose.pick(cands.length)]!;
            tmf = this.makeCmd(g, "abort", victim.lun, 0, 0, victim)!;
          }
          if (!this.send(g, tmf)) break;
          sent.push(`#${tmf.id} ${describe(tmf)}`);
        }
        return sent.join(", ") || "ring full";
      }
      case "spurious-event":
        if (this.choose.pick(2) === 0) g.backPending = true;
        else g.frontPending = true;
        return "";
      case "device-hang":
      case "device-error": {
        const l = this.choose.pick(s.luns);
        const q = g.disks[l]!.queue.filter((t) => !t.hung && !t.fail);
        if (q.length === 0) return `l${l} idle`;
        const t = q[this.choose.pick(q.length)]!;
        if (f === "device-hang") t.hung = true;
        else t.fail = true;
        return `l${l} tag ${t.task.tag}`;
      }
      case "power-loss": {
        const l = this.choose.pick(s.luns);
        const lost = g.disks[l]!.powerLoss();
        const model = g.models[l]!;
        for (const c of g.inflight) {
          if (c.lun !== l) continue;
          c.preLoss ??= Array.from({ length: c.blocks }, () => new Set<number>()); // (empty for SYNC: a marker)
          for (let b = 0; b < c.blocks; b++) for (const v of model.cur[c.lba + b]!) c.preLoss[b]!.add(v);
        }
        for (let b = 0; b < s.blocks; b++) {
          const now = new Set([...model.stable[b]!, ...model.pending[b]!]);
          model.cur[b] = now;
        }
        return `l${l} lost ${lost} cached blocks`;
      }
    }
  }

  // ---- completion and the invariants ----

  private completed(g: SimGuest, cmd: SimCmd): void {
    cmd.completions++;
    if (cmd.completions > 1)
      throw this.violation("exactly-once", `#${cmd.id} completed ${cmd.completions} times`);
    if (g.destroyed)
      throw this.violation("exactly-once", `#${cmd.id} completed after its guest was destroyed`);
    if (cmd.rqid < 0 && !g.inflight.has(cmd)) return; // failed at submit (too large): not in flight
    if (!g.inflight.has(cmd))
      throw this.violation("exactly-once", `#${cmd.id} completed but was never in flight`);
    g.inflight.delete(cmd);
    this.tmfs.delete(cmd);
    this.stats.completed++;
    const model = g.models[cmd.lun]!;
    for (let b = cmd.lba; b < cmd.lba + cmd.blocks; b++) {
      model.busy[b]!--;
      if (cmd.kind === "write") model.pending[b]!.delete(cmd.value);
    }
    const fc = cmd.fc;
    if (cmd.kind === "tape") {
      this.tapeCompleted(g, cmd);
      this.freeFrames(g, cmd);
      return;
    }
    if (g.hback !== null) {
      // Under a hostile backend only exactly-once and the canaries hold: results and data are its.
      this.log(`  g${g.index} #${cmd.id} done rslt 0x${fc.rslt.toString(16)}`);
      this.checkCanaries(g, cmd);
      this.freeFrames(g, cmd);
      return;
    }
    const good = fc.host === DID_OK && fc.status === SAM_STAT_GOOD;
    this.log(
      `  g${g.index} #${cmd.id} done rslt 0x${fc.rslt.toString(16)}${cmd.preLoss ? " (power lost meanwhile)" : ""}`,
    );
    this.checkResult(g, cmd);
    this.checkCanaries(g, cmd);
    if (cmd.kind === "write") {
      for (let b = cmd.lba; b < cmd.lba + cmd.blocks; b++) {
        if (good && cmd.preLoss === null) {
          model.cur[b] = new Set([cmd.value]);
          if (this.scenario.writeCache) model.stable[b]!.add(cmd.value);
          else model.stable[b] = new Set([cmd.value]);
        } else {
          model.cur[b]!.add(cmd.value);
          model.stable[b]!.add(cmd.value);
        }
      }
      if (good) this.stats.bytes += cmd.length;
    } else if (cmd.kind === "read" && good) {
      for (let b = 0; b < cmd.blocks; b++) {
        const v = readPattern(g.mem.bytes, cmd.frames, cmd.offset + b * SIM_BLOCK, cmd.lba + b);
        const allowed = model.cur[cmd.lba + b]!;
        if (v < 0 || !(allowed.has(v) || cmd.preLoss?.[b]?.has(v))) {
          throw this.violation(
            "read-back",
            `g${g.index} l${cmd.lun} block ${cmd.lba + b}: read ${v < 0 ? "garbage" : `value ${v}`}, expected one of {${[...allowed].join(",")}} (#${cmd.id})`,
          );
        }
        // What was read is what the block holds now, unless power was lost after the device read it.
        if (cmd.preLoss === null) model.cur[cmd.lba + b] = new Set([v]);
      }
      this.stats.bytes += cmd.length;
    } else if (cmd.kind === "sync" && good && cmd.covered && cmd.histLen && cmd.preLoss === null) {
      for (let b = 0; b < model.stable.length; b++) {
        model.stable[b] = new Set([...cmd.covered[b]!, ...model.hist[b]!.slice(cmd.histLen[b]!)]);
      }
    }
    this.freeFrames(g, cmd);
  }

  private checkResult(g: SimGuest, cmd: SimCmd): void {
    const fc = cmd.fc;
    const bad = (why: string) =>
      this.violation(
        "allowed-result",
        `g${g.index} #${cmd.id} ${describe(cmd)}: ${why} (rslt 0x${fc.rslt.toString(16)})`,
      );
    const frontFailed = g.front.state === "error";
    if (cmd.kind === "abort" || cmd.kind === "reset") {
      if (fc.rslt === XEN_VSCSIIF_RSLT_RESET_SUCCESS || fc.rslt === XEN_VSCSIIF_RSLT_RESET_FAILED) return;
      if (fc.host === DID_NO_CONNECT && (!g.plugged[cmd.lun] || cmd.unplugged)) return;
      if (frontFailed) return;
      throw bad("a task-management request not answered SUCCESS or FAILED");
    }
    if (fc.host === DID_OK) {
      if (fc.status === SAM_STAT_GOOD) {
        if (fc.residual !== 0) throw bad(`GOOD with residual ${fc.residual}`);
        return;
      }
      if (fc.status === SAM_STAT_CHECK_CONDITION && this.scenario.faults.includes("device-error")) return;
      throw bad(`status 0x${fc.status.toString(16)}`);
    }
    if (fc.host === DID_NO_CONNECT && (cmd.unplugged || !g.plugged[cmd.lun])) return;
    if (fc.host === DID_ABORT && (cmd.abortable || cmd.unplugged)) return;
    if (fc.host === DID_ERROR && (cmd.revoked || frontFailed)) return;
    throw bad(`host byte ${fc.host}`);
  }

  private checkCanaries(g: SimGuest, cmd: SimCmd): void {
    const mem = g.mem.bytes;
    const end = cmd.offset + cmd.length;
    for (let i = 0; i < cmd.frames.length; i++) {
      const base = cmd.frames[i]! * PAGE;
      for (let o = 0; o < PAGE; o++) {
        const at = i * PAGE + o;
        if (at >= cmd.offset && at < end) continue;
        if (mem[base + o] !== CANARY) {
          throw this.violation(
            "canaries",
            `g${g.index} #${cmd.id}: byte ${o} of frame ${cmd.frames[i]} outside the ${cmd.length}-byte buffer changed`,
          );
        }
      }
    }
    if (cmd.kind === "write" && cmd.fc.host !== DID_ERROR) {
      for (let b = 0; b < cmd.blocks; b++) {
        if (readPattern(mem, cmd.frames, cmd.offset + b * SIM_BLOCK, cmd.lba + b) !== cmd.value) {
          throw this.violation(
            "canaries",
            `g${g.index} #${cmd.id}: the data of a WRITE (granted read-only) changed`,
          );
        }
      }
    }
  }

  private freeFrames(g: SimGuest, cmd: SimCmd): void {
    for (const f of cmd.frames) g.mem.freeFrame(f);
    cmd.frames.length = 0;
  }

  /** The checks after every step. */
  private checkStep(): void {
    for (const g of this.guests) {
      if (g.destroyed) {
        if (!this.deviceRan.has(g)) continue;
        this.deviceRan.delete(g);
        if (g.snapshot !== null && !Buffer.from(g.snapshot).equals(Buffer.from(g.mem.bytes.buffer))) {
          throw this.violation("canaries", `g${g.index}'s memory changed after the domain was destroyed`);
        }
        continue;
      }
      if (!allWords(g.guardWords, GUARD_WORD)) {
        throw this.violation("canaries", `g${g.index}: a never-granted guard page changed`);
      }
      if (g.hostile !== null || g.hback !== null) continue;
      this.checkWire(g);
      if (g.mem.endsWhileMapped > 0) {
        throw this.violation(
          "grants-at-completion",
          `g${g.index}: scsifront ended a grant the backend still maps`,
        );
      }
      if (g.front.state === "error") {
        throw this.violation("grants-at-completion", `g${g.index}: scsifront failed: ${g.front.errorReason}`);
      }
      for (const d of g.disks) {
        if (d.completedTwice > 0) throw this.violation("exactly-once", `${d.name}: a task completed twice`);
        if (d instanceof SimTape && d.uaMissed.length > 0) {
          throw this.violation(
            "unit-attention",
            `${d.name}: after a reset or a new nexus the drive answered without a unit attention: ${d.uaMissed[0]}`,
          );
        }
      }
    }
  }

  /** Read what crossed the ring since the last step: ring.h's index invariant and rqid pairing. */
  private checkWire(g: SimGuest): void {
    const r = g.sring;
    const size = r.size;
    const reqProd = r.reqProd;
    const rspProd = r.rspProd;
    const outstandingOnRing = (reqProd - rspProd) >>> 0;
    if (outstandingOnRing > size) {
      throw this.violation(
        "ring-indices",
        `g${g.index}: req_prod - rsp_prod = ${outstandingOnRing} > ${size}`,
      );
    }
    const newReq = (reqProd - g.seenReq) >>> 0;
    const newRsp = (rspProd - g.seenRsp) >>> 0;
    if (newReq > size || newRsp > size) {
      throw this.violation(
        "ring-indices",
        `g${g.index}: a producer moved ${Math.max(newReq, newRsp)} > ${size} in one step`,
      );
    }
    const bytes = r.bytes;
    while (g.seenReq !== reqProd) {
      const off = r.slotOffset(g.seenReq);
      const rqid = bytes[off]! | (bytes[off + 1]! << 8);
      if (g.outstanding.has(rqid)) {
        throw this.violation(
          "rqid-unique",
          `g${g.index}: rqid ${rqid} put on the ring while still outstanding`,
        );
      }
      g.outstanding.set(rqid, g.seenReq);
      g.seenReq = (g.seenReq + 1) >>> 0;
    }
    while (g.seenRsp !== rspProd) {
      const off = r.slotOffset(g.seenRsp);
      const leak = responseLeak(bytes, off);
      if (leak !== null) throw this.violation("response-padding", `g${g.index}: a response leaks: ${leak}`);
      const rqid = bytes[off]! | (bytes[off + 1]! << 8);
      if (!g.outstanding.delete(rqid)) {
        throw this.violation(
          "rqid-unique",
          `g${g.index}: response for rqid ${rqid}, which is not outstanding`,
        );
      }
      g.seenRsp = (g.seenRsp + 1) >>> 0;
    }
  }

  /** After the drain: every command done, nothing held. */
  private finalChecks(): void {
    for (const g of this.guests) {
      if (g.destroyed) continue;
      if (g.hostile !== null) {
        // The hostile guest is destroyed: scsiback lets go of everything it held for it.
        g.vhost.abandonAll();
        if (g.mapper.mapped() !== 0) {
          throw this.violation(
            "cleanup",
            `hostile g${g.index}: ${g.mapper.mapped()} grants still mapped after teardown`,
          );
        }
        if (g.mem.badUnmaps.length !== 0) {
          throw this.violation(
            "cleanup",
            `hostile g${g.index}: scsiback unmapped handle ${g.mem.badUnmaps[0]}, not mapped`,
          );
        }
        continue;
      }
      if (g.hback !== null) {
        // Commands the hostile backend never answered may stay in flight, unless the host failed.
        if (g.front.state === "error" && g.inflight.size > 0) {
          throw this.violation(
            "exactly-once",
            `g${g.index}: scsifront failed but left ${g.inflight.size} commands hanging`,
          );
        }
        continue;
      }
      if (g.inflight.size > 0) {
        const c = [...g.inflight][0]!;
        throw this.violation(
          "liveness",
          `g${g.index}: ${g.inflight.size} commands never completed, e.g. #${c.id} ${describe(c)} (rqid ${c.rqid})`,
        );
      }
      if (g.vhost.inFlight !== 0)
        throw this.violation("cleanup", `g${g.index}: scsiback holds ${g.vhost.inFlight} requests`);
      if (g.mapper.mapped() !== 0) {
        throw this.violation("cleanup", `g${g.index}: ${g.mapper.mapped()} grants still mapped by scsiback`);
      }
      if (g.mem.grants.size !== 0)
        throw this.violation("cleanup", `g${g.index}: ${g.mem.grants.size} grants still live`);
      if (g.mem.badUnmaps.length !== 0) {
        throw this.violation(
          "cleanup",
          `g${g.index}: scsiback unmapped handle ${g.mem.badUnmaps[0]}, not mapped`,
        );
      }
      if (g.outstanding.size !== 0) {
        throw this.violation(
          "rqid-unique",
          `g${g.index}: rqids ${[...g.outstanding.keys()]} never answered on the ring`,
        );
      }
      // Teardown: the ring is drained and both ends let go.
      g.vhost.beginDrain();
      g.vhost.disconnect();
      g.front.disconnect();
    }
  }
}

function describe(c: SimCmd): string {
  switch (c.kind) {
    case "read":
    case "write":
      return `${c.kind} l${c.lun} lba ${c.lba}+${c.blocks} off ${c.offset}${c.kind === "write" ? ` v${c.value}` : ""}`;
    case "abort":
      return `abort l${c.lun} #${c.target?.id} rqid ${c.fc.refRqid}`;
    case "tape": {
      const o = c.tapeOp!;
      return `tape ${o.op}${o.op === "write" || o.op === "read" ? ` gen ${o.gen} rec ${o.index}${o.count > 1 ? `+${o.count}` : ""} ${o.bytes} B${o.excess ? ` (+${o.excess})` : ""}` : o.op === "space" ? ` ${o.count}` : o.op === "mode" ? (o.fixed ? " fixed 512" : " variable") : ""}`;
    }
    default:
      return `${c.kind} l${c.lun}`;
  }
}

function rw10(op: number, lba: number, blocks: number): number[] {
  return [
    op,
    0,
    (lba >>> 24) & 0xff,
    (lba >>> 16) & 0xff,
    (lba >>> 8) & 0xff,
    lba & 0xff,
    0,
    (blocks >>> 8) & 0xff,
    blocks & 0xff,
    0,
  ];
}

/** Byte `i` of a tape command's data: fixed-mode data is one record per block. */
function tapeByte(o: TapeOp, i: number): number {
  if (!o.fixed) return recordByte(o.gen, o.index, i);
  return recordByte(o.gen, o.index + Math.floor(i / TAPE_FIXED_BLOCK), i % TAPE_FIXED_BLOCK);
}

/** Byte `at` of a buffer spread over `frames` (data starts in the first frame). */
function addr(frames: readonly number[], at: number): number {
  return frames[Math.floor(at / PAGE)]! * PAGE + (at % PAGE);
}

/** A block holding `value` at `lba`: lba and value up front, then a pattern of both; 0 is zeros. */
function writePattern(
  mem: Uint8Array,
  frames: readonly number[],
  at: number,
  lba: number,
  value: number,
): void {
  for (let i = 0; i < SIM_BLOCK; i++) mem[addr(frames, at + i)] = patternByte(i, lba, value);
}

function patternByte(i: number, lba: number, value: number): number {
  if (value === 0) return 0;
  if (i < 4) return (lba >>> (8 * i)) & 0xff;
  if (i < 8) return (value >>> (8 * (i - 4))) & 0xff;
  return (value * 131 + i + lba) & 0xff;
}

/** The value a block holds, or -1 when it is no block the simulator wrote there. */
function readPattern(mem: Uint8Array, frames: readonly number[], at: number, lba: number): number {
  let value = 0;
  for (let i = 4; i < 8; i++) value |= mem[addr(frames, at + i)]! << (8 * (i - 4));
  value >>>= 0;
  for (let i = 0; i < SIM_BLOCK; i++) if (mem[addr(frames, at + i)] !== patternByte(i, lba, value)) return -1;
  return value;
}

function allWords(w: Int32Array, v: number): boolean {
  for (let i = 0; i < w.length; i++) if (w[i] !== v) return false;
  return true;
}
