import createDebug from "debug";
import type { EventDispatcher } from "../evtchn/dispatcher.js";
import type { DomainContext } from "../hypervisor/context.js";
import { SharedRing } from "../ring/shared-ring.js";
import type { Initiator, ScsiDevice } from "../scsi/device.js";
import { GNTST_eagain, grantStatusName } from "../xen/grant-constants.js";
import { VSCSIIF_ENTRY_SIZE } from "../xen/vscsiif-layout.js";
import { deviceFatal, publishState, xenbusErrorPath } from "../xenbus/device-state.js";
import { VSCSI_DEVS, XenbusNode } from "../xenbus/paths.js";
import { SerialQueue } from "../xenbus/serial-queue.js";
import { XenbusState, xenbusStateName } from "../xenbus/state.js";
import { watchState } from "../xenbus/wait-state.js";
import type { XenstoreClient, XsWatchHandle } from "../xenstore/client.js";
import { MUNGING_POLICIES } from "./policy.js";
import type { GrantMapper } from "./ports.js";
import { SCSIBACK_SG_GRANT, Vhost } from "./vhost.js";

const debug = createDebug("pvscsi:scsiback");

/** A `p-dev` resolved to a logical unit of the backend domain. */
export interface ResolvedPdev {
  readonly device: ScsiDevice;
  /** The LUN to address inside `device` (its own numbering). */
  readonly physLun: number;
}

/** What a backend device needs from the driver that owns it. */
export interface BackendEnv {
  /** The backend domain, as this thread (its vcpu receives the vhosts' events). */
  readonly ctx: DomainContext;
  readonly dispatcher: EventDispatcher;
  readonly xs: XenstoreClient;
  /**
   * Resolve `p-dev` (`naa.<wwn>:<lun>` or `h:c:t:l`) to a device, or say why not. May be
   * asynchronous: a backend may retry opening a device that failed before (hot-plug time only,
   * never per command).
   */
  resolve(pdev: string): ResolvedPdev | string | Promise<ResolvedPdev | string>;
  /** A fresh I_T nexus identity for a new vhost. */
  initiator(frontendDomid: number, devid: number): Initiator;
  /** Called when a vhost has work the driver must run without an event (budget left over, TMR done). */
  schedule(vhost: Vhost): void;
  /** Whether the driver polls rings instead of sleeping on event channels. */
  readonly pollMode: boolean;
  /** `feature-sg-grant` to offer; 0 offers none (default `SCSIBACK_SG_GRANT`). */
  readonly sgGrant?: number;
}

/** `VSCSIBACK_OP_ADD_OR_DEL_LUN` / `VSCSIBACK_OP_UPDATEDEV_STATE` of Linux scsiback. */
type HotplugOp = "add-or-del" | "update-dev-state";

/**
 * One vhost as Linux's xen-scsiback drives it through xenbus (`drivers/xen/xen-scsiback.c`:
 * `scsiback_probe`, `scsiback_frontend_changed`, `scsiback_do_1lun_hotplug`): probe
 * writes `feature-sg-grant` and goes to InitWait; the frontend's Initialised maps `ring-ref`,
 * binds `event-channel`, scans `vscsi-devs` and goes Connected; its Connected promotes devices
 * 3 → 4; Reconfiguring re-scans and answers Reconfigured; Closing drains every request in flight
 * before the ring is unmapped. Every step runs in order on one queue, as Linux's xenwatch thread
 * runs them.
 */
export class BackendDevice {
  readonly frontendDomid: number;
  readonly devid: number;
  /** `/local/domain/<be>/backend/vscsi/<fe>/<devid>`. */
  readonly dir: string;
  readonly vhost: Vhost;
  /** The frontend's directory (the `frontend` node). */
  frontendDir = "";
  /** Last state this device published. */
  state: XenbusState = XenbusState.Initialising;
  /** Set once the device is gone; `onRemoved` has run. */
  removed = false;
  onRemoved: (() => void) | null = null;

  private readonly env: BackendEnv;
  private readonly queue: SerialQueue;
  private watch: XsWatchHandle | null = null;
  private ringHandle = -1;
  private localPort = 0;
  /** LUNs of this vhost on each device, for the nexus's lifetime. */
  private readonly nexusLuns = new Map<ScsiDevice, number>();

  /** A `munging` node naming no built-in policy (the device refuses to connect), or null. */
  private readonly badMunging: string | null;

