import createDebug from "debug";
import type { EventDispatcher } from "../evtchn/dispatcher.js";
import type { DomainContext } from "../hypervisor/context.js";
import { SharedRing } from "../ring/shared-ring.js";
import { invalidArgument } from "../xen/errors.js";
import { VSCSIIF_ENTRY_SIZE } from "../xen/vscsiif-layout.js";
import { deviceFatal, publishState } from "../xenbus/device-state.js";
import { VSCSI_DEVS, XenbusNode } from "../xenbus/paths.js";
import { SerialQueue } from "../xenbus/serial-queue.js";
import { XenbusState, xenbusStateName } from "../xenbus/state.js";
import { watchState } from "../xenbus/wait-state.js";
import type { XenstoreClient, XsWatchHandle } from "../xenstore/client.js";
import { FrontCommand, Frontend } from "./frontend.js";
import type { GrantAccess, GuestMemory } from "./ports.js";
import type { SavedController } from "./saved-state.js";
import { GuestScsiHost, type ScsiMidlayer } from "./scsi-host.js";

const debug = createDebug("pvscsi:scsifront");

/** What a frontend device needs from the guest's kernel around it. */
export interface FrontendEnv {
  /** The guest domain, as this thread. */
  readonly ctx: DomainContext;
  readonly dispatcher: EventDispatcher;
  readonly xs: XenstoreClient;
  /** The guest's SCSI midlayer, where announced LUNs become devices. */
  readonly scsi: ScsiMidlayer;
  /** A free SCSI host number (`scsiN`); given back with `releaseHostNo`. */
  takeHostNo(): number;
  /** Mark host number `n` used (a resumed kernel's controller keeps its `scsiN`). */
  reserveHostNo(n: number): void;
  releaseHostNo(n: number): void;
  /** The host's event fired: run its handler after dispatch (or at once in poll mode). */
  schedule(host: GuestScsiHost): void;
  /** Whether rings are polled (no response notifications asked for). */
  readonly pollMode: boolean;
  /** A grant the backend still maps at release: end it later, then free its frame (-1: none to free). */
  deferEndAccess(ref: number, frame: number): void;
}

type LunOp = "add" | "del" | "readd";

/**
 * One vscsi controller as Linux's xen-scsifront drives it through xenbus (`drivers/scsi/
 * xen-scsifront.c`: `scsifront_probe`, `scsifront_backend_changed`, `scsifront_do_lun_hotplug`): probe allocates and grants the ring page, allocates the event channel, writes `ring-ref`
 * and `event-channel` in a transaction and goes Initialised; the backend's Connected reads
 * `feature-sg-grant` and adds every LUN the backend reports Initialised (INQUIRY through the
 * ring, then the frontend's `vscsi-devs/dev-N/state` = 4, or 6 on failure); Reconfiguring removes
 * LUNs the backend marks Closing; Reconfigured adds new ones; the backend closing tears it all
 * down and ends every grant.
 */
export class FrontendDevice {
  readonly devid: number;
  /** `/local/domain/<fe>/device/vscsi/<devid>`. */
  readonly dir: string;
  backendDir = "";
  backendDomid = -1;
  state: XenbusState = XenbusState.Initialising;
  host: GuestScsiHost | null = null;
  removed = false;
  onRemoved: (() => void) | null = null;

  private readonly env: FrontendEnv;
  private readonly queue: SerialQueue;
  private watch: XsWatchHandle | null = null;
  private ringFrame = -1;
  private ringRef = -1;
  private port = 0;
  private hostNo = -1;
  /** Suspended (xenbus suspend): backend state changes are not handled until {@link resume}. */
  private suspended = false;
  /** Linux `info->pause` after a resume: the next backend Connected re-adds the LUNs (READD_LUN). */
  private resuming = false;
  /** Commands the resumes of this device completed with DID_RESET. */
  resetCompletions = 0;
  /** How many times this device was resumed onto a new ring. */
  resumes = 0;

  constructor(env: FrontendEnv, devid: number, dir: string) {
    this.env = env;
    this.devid = devid;
    this.dir = dir;
    this.queue = new SerialQueue((e) => debug("%s: %s", dir, e instanceof Error ? e.message : e));
  }

  /** The local event-channel port (0 when not set up). */
  get localPort(): number {
    return this.port;
  }

