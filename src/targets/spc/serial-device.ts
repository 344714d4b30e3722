import { type Initiator, SAM_STAT_TASK_ABORTED, type ScsiTask, type TmfResponse } from "../../scsi/device.js";
import type { Handled } from "./command.js";
import { SpcDevice } from "./spc-device.js";

/** Something waiting for the device: a guest's task, or a host-side job (a changer's load). */
type Job = ScsiTask | (() => void);

/**
 * An {@link SpcDevice} that runs one command at a time, in arrival order — a tape drive or a
 * medium changer, whose commands all act on one mechanism (a tape's position, a robot). A task
 * that arrives while another is running waits; its SPC checks (unit attention, reservation,
 * readiness) run when its turn comes, so they see the state the earlier commands left.
 *
 * A task that completes inside `submit` never waits: with synchronous stores the device is as
 * deterministic as any other (tests drive it with `execSync`). A handler that starts I/O sets
 * `deferred`; the next task starts once the handler's task has completed. A handler that
 * completes its task before its I/O is done (IMMED) calls {@link holdUntilIo} first and
 * {@link ioSettled} from the I/O callback, so no later command can see the I/O half done.
 *
 * Host-side jobs (a changer moving a cartridge into a drive) queue like tasks through
 * {@link runExclusive} and must call {@link jobDone} exactly once.
 */
export abstract class SerialSpcDevice extends SpcDevice {
  private readonly waiting: Job[] = [];
  private running: Job | null = null;
  private draining = false;
  private holding = false;
  private readonly idleWaiters: Array<() => void> = [];

  override submit(task: ScsiTask): void {
    if (this.running !== null || this.waiting.length > 0) {
      this.waiting.push(task);
      return;
    }
    this.start(task);
  }

  /** Whether a task or job is running or waiting. */
  get busy(): boolean {
    return this.running !== null || this.waiting.length > 0;
  }

  /** Resolves once nothing is running or waiting. */
  idle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Queue a host-side job; it runs when every earlier task has completed and must call {@link jobDone}. */
  protected runExclusive(job: () => void): void {
    if (this.running !== null || this.waiting.length > 0) {
      this.waiting.push(job);
      return;
    }
    this.start(job);
  }

  /** The running host-side job is finished. */
  protected jobDone(): void {
    this.release();
  }

  /** Keep later tasks waiting after the running task completes, until {@link ioSettled}. */
  protected holdUntilIo(): void {
    this.holding = true;
  }

  /** The I/O a completed task left running is done: let the next task start. */
  protected ioSettled(): void {
    if (!this.holding) return;
    this.holding = false;
    this.running = null;
    this.drain();
  }

  private start(job: Job): void {
    this.running = job;
    if (typeof job === "function") job();
    else super.submit(job);
  }

  private release(): void {
    if (this.holding) return; // the task is done; its I/O is not
    this.running = null;
    this.drain();
  }

  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.running === null && !this.holding && this.waiting.length > 0) {
        this.start(this.waiting.shift()!);
      }
    } finally {
      this.draining = false;
    }
    if (this.running === null && !this.holding && this.waiting.length === 0) {
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  // ---- completions: the running task is done, start the next ------------------------------------

  protected override good(task: ScsiTask, transferred: number): Handled {
    const h = super.good(task, transferred);
    if (this.running === task) this.release();
    return h;
  }

  protected override check(
    task: ScsiTask,
    code: number,
    sks?: number,
    information?: number,
    senseFlags?: number,
  ): Handled {
    const h = super.check(task, code, sks, information, senseFlags);
    if (this.running === task) this.release();
    return h;
  }

  protected override checkWithData(
    task: ScsiTask,
    code: number,
    transferred: number,
    information: number,
    senseFlags: number,
  ): Handled {
    const h = super.checkWithData(task, code, transferred, information, senseFlags);
    if (this.running === task) this.release();
    return h;
  }

  protected override conflict(task: ScsiTask): Handled {
    const h = super.conflict(task);
    if (this.running === task) this.release();
    return h;
  }

  // ---- task management ------------------------------------------------------------------------

  /** ABORT TASK: a waiting task is completed TASK ABORTED; a running one is waited for. */
  override abortTask(initiator: Initiator, tag: number): TmfResponse | Promise<TmfResponse> {
    for (let i = 0; i < this.waiting.length; i++) {
      const j = this.waiting[i]!;
      if (typeof j !== "function" && j.initiator.id === initiator.id && j.tag === tag) {
        this.waiting.splice(i, 1);
        j.done(SAM_STAT_TASK_ABORTED, 0, 0);
        return "complete";
      }
    }
    const r = this.running;
    if (r !== null && typeof r !== "function" && r.initiator.id === initiator.id && r.tag === tag) {
      return this.idle().then(() => "complete" as const);
    }
    return "not-found";
  }

  /** LOGICAL UNIT RESET: waiting tasks are aborted, the running one finishes, then the reset. */
  override lunReset(initiator: Initiator): TmfResponse | Promise<TmfResponse> {
    const keep: Job[] = [];
    for (const j of this.waiting.splice(0)) {
      if (typeof j === "function") keep.push(j);
      else j.done(SAM_STAT_TASK_ABORTED, 0, 0);
    }
    this.waiting.push(...keep);
    if (!this.busy) return super.lunReset(initiator);
    return this.idle().then(() => super.lunReset(initiator));
  }
}