  /**
   * `munging` is the controller's `munging` node: a built-in policy name (policy.ts), or null
   * for none (REPORT LUNS emulated unless feature-host, everything else passed).
   */
  constructor(
    env: BackendEnv,
    frontendDomid: number,
    devid: number,
    dir: string,
    featureHost: boolean,
    munging: string | null = null,
  ) {
    const policy = munging === null ? undefined : MUNGING_POLICIES.get(munging);
    this.badMunging = munging !== null && policy === undefined ? munging : null;
    this.env = env;
    this.frontendDomid = frontendDomid;
    this.devid = devid;
    this.dir = dir;
    this.queue = new SerialQueue((e) => debug("%s: %s", dir, e instanceof Error ? e.message : e));
    const mapper = env.ctx.mapper;
    const fe = frontendDomid;
    const grants: GrantMapper = {
      map(ref, readonly, out) {
        let h = mapper.map(fe, ref, readonly);
        // Linux's gnttab_map_refs retries GNTST_eagain; so does the backend.
        for (let i = 0; i < 3 && h === GNTST_eagain; i++) h = mapper.map(fe, ref, readonly);
        if (h < 0) return h;
        out.mem = mapper.mappedMemory(h);
        out.base = mapper.mappedOffset(h);
        out.handle = h;
        return 0;
      },
      unmap: (handle) => mapper.unmap(handle),
      mapBatch(refs, from, count, readonly, handles, bases, out) {
        let failed = mapper.mapBatch(fe, refs, from, count, readonly, handles, bases);
        // Retry the ops that got GNTST_eagain, one by one, as gnttab_map_refs does.
        for (let i = 0; failed > 0 && i < count; i++) {
          for (let t = 0; t < 3 && handles[i] === GNTST_eagain; t++) {
            const h = mapper.map(fe, refs[from + i]!, readonly);
            handles[i] = h;
            if (h >= 0) {
              bases[i] = mapper.mappedOffset(h);
              failed--;
            }
          }
        }
        out.mem = mapper.granterMemory(fe) ?? out.mem;
        return failed;
      },
      unmapBatch: (handles, count) => mapper.unmapBatch(handles, count),
    };
    this.vhost = new Vhost({
      frontendDomid,
      devid,
      initiator: env.initiator(frontendDomid, devid),
      featureHost,
      ...(policy ? { policy } : {}),
      sgGrant: env.sgGrant ?? SCSIBACK_SG_GRANT,
      grants,
      notifier: { notify: () => this.notify() },
      wake: () => {
        env.schedule(this.vhost);
        // Called from a completion on the event loop, not from a pass: wake this thread's loop
        // (costs a bit operation unless it sleeps).
        env.ctx.evtchn.kick();
      },
      polling: env.pollMode,
    });
  }

  /** The local event-channel port bound to the frontend's (0 while not connected). */
  get port(): number {
    return this.localPort;
  }

  /** xenbus probe: advertise features, InitWait, then follow the frontend's state. */
  probe(): Promise<void> {
    return this.queue.run(async () => {
      const xs = this.env.xs;
      this.frontendDir = (await xs.tryRead(`${this.dir}/${XenbusNode.frontend}`)) ?? "";
      const sgGrant = this.env.sgGrant ?? SCSIBACK_SG_GRANT;
      // Only into the device's own directory, in one transaction: a plain write after the
      // toolstack removed it would re-create it, and a controller the toolstack then re-creates
      // at that path would inherit a node its frontend may not read (dom0-only permissions).
      if (sgGrant > 0)
        await xs
          .transaction(async (tx) => {
            if ((await tx.tryRead(`${this.dir}/${XenbusNode.state}`)) !== undefined)
              await tx.write(`${this.dir}/${XenbusNode.featureSgGrant}`, String(sgGrant));
          })
          .catch((e: unknown) =>
            debug("%s: feature-sg-grant: %s", this.dir, e instanceof Error ? e.message : e),
          );
      await this.switchTo(XenbusState.InitWait);
      if (this.frontendDir === "") {
        await this.fatal("frontend path missing");
        return;
      }
      if (this.badMunging !== null) {
        await this.fatal(
          `munging policy '${this.badMunging}' is not one of ${[...MUNGING_POLICIES.keys()].join(", ")}`,
          22,
        );
        return;
      }
      this.watch = await watchState(xs, this.frontendDir, (s) => {
        void this.queue.run(() => this.frontendChanged(s));
      });
    });
  }