  /** Linux `scsifront_probe` + `scsifront_init_ring` + `scsifront_talk_to_backend`. */
  probe(): Promise<void> {
    return this.queue.run(async () => {
      const { ctx, xs } = this.env;
      this.backendDir = (await xs.tryRead(`${this.dir}/${XenbusNode.backend}`)) ?? "";
      const beId = Number(await xs.tryRead(`${this.dir}/${XenbusNode.backendId}`));
      if (this.backendDir === "" || !Number.isInteger(beId) || beId < 0 || !ctx.knows(beId)) {
        await this.fatal(`backend ${this.backendDir || "(missing)"} of domain ${beId} is not reachable`);
        return;
      }
      this.backendDomid = beId;

      this.hostNo = this.env.takeHostNo();
      const host = this.makeHost(this.hostNo);
      if (!(await this.initRing(host))) {
        this.env.releaseHostNo(this.hostNo);
        this.hostNo = -1;
        return;
      }
      this.host = host;
      this.env.scsi.addHost(host);
      await this.talkToBackend();
    });
  }

  /** The guest's SCSI host for this controller, over a new (not yet connected) ring core. */
  private makeHost(hostNo: number): GuestScsiHost {
    const ctx = this.env.ctx;
    const memory: GuestMemory = {
      bytes: ctx.memory,
      allocFrame: () => ctx.frames.alloc(),
      allocFrames: (n) => ctx.frames.allocContiguous(n),
      freeFrame: (f) => ctx.frames.free(f),
    };
    // The grant and notify ports follow the device's current backend and port, which a
    // resume changes (a new event channel; on another host, perhaps another backend domain).
    const grants: GrantAccess = {
      grantAccess: (f, readonly) => ctx.grants.grantAccess(this.backendDomid, f, readonly),
      endAccess: (r) => ctx.grants.endAccess(r),
    };
    const frontend = new Frontend({
      backendDomid: this.backendDomid,
      memory,
      grants,
      notifier: { notify: () => ctx.evtchn.send(this.port) },
      // A polling guest never re-arms rsp_event, so the backend sends it no events.
      polling: this.env.pollMode,
    });
    return new GuestScsiHost(hostNo, frontend, memory);
  }

  /**
   * This suspended controller as data ({@link SavedController}), for a kernel saved to resume
   * elsewhere; null when it has no host (never connected, or failed).
   */
  snapshot(): SavedController | null {
    const host = this.host;
    if (!this.suspended || host === null || host.frontend.state !== "connected") return null;
    const page = host.frontend.sharedRing!.bytes;
    let bin = "";
    for (let i = 0; i < page.length; i++) bin += String.fromCharCode(page[i]!);
    return {
      devid: this.devid,
      hostNo: host.hostNo,
      ringFrame: this.ringFrame,
      ringPage: btoa(bin),
      frontend: host.frontend.saveInFlight(),
      waiting: host.saveWaiting(),
    };
  }

  /**
   * A controller of a resumed kernel, as {@link snapshot} saved it, suspended: its SCSI host
   * (same number) on the old ring page from the memory image, its commands holding their rqids
   * again and its waiting ones queued, each adopted by the midlayer. {@link resume} then does
   * the rest, as after any suspend. The old ring's grant and port are not carried (a new domain
   * never had them): the resume frees only the page.
   */
  static restored(env: FrontendEnv, dir: string, saved: SavedController, devid: number): FrontendDevice {
    const dev = new FrontendDevice(env, devid, dir);
    env.reserveHostNo(saved.hostNo);
    dev.hostNo = saved.hostNo;
    const host = dev.makeHost(saved.hostNo);
    const ctx = env.ctx;
    const sring = new SharedRing(
      ctx.memory.buffer,
      ctx.memory.byteOffset + saved.ringFrame * 4096,
      4096,
      VSCSIIF_ENTRY_SIZE,
    );
    sring.traceDomid = ctx.domid;
    sring.traceDevid = devid;
    const bin = atob(saved.ringPage);
    if (bin.length !== sring.bytes.length)
      throw invalidArgument("saved ring page", `${sring.bytes.length} bytes`, bin.length);
    for (let i = 0; i < bin.length; i++) sring.bytes[i] = bin.charCodeAt(i);
    const commands = saved.frontend.inFlight.map((c) => FrontCommand.fromSaved(c));
    host.frontend.restoreInFlight(sring, saved.frontend, commands);
    dev.ringFrame = saved.ringFrame;
    dev.host = host;
    dev.suspended = true;
    dev.state = XenbusState.Connected;
    env.scsi.addHost(host);
    for (const c of commands) dev.adopt(host, c);
    for (const w of saved.waiting) {
      const c = FrontCommand.fromSaved(w);
      dev.adopt(host, c);
      host.requeue(c);
    }
    return dev;
  }

