import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FrontCommand } from "../scsifront/frontend.js";
import { BackendKernel } from "../system/backend-kernel.js";
import { GuestKernel } from "../system/guest-kernel.js";
import { LocalSystem } from "../system/single-thread.js";
import { Host } from "../toolstack/host.js";
import { TraceBuffer } from "../trace/trace-buffer.js";
import { setTracer } from "../trace/tracer.js";
import { VSCSIIF_ACT_SCSI_ABORT } from "../vscsiif/constants.js";
import type { LiveControl, LiveRecording } from "./controls.js";
import { LESSON, type LessonApi } from "./lesson.js";
import { Observer, type Snapshot } from "./observer.js";

/** dom0's devices in the live view: a RAM disk and a CD-ROM, so hot-plug has something to add. */
export const LIVE_VIEW_HOST_CONFIG = "[disk 0:0:0:0]\nsize = 16M\n[disk 0:0:1:0]\nsize = 4M\n";
/** The guest the live view starts with: one controller, one disk. */
export const LIVE_VIEW_GUEST = `name = "learner"\nmemory = 16\nvscsi = [ '0:0:0:0,0:0:0:0' ]\n`;

/** Options of {@link LiveView.start}. */
export interface LiveViewOptions {
  /** Start in the guided lesson ({@link LESSON}). */
  readonly lesson?: boolean;
}

/**
 * The machine behind `pvscsi ui`: the whole toolstack in one thread ({@link LocalSystem}) with a
 * guest connected, a trace recorder, an {@link Observer}, and the controls — run, pause, step one
 * core action, queue reads, and faults (ABORT, hot-unplug, revoke a grant, stall the backend,
 * indices near 2^32). Paused until told otherwise; each change calls the listeners.
 */
export class LiveView {
  private seq = 0;
  private steps = 0;
  private running = false;
  private speed = 1;
  private readonly log: string[] = [];
  private readonly listeners = new Set<() => void>();
  private lessonIndex: number | null = null;
  private runner: Promise<void> | null = null;
  private closed = false;
  private busy: Promise<unknown> = Promise.resolve();
  private readonly journal: Array<{ atStep: number; control: LiveControl }> = [];
  private replaying = false;

  private constructor(
    readonly sys: LocalSystem,
    readonly host: Host,
    readonly observer: Observer,
    readonly trace: TraceBuffer,
    private readonly dir: string,
  ) {}

  /** Boot the machine, create the guest, settle, and pause. */
  static async start(options: LiveViewOptions = {}): Promise<LiveView> {
    const dir = mkdtempSync(join(tmpdir(), "pvscsi-ui-"));
    const trace = TraceBuffer.create({ records: 1 << 15 });
    setTracer(trace);
    const sys = await LocalSystem.start({
      hostConfig: { text: LIVE_VIEW_HOST_CONFIG, source: "live-view.conf", baseDir: dir },
    });
    const host = new Host(sys, { guestRoots: join(dir, "guests") });
    const view = new LiveView(sys, host, new Observer(sys, trace), trace, dir);
    if (options.lesson) {
      await view.goToLesson(0);
    } else {
      await sys.run(host.create(LIVE_VIEW_GUEST, "learner.cfg"));
      view.note("xl create learner.cfg: the guest is connected (paused: press step or run)");
    }
    view.snapshot(); // selects the first controller, as a page opening now would see it
    return view;
  }

  /** Called after every change (a step, a control). */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The view now. */
  snapshot(): Snapshot {
    const lesson =
      this.lessonIndex === null
        ? null
        : {
            index: this.lessonIndex,
            count: LESSON.length,
            title: LESSON[this.lessonIndex]!.title,
            text: LESSON[this.lessonIndex]!.text,
          };
    return this.observer.snapshot({
      seq: this.seq,
      steps: this.steps,
      running: this.running,
      log: [...this.log],
      lesson,
    });
  }

  /** Apply a control; resolves when it has been applied (not when what it started finishes). */
  control(c: LiveControl): Promise<void> {
    const next = this.busy.then(() => this.apply(c));
    this.busy = next.catch(() => undefined);
    return next;
  }

  /** This session so far, to save and replay ({@link replay}). */
  recording(): LiveRecording {
    return { version: 1, entries: this.journal.map((e) => ({ ...e })), steps: this.steps };
  }

  /**
   * Repeat `rec` on this (fresh) machine: each control after the same number of core actions as
   * when it was recorded, then the remaining steps. The toolstack's real timers aside (hot-plug
   * waits on them), the machine ends in the recorded state.
   */
  async replay(rec: LiveRecording): Promise<void> {
    if (rec.version !== 1 || !Array.isArray(rec.entries))
      throw new Error("replay: not a pvscsi ui recording (version 1)");
    this.replaying = true;
    try {
      for (const e of rec.entries) {
        while (this.steps < e.atStep) if (!(await this.stepOnce())) break;
        await this.apply(e.control);
      }
      while (this.steps < rec.steps) if (!(await this.stepOnce())) break;
    } finally {
      this.replaying = false;
    }
    this.note(`replayed a recording: ${rec.entries.length} controls, ${rec.steps} core actions`);
  }