  /** The driver stops: drain, unmap, forget. */
  remove(): Promise<void> {
    return this.queue.run(() => this.doRemove());
  }

  /**
   * The toolstack deleted the device's directory: it has stopped waiting for this device (libxl
   * removes the nodes after its own timeout when the backend never reached Closed). Waiting for
   * requests in flight could now last forever — a device that never completes, a drain stuck
   * behind it — so they are abandoned at once (grants unmapped, slots freed, the guest answered
   * HOST_ERROR while the ring is mapped), which ends any drain this device's queue is waiting on;
   * then the ring is unmapped and the port closed. Bounded: nothing here waits on a device.
   */
  forceRemove(): Promise<void> {
    if (!this.removed) this.vhost.abandonAll();
    return this.remove();
  }

  /**
   * The driver lets go of this device (sysfs `unbind`, the module unloaded, the backend
   * restarted): Linux `xenbus_dev_remove` runs `scsiback_remove` (drain what is in flight, unbind
   * the port, unmap the ring, release the LUNs), then, scsiback not allowing a rebind, switches the
   * backend node to Closed. Used by the simulator's `backend-crash` fault.
   */
  unbind(): Promise<void> {
    return this.queue.run(async () => {
      await this.doRemove();
      await this.switchTo(XenbusState.Closed);
    });
  }

  /** Resolves when every state change queued so far has been handled. */
  settled(): Promise<void> {
    return this.queue.idle();
  }

  /**
   * Whether work of this device completes on the thread's event loop rather than by an event: a
   * state change being handled, or requests on an asynchronous (file-backed) device.
   */
  get busyOffRing(): boolean {
    return this.queue.size > 0 || this.vhost.inFlight > 0;
  }

  private notify(): void {
    if (this.localPort !== 0) this.env.ctx.evtchn.send(this.localPort);
  }

  /** Linux `scsiback_frontend_changed`. */
  private async frontendChanged(fe: XenbusState): Promise<void> {
    if (this.removed) return;
    debug("%s: frontend %s (backend %s)", this.dir, xenbusStateName(fe), xenbusStateName(this.state));
    switch (fe) {
      case XenbusState.Initialising:
        return;
      case XenbusState.Initialised:
        if (!(await this.map())) return;
        await this.hotplug("add-or-del");
        await this.switchTo(XenbusState.Connected);
        return;
      case XenbusState.Connected:
        await this.hotplug("update-dev-state");
        if (this.state !== XenbusState.Connected) await this.switchTo(XenbusState.Connected);
        return;
      case XenbusState.Closing:
        await this.disconnect();
        await this.switchTo(XenbusState.Closing);
        return;
      case XenbusState.Closed: {
        // Linux publishes Closed, then unregisters (drains and unmaps) when not online; pvscsi
        // drains and unmaps first, so a toolstack that sees Closed knows the ring is let go.
        const online = (await this.env.xs.tryRead(`${this.dir}/${XenbusNode.online}`)) === "1";
        if (!online) await this.disconnect();
        await this.switchTo(XenbusState.Closed);
        if (!online) await this.doRemove();
        return;
      }
      case XenbusState.Unknown:
        await this.doRemove();
        return;
      case XenbusState.Reconfiguring:
        await this.hotplug("add-or-del");
        await this.switchTo(XenbusState.Reconfigured);
        return;
      default:
        await this.fatal(`saw state ${fe} at frontend`);
    }
  }