  /** Give a restored command to the midlayer (or, without one that adopts, free its pages when done). */
  private adopt(host: GuestScsiHost, cmd: FrontCommand): void {
    const scsi = this.env.scsi;
    if (scsi.adopt) {
      scsi.adopt(host, cmd);
      return;
    }
    cmd.onComplete = (c) => {
      if (host.frontend.state !== "error")
        for (let i = 0; i < c.frameCount; i++) host.guestMemory.freeFrame(c.frames[i]!);
    };
  }

  /**
   * Linux `scsifront_alloc_ring`: a zeroed page granted to the backend, initialised as the
   * front of a ring (indexes 0), and an unbound event channel for the backend; `host` is
   * connected to it. False (the device fatal) when memory, a grant ref or a port ran out.
   */
  private async initRing(host: GuestScsiHost): Promise<boolean> {
    const ctx = this.env.ctx;
    const beId = this.backendDomid;
    const frame = ctx.frames.alloc();
    if (frame < 0) {
      await this.fatal("no memory for the ring page");
      return false;
    }
    ctx.page(frame).fill(0);
    const ref = ctx.grants.grantAccess(beId, frame, false);
    if (ref < 0) {
      ctx.frames.free(frame);
      await this.fatal("no grant reference for the ring page");
      return false;
    }
    const port = ctx.evtchn.allocUnbound(beId);
    if (port <= 0) {
      ctx.grants.endAccess(ref);
      ctx.frames.free(frame);
      await this.fatal("no event channel");
      return false;
    }
    this.ringFrame = frame;
    this.ringRef = ref;
    this.port = port;
    const sring = new SharedRing(
      ctx.memory.buffer,
      ctx.memory.byteOffset + frame * 4096,
      4096,
      VSCSIIF_ENTRY_SIZE,
    );
    sring.traceDomid = ctx.domid;
    sring.traceDevid = this.devid;
    host.frontend.connect(sring);
    this.env.dispatcher.on(port, () => this.env.schedule(host));
    return true;
  }

  /**
   * Linux `scsifront_free_ring`: unbind and close the port, end the ring page's grant and free
   * the page — or, if the backend still maps it, hand both to the deferred list (as
   * `gnttab_end_foreign_access` does) so the page is never reused under a backend.
   */
  private freeRing(): void {
    const ctx = this.env.ctx;
    if (this.port !== 0) {
      this.env.dispatcher.off(this.port);
      ctx.evtchn.close(this.port);
    }
    if (this.ringRef >= 0) {
      if (ctx.grants.endAccess(this.ringRef)) ctx.frames.free(this.ringFrame);
      else this.env.deferEndAccess(this.ringRef, this.ringFrame);
    } else if (this.ringFrame >= 0) {
      // A resumed kernel's old ring page: its grant stayed with the old domain.
      ctx.frames.free(this.ringFrame);
    }
    this.port = 0;
    this.ringRef = -1;
    this.ringFrame = -1;
  }

  /**
   * The second half of `scsifront_init_ring` and probe: `ring-ref` and `event-channel` in one
   * transaction, Initialised, and a watch on the backend's state.
   */
  private async talkToBackend(): Promise<void> {
    const xs = this.env.xs;
    await xs.transaction(async (tx) => {
      await tx.write(`${this.dir}/${XenbusNode.ringRef}`, String(this.ringRef));
      await tx.write(`${this.dir}/${XenbusNode.eventChannel}`, String(this.port));
    });
    await this.switchTo(XenbusState.Initialised);
    this.watch = await watchState(xs, this.backendDir, (s) => {
      void this.queue.run(() => this.backendChanged(s));
    });
  }

  /**
   * Linux `scsifront_suspend` (through `xenbus_dev_suspend`): pause the host — new commands get
   * HOST_BUSY and wait in the midlayer's queue — and stop handling backend state changes, as a
   * suspended guest's xenbus does. Commands on the ring stay where they are.
   */
  suspend(): Promise<void> {
    return this.queue.run(async () => {
      if (this.removed || this.suspended) return;
      this.suspended = true;
      this.host?.frontend.pause();
    });
  }

  /**
   * The suspend was cancelled (Linux: a cancelled `xen_suspend` resumes devices on their old
   * rings): unpause and carry on with the same ring and backend; what the backend answered
   * meanwhile is taken now.
   */
  thaw(): Promise<void> {
    return this.queue.run(async () => {
      if (this.removed || !this.suspended) return;
      this.suspended = false;
      const host = this.host;
      if (host === null) return;
      host.frontend.unpause();
      host.onEvent();
    });
  }