  /** Stop running and release the machine and its temporary folder. */
  async close(): Promise<void> {
    this.closed = true;
    this.running = false;
    await this.runner;
    try {
      await this.sys.run(this.host.shutdown());
    } finally {
      setTracer(null);
      rmSync(this.dir, { recursive: true, force: true });
    }
  }

  private changed(): void {
    this.seq++;
    for (const l of this.listeners) l();
  }

  private note(line: string): void {
    this.log.push(line);
    if (this.log.length > 30) this.log.shift();
    this.changed();
  }

  /** One core action (a stalled domain's kernel is skipped). */
  async stepOnce(): Promise<boolean> {
    const ran = await this.sys.step((d) => this.observer.stalled.has(d));
    if (ran === null) return false;
    this.steps++;
    this.note(
      `step ${this.steps}: ${ran.actor} (dom${ran.domid}) ran ${ran.work} thing${ran.work === 1 ? "" : "s"}`,
    );
    return true;
  }

  private async apply(c: LiveControl): Promise<void> {
    // Record what changes the machine; steps are counted, run/pause/select/lesson are the viewer's.
    if (!this.replaying && !["run", "pause", "select", "lesson", "step", "replay"].includes(c.action))
      this.journal.push({ atStep: this.steps, control: c });
    switch (c.action) {
      case "run":
        this.speed = Math.max(1, Math.min(1000, Math.floor(c.speed ?? this.speed)));
        if (!this.running) {
          this.running = true;
          this.runner = this.runLoop();
        }
        this.changed();
        return;
      case "pause":
        this.running = false;
        await this.runner;
        this.changed();
        return;
      case "step": {
        const n = Math.max(1, Math.min(1000, Math.floor(c.count ?? 1)));
        let done = 0;
        for (let i = 0; i < n; i++) if (await this.stepOnce()) done++;
        if (done === 0) this.note("step: nothing is ready to run (queue some reads)");
        return;
      }
      case "reads":
        this.queueReads(Math.max(1, Math.min(4096, c.count ?? 16)), Math.max(1, Math.min(16, c.depth ?? 16)));
        return;
      case "abort":
        this.abort(c.rqid);
        return;
      case "unplug":
        this.background("xl scsi-detach learner 0:0:0:0", this.host.scsiDetach("learner", "0:0:0:0"));
        return;
      case "plug":
        this.background(
          "xl scsi-attach learner 0:0:1:0 0:0:1:0",
          this.host.scsiAttach("learner", "0:0:1:0", "0:0:1:0"),
        );
        return;
      case "revoke":
        this.revoke();
        return;
      case "stall":
        if (c.on) this.observer.stalled.add(0);
        else this.observer.stalled.delete(0);
        this.note(c.on ? "backend stalled: dom0's kernel will not run" : "backend resumed");
        return;
      case "wrap":
        this.wrap();
        return;
      case "select":
        this.observer.domid = c.domid;
        this.observer.devid = c.devid;
        this.observer.reset();
        this.changed();
        return;
      case "lesson":
        await this.goToLesson(c.index);
        return;
      case "replay":
        // Handled by the server, which swaps in a fresh machine ({@link replay}).
        return;
    }
  }

  private async runLoop(): Promise<void> {
    while (this.running && !this.closed) {
      let did = 0;
      for (let i = 0; i < this.speed && this.running; i++) if (await this.stepOnce()) did++;
      // Idle or throttled: wait a little (real time), so timers and the page get their turn.
      await new Promise<void>((resolve) => setTimeout(resolve, did === 0 ? 20 : 50));
    }
  }

  /** Let a toolstack operation progress with the steps; report how it ended. */
  private background(what: string, p: Promise<unknown>): void {
    this.note(`${what}: started (it moves as the machine steps)`);
    p.then(
      () => this.note(`${what}: done`),
      (e: unknown) => this.note(`${what}: failed: ${e instanceof Error ? e.message : String(e)}`),
    );
  }

  private guestHost() {
    const k = this.sys.kernelOf(this.observer.domid);
    if (!(k instanceof GuestKernel)) return null;
    return k.frontend.controllers().find((c) => c.devid === this.observer.devid)?.host ?? null;
  }

  /** `count` READ(10)s of 4 KiB from LUN 0, at most `depth` outstanding. */
  private queueReads(count: number, depth: number): void {
    const host = this.guestHost();
    if (host === null) {
      this.note("reads: the selected controller is not connected");
      return;
    }
    let issued = 0;
    let done = 0;
    let failed = 0;
    const issue = (): void => {
      if (issued >= count) return;
      const lba = issued * 8;
      issued++;
      const cdb = [
        0x28,
        0,
        (lba >>> 24) & 0xff,
        (lba >>> 16) & 0xff,
        (lba >>> 8) & 0xff,
        lba & 0xff,
        0,
        0,
        8,
        0,
      ];
      host.execute({ channel: 0, id: 0, lun: 0, cdb, dataInLength: 4096 }).then(
        (r) => {
          done++;
          if (r.status !== 0 || r.host !== 0) failed++;
          if (done === count) this.note(`reads: ${count} done${failed > 0 ? `, ${failed} failed` : ""}`);
          issue();
        },
        () => {
          done++;
          failed++;
          issue();
        },
      );
    };
    for (let i = 0; i < Math.min(depth, count); i++) issue();
    this.note(`reads: ${count} READ(10) of 4 KiB queued, ${depth} at a time (step to move them)`);
  }