  /** Linux `scsiback_map`: gather `ring-ref` and `event-channel`, map the page, bind the port. */
  private async map(): Promise<boolean> {
    if (this.ringHandle >= 0) return false; // a second map attempt while connected (Linux: -1)
    const xs = this.env.xs;
    const ringRef = parseUnsigned(await xs.tryRead(`${this.frontendDir}/${XenbusNode.ringRef}`));
    const port = parseUnsigned(await xs.tryRead(`${this.frontendDir}/${XenbusNode.eventChannel}`));
    if (ringRef === undefined || port === undefined) {
      await this.fatal(`reading ${this.frontendDir} ring`);
      return false;
    }
    const ctx = this.env.ctx;
    const h = ctx.mapper.map(this.frontendDomid, ringRef, false);
    if (h < 0) {
      debug(
        "%s: mapping ring-ref %d failed: %s %s",
        this.dir,
        ringRef,
        grantStatusName(h),
        ctx.mapper.lastError,
      );
      // xenbus_map_ring_valloc's own xenbus_dev_fatal, errno being the negated GNTST status.
      await this.fatal(`mapping in shared page ${ringRef} from domain ${this.frontendDomid}`, -h);
      return false;
    }
    const local = ctx.evtchn.bindInterdomain(this.frontendDomid, port);
    if (local <= 0) {
      debug("%s: binding event-channel %d failed (%d)", this.dir, port, local);
      ctx.mapper.unmap(h);
      return false;
    }
    this.ringHandle = h;
    this.localPort = local;
    const mem = ctx.mapper.mappedMemory(h);
    const sring = new SharedRing(
      mem.buffer,
      mem.byteOffset + ctx.mapper.mappedOffset(h),
      4096,
      VSCSIIF_ENTRY_SIZE,
    );
    sring.traceDomid = ctx.domid;
    sring.traceDevid = this.devid;
    this.vhost.connect(sring);
    this.env.dispatcher.on(local, () => this.env.schedule(this.vhost));
    // Requests may already be waiting on a ring a frontend reconnects with.
    this.env.schedule(this.vhost);
    return true;
  }

  /** Linux `scsiback_disconnect`: wait until nothing is unanswered, then unbind and unmap. */
  private async disconnect(): Promise<void> {
    if (this.ringHandle < 0) return;
    const vhost = this.vhost;
    if (!vhost.beginDrain()) {
      await new Promise<void>((resolve) => {
        vhost.onDrained = resolve;
      });
    }
    vhost.disconnect();
    const ctx = this.env.ctx;
    this.env.dispatcher.off(this.localPort);
    ctx.evtchn.close(this.localPort);
    ctx.mapper.unmap(this.ringHandle);
    this.localPort = 0;
    this.ringHandle = -1;
  }

  private async doRemove(): Promise<void> {
    if (this.removed) return;
    await this.disconnect();
    for (const e of this.vhost.translations.clear()) this.releaseNexus(e.device);
    const w = this.watch;
    this.watch = null;
    if (w) await w.unwatch().catch(() => undefined);
    this.removed = true;
    this.onRemoved?.();
  }

  /** Linux `scsiback_do_lun_hotplug`: every entry of `vscsi-devs`. */
  private async hotplug(op: HotplugOp): Promise<void> {
    let entries: string[];
    try {
      entries = await this.env.xs.directory(`${this.dir}/${VSCSI_DEVS}`);
    } catch {
      return;
    }
    for (const ent of entries) await this.hotplugOne(op, ent);
  }

  /** Linux `scsiback_do_1lun_hotplug`. */
  private async hotplugOne(op: HotplugOp, ent: string): Promise<void> {
    const xs = this.env.xs;
    const devDir = `${this.dir}/${VSCSI_DEVS}/${ent}`;
    const statePath = `${devDir}/${XenbusNode.state}`;
    const devState = parseUnsigned(await xs.tryRead(statePath));
    if (devState === undefined) return;
    const pdev = await xs.tryRead(`${devDir}/${XenbusNode.pDev}`);
    if (pdev === undefined) {
      await this.lunState(statePath, XenbusState.Closed);
      return;
    }
    const vdev = parseVdev(await xs.tryRead(`${devDir}/${XenbusNode.vDev}`));
    if (vdev === undefined) {
      await this.lunState(statePath, XenbusState.Closed);
      return;
    }
    if (op === "add-or-del") {
      if (devState === XenbusState.Initialising) await this.addLun(statePath, pdev.slice(0, 31), vdev, false);
      else if (devState === XenbusState.Connected)
        await this.addLun(statePath, pdev.slice(0, 31), vdev, true);
      else if (devState === XenbusState.Closing) await this.delLun(statePath, vdev);
      return;
    }
    if (devState === XenbusState.Initialised) await this.lunState(statePath, XenbusState.Connected);
  }