  /**
   * Linux `scsifront_resume` after save/restore or migration, then `xenbus_dev_resume`'s
   * reconnection: every command still in flight is finished (`scsifront_finish_all`: real
   * responses drained, the rest completed with DID_RESET, which the midlayer retries); the old
   * ring and port are freed; the backend is looked up again (a restore or migration gives the
   * device a new one); a new ring page and port are allocated, `ring-ref`/`event-channel`
   * written, Initialised. The host stays paused until the backend is Connected, when the LUNs
   * are re-added (READD_LUN) and the waiting commands go out on the new ring — indexes from 0.
   * The guest's SCSI host and its devices (sd, st, sg names) are kept.
   */
  resume(): Promise<void> {
    return this.queue.run(async () => {
      if (this.removed || !this.suspended) return;
      this.suspended = false;
      const host = this.host;
      const w = this.watch;
      this.watch = null;
      if (w) await w.unwatch().catch(() => undefined);
      if (host === null) return;
      const frontend = host.frontend;
      this.resetCompletions += frontend.finishAllForResume();
      if (frontend.state === "error") return;
      this.freeRing();
      const { ctx, xs } = this.env;
      this.backendDir = (await xs.tryRead(`${this.dir}/${XenbusNode.backend}`)) ?? "";
      const beId = Number(await xs.tryRead(`${this.dir}/${XenbusNode.backendId}`));
      if (this.backendDir === "" || !Number.isInteger(beId) || beId < 0 || !ctx.knows(beId)) {
        frontend.fail("no backend to resume with");
        host.failWaiting();
        await this.fatal(`backend ${this.backendDir || "(missing)"} of domain ${beId} is not reachable`);
        return;
      }
      this.backendDomid = beId;
      if (!(await this.initRing(host))) {
        frontend.fail("no ring to resume with");
        host.failWaiting();
        return;
      }
      this.resuming = true;
      this.resumes++;
      this.state = XenbusState.Initialising;
      await this.talkToBackend();
    });
  }

  /**
   * Shut the device down from the guest's side (Linux `xenbus_dev_shutdown`): Closing; the
   * backend drains and closes, and the device follows it to Closed.
   */
  close(): Promise<void> {
    return this.queue.run(async () => {
      if (this.removed || this.state === XenbusState.Closed) return;
      if (this.host === null) {
        await this.switchTo(XenbusState.Closed);
        return;
      }
      await this.switchTo(XenbusState.Closing);
    });
  }

  /** Resolves when every state change queued so far has been handled. */
  settled(): Promise<void> {
    return this.queue.idle();
  }

  /** Linux `scsifront_backend_changed`. */
  private async backendChanged(be: XenbusState): Promise<void> {
    if (this.removed || this.suspended) return;
    debug("%s: backend %s (frontend %s)", this.dir, xenbusStateName(be), xenbusStateName(this.state));
    switch (be) {
      case XenbusState.Initialising:
      case XenbusState.InitWait:
      case XenbusState.Initialised:
        return;
      case XenbusState.Connected: {
        const sg = Number(
          (await this.env.xs.tryRead(`${this.backendDir}/${XenbusNode.featureSgGrant}`)) ?? "0",
        );
        this.host?.frontend.setFeatureSgGrant(sg);
        if (this.resuming) {
          // Linux: `if (info->pause)` — READD_LUN, Connected, unpause; then the midlayer's
          // queue (the commands reset at resume among them) runs on the new ring.
          await this.lunHotplug("readd");
          await this.switchTo(XenbusState.Connected);
          this.resuming = false;
          this.host?.frontend.unpause();
          this.host?.kick();
          return;
        }
        if (this.state === XenbusState.Initialised) await this.lunHotplug("add");
        if (this.state !== XenbusState.Connected) await this.switchTo(XenbusState.Connected);
        return;
      }
      case XenbusState.Closing:
      case XenbusState.Closed:
      case XenbusState.Unknown:
        await this.disconnectHost();
        return;
      case XenbusState.Reconfiguring:
        await this.lunHotplug("del");
        await this.switchTo(XenbusState.Reconfiguring);
        return;
      case XenbusState.Reconfigured:
        await this.lunHotplug("add");
        await this.switchTo(XenbusState.Connected);
        return;
    }
  }