  private abort(rqid: number): void {
    const host = this.guestHost();
    if (host === null) {
      this.note("abort: the selected controller is not connected");
      return;
    }
    const cmd = new FrontCommand(1);
    cmd.act = VSCSIIF_ACT_SCSI_ABORT;
    cmd.refRqid = rqid;
    cmd.onComplete = (c) =>
      this.note(
        `ABORT of rqid ${rqid}: rslt 0x${c.rslt.toString(16)} (${c.tmfSucceeded ? "SUCCESS" : "FAILED: nothing to abort"})`,
      );
    const r = host.frontend.submit(cmd);
    if (r !== "queued") {
      this.note(`ABORT of rqid ${rqid}: not queued (${r})`);
      return;
    }
    host.frontend.flush();
    this.note(`ABORT of rqid ${rqid} submitted as rqid ${cmd.rqid}`);
  }

  /** Try to end access to a grant the backend has mapped: refused (XSA-396 try semantics). */
  private revoke(): void {
    const k = this.sys.kernelOf(this.observer.domid);
    if (!(k instanceof GuestKernel)) return;
    const mapped = this.sys.hv
      .report(this.observer.domid)
      .mappedGrants.filter((g) => g.mapper === 0)
      .map((g) => g.ref);
    const host = this.guestHost();
    const dataRefs = new Set<number>();
    if (host !== null)
      for (let rq = 0; rq < 64; rq++) for (const r of host.frontend.grantsOf(rq)) dataRefs.add(r);
    const ref = mapped.find((r) => dataRefs.has(r)) ?? mapped[0];
    if (ref === undefined) {
      this.note("revoke: no grant of this guest is mapped right now (step until the backend maps one)");
      return;
    }
    const ended = k.ctx.grants.endAccess(ref);
    this.note(
      ended
        ? `revoke: ended access to ref ${ref}`
        : `revoke: gnttab_end_foreign_access_ref(${ref}) refused — dom0 still has it mapped (GTF_reading/writing); the guest must not reuse the page (XSA-396)`,
    );
  }

  /** Move every index of an idle ring close to 2^32, so wrap-around happens in a few requests. */
  private wrap(): void {
    const host = this.guestHost();
    const front = host?.frontend.ring ?? null;
    const k = this.sys.kernelOf(0);
    const back =
      k instanceof BackendKernel ? k.backend.vhostOf(this.observer.domid, this.observer.devid)?.ring : null;
    if (host === null || front === null || back === null || back === undefined) {
      this.note("wrap: the selected controller is not connected");
      return;
    }
    const s = front.sring;
    const idle =
      front.reqProdPvt === front.rspCons &&
      s.reqProd === front.reqProdPvt &&
      s.rspProd === front.rspCons &&
      back.reqCons === s.reqProd &&
      back.rspProdPvt === s.rspProd;
    if (!idle) {
      this.note("wrap: the ring must be idle (nothing in flight) to move its indices");
      return;
    }
    const base = (0x1_0000_0000 - 5) >>> 0;
    front.reqProdPvt = base;
    front.rspCons = base;
    back.reqCons = base;
    back.rspProdPvt = base;
    s.rspProd = base;
    s.reqProd = base;
    s.reqEvent = (base + 1) >>> 0;
    s.rspEvent = (base + 1) >>> 0;
    this.note(
      `wrap: every index is now ${base} (2³² − 5): slot ${base & (s.size - 1)}; five requests to the wrap`,
    );
  }

  private async goToLesson(index: number): Promise<void> {
    const i = Math.max(0, Math.min(LESSON.length - 1, Math.floor(index)));
    this.running = false;
    await this.runner;
    this.lessonIndex = i;
    await LESSON[i]!.enter(this.lessonApi());
    this.changed();
  }

  private lessonApi(): LessonApi {
    return {
      sys: this.sys,
      host: this.host,
      observer: this.observer,
      control: (c: LiveControl) => this.apply(c),
      stepUntil: async (done: (s: Snapshot) => boolean, max = 200) => {
        // Nothing ready may mean a toolstack operation waits on a real timer: wait a little, a few times.
        let idle = 0;
        for (let i = 0; i < max && idle < 50 && !done(this.snapshot()); i++) {
          if (await this.stepOnce()) idle = 0;
          else {
            idle++;
            await new Promise<void>((resolve) => setTimeout(resolve, 2));
          }
        }
      },
      note: (s: string) => this.note(s),
    };
  }
}