  /**
   * `scsiback_do_add_lun`: add the translation and report Initialised, or Closed on failure (not
   * when `retry`). On failure the reason also goes where `xenbus_dev_error` puts a device's error
   * (`<home>/error/<dev dir>/error`, as `"<errno> <message>"`), so that the toolstack can say why
   * the LUN was refused instead of only seeing state 6; Linux logs it with `pr_err` only.
   */
  private async addLun(statePath: string, pdev: string, v: Vdev, retry: boolean): Promise<void> {
    const vhost = this.vhost;
    const resolved = await this.env.resolve(pdev);
    let ok = false;
    let why: string | null = null;
    if (typeof resolved === "string") {
      why = resolved; // the toolstack names the p-dev
    } else if (vhost.translations.lookup(v.chn, v.tgt, v.lun) !== undefined) {
      why = "Virtual ID is already used. Assignment was not performed.";
    } else {
      vhost.translations.add({ v, device: resolved.device, physLun: resolved.physLun, pdev });
      this.holdNexus(resolved.device);
      ok = true;
    }
    const xs = this.env.xs;
    if (ok) await this.lunState(statePath, XenbusState.Initialised);
    else if (!retry) {
      debug("%s: %s", this.dir, why);
      const devDir = statePath.slice(0, statePath.lastIndexOf("/"));
      // ENODEV (19), as scsiback_get_pscsi's -ENODEV for a device it cannot find.
      await xs.write(xenbusErrorPath(devDir), `19 ${why}`).catch(() => undefined);
      await this.lunState(statePath, XenbusState.Closed);
    }
  }

  /**
   * Publish a LUN's state (`vscsi-devs/dev-N/state`) only while the node exists, in one
   * transaction ({@link publishState}). The toolstack may have removed the LUN, or the whole
   * controller, while this LUN's hot-plug awaited: a plain write (Linux's `xenbus_printf`) would
   * re-create the removed directory, left behind for good (found by the whole-system simulator:
   * `pvscsi sim --scenario system-all-faults --seed 3`).
   */
  private async lunState(statePath: string, state: XenbusState): Promise<void> {
    await publishState(this.env.xs, statePath.slice(0, statePath.lastIndexOf("/")), state, debug);
  }

  /** `scsiback_do_del_lun`. */
  private async delLun(statePath: string, v: Vdev): Promise<void> {
    const e = this.vhost.translations.remove(v.chn, v.tgt, v.lun);
    if (e === undefined) return;
    this.releaseNexus(e.device);
    await this.lunState(statePath, XenbusState.Closed);
  }

  /**
   * The vhost is one I_T nexus to each device it uses: the nexus begins with its first LUN on that
   * device (the device queues 06/29/00 for it) and ends with its last.
   */
  private holdNexus(device: ScsiDevice): void {
    const n = (this.nexusLuns.get(device) ?? 0) + 1;
    this.nexusLuns.set(device, n);
    if (n === 1) device.addNexus(this.vhost.initiator);
  }

  private releaseNexus(device: ScsiDevice): void {
    const n = (this.nexusLuns.get(device) ?? 0) - 1;
    if (n > 0) {
      this.nexusLuns.set(device, n);
      return;
    }
    this.nexusLuns.delete(device);
    device.removeNexus(this.vhost.initiator);
  }

  private async switchTo(state: XenbusState): Promise<void> {
    this.state = state;
    await publishState(this.env.xs, this.dir, state, debug);
  }

  /** `xenbus_dev_fatal`: record the error for the toolstack and close. */
  private async fatal(message: string, errno?: number): Promise<void> {
    this.state = XenbusState.Closing;
    await deviceFatal(this.env.xs, this.dir, message, debug, errno);
  }
}

interface Vdev {
  readonly hst: number;
  readonly chn: number;
  readonly tgt: number;
  readonly lun: number;
}

/** `%u` as xenbus_scanf reads it: decimal, possibly with surrounding blanks. */
function parseUnsigned(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const m = /^\s*(\d{1,10})\s*$/.exec(v);
  if (!m) return undefined;
  const n = Number(m[1]);
  return n <= 0xffffffff ? n : undefined;
}

/** `v-dev` as `%u:%u:%u:%u`; channel, target and LUN must fit the request's u16 fields. */
function parseVdev(v: string | undefined): Vdev | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d{1,10}):(\d{1,10}):(\d{1,10}):(\d{1,10})$/.exec(v.trim());
  if (!m) return undefined;
  const [hst, chn, tgt, lun] = m.slice(1).map(Number) as [number, number, number, number];
  if (chn > 0xffff || tgt > 0xffff || lun > 0xffff) return undefined;
  return { hst, chn, tgt, lun };
}