  /** Linux `scsifront_do_lun_hotplug` (ADD_LUN / DEL_LUN / READD_LUN). */
  private async lunHotplug(op: LunOp): Promise<void> {
    const host = this.host;
    if (host === null) return;
    const xs = this.env.xs;
    let entries: string[];
    try {
      entries = await xs.directory(`${this.backendDir}/${VSCSI_DEVS}`);
    } catch {
      return;
    }
    for (const ent of entries) {
      const beDev = `${this.backendDir}/${VSCSI_DEVS}/${ent}`;
      const state = Number(await xs.tryRead(`${beDev}/${XenbusNode.state}`));
      const vdev = /^(\d+):(\d+):(\d+):(\d+)$/.exec((await xs.tryRead(`${beDev}/${XenbusNode.vDev}`)) ?? "");
      if (vdev === null) continue;
      const [, , chn, tgt, lun] = vdev.map(Number) as [number, number, number, number, number];
      const feState = `${this.dir}/${VSCSI_DEVS}/${ent}/${XenbusNode.state}`;
      const scsi = this.env.scsi;
      if (op === "add" && state === XenbusState.Initialised) {
        if (scsi.find(host.hostNo, chn, tgt, lun)) {
          debug("%s: %d:%d:%d:%d: Device already in use.", this.dir, host.hostNo, chn, tgt, lun);
          await xs.write(feState, String(XenbusState.Closed));
          continue;
        }
        try {
          await scsi.addDevice(host, chn, tgt, lun);
          await xs.write(feState, String(XenbusState.Connected));
        } catch (e) {
          debug(
            "%s: scsi_add_device %d:%d:%d: %s",
            this.dir,
            chn,
            tgt,
            lun,
            e instanceof Error ? e.message : e,
          );
          await xs.write(feState, String(XenbusState.Closed));
        }
      } else if (op === "readd") {
        // READD_LUN: the device is still the midlayer's; only its frontend state is restated.
        if (state === XenbusState.Connected) await xs.write(feState, String(XenbusState.Connected));
      } else if (op === "del" && state === XenbusState.Closing) {
        if (scsi.removeDevice(host.hostNo, chn, tgt, lun))
          await xs.write(feState, String(XenbusState.Closed));
      }
    }
  }

  /**
   * The backend is closing (or gone): remove the host and its devices, give up the ring, and
   * report Closed (Linux `scsifront_disconnect` + `xenbus_frontend_closed`). The ring page stays
   * granted and the port open until the toolstack removes the device ({@link release}), as in
   * Linux, where `scsifront_remove` frees them.
   */
  private async disconnectHost(): Promise<void> {
    const host = this.host;
    if (host !== null) {
      this.env.scsi.removeHost(host.hostNo);
      host.failWaiting();
      // A backend drains before it closes, so every answer is on the ring already; one that
      // closed with commands unanswered fails them (and their grants are not reused).
      host.frontend.service();
      if (host.frontend.inFlight > 0)
        host.frontend.fail(`backend closed with ${host.frontend.inFlight} commands unanswered`);
      // Grants of failed commands: ended once the backend unmaps them (their pages stay unused).
      for (const ref of host.frontend.takeOrphanGrants()) this.env.deferEndAccess(ref, -1);
      host.frontend.disconnect();
      this.env.dispatcher.off(this.port);
      this.host = null;
    }
    if (this.state !== XenbusState.Closed) await this.switchTo(XenbusState.Closed);
  }

  /**
   * The device's directory is gone (Linux `scsifront_remove`): close the port and end the ring
   * page's grant. A backend still mapping it gets the page handed to the deferred list, as
   * Linux's `gnttab_end_foreign_access` does, instead of the page being reused under it.
   */
  release(): Promise<void> {
    return this.queue.run(async () => {
      if (this.removed) return;
      this.suspended = false;
      await this.disconnectHost();
      this.freeRing();
      if (this.hostNo >= 0) this.env.releaseHostNo(this.hostNo);
      this.hostNo = -1;
      const w = this.watch;
      this.watch = null;
      if (w) await w.unwatch().catch(() => undefined);
      this.removed = true;
      this.onRemoved?.();
    });
  }

  private async switchTo(state: XenbusState): Promise<void> {
    this.state = state;
    await publishState(this.env.xs, this.dir, state, debug);
  }

  /** `xenbus_dev_fatal`: record the error for the toolstack and close. */
  private async fatal(message: string): Promise<void> {
    this.state = XenbusState.Closing;
    await deviceFatal(this.env.xs, this.dir, message, debug);
  }
}
