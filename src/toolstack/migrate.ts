import { randomUUID } from "node:crypto";
import { domainMemoryBytes } from "../xen/domain-handle.js";
import { PvscsiError } from "../xen/errors.js";
import { controlRequest } from "./control-client.js";
import { GUEST_FILE_CHUNK } from "./control-protocol.js";
import type { Host } from "./host.js";
import {
  captureGuest,
  readSaveImage,
  resolveSavedDevices,
  type SaveMeta,
  savedDevices,
} from "./save-restore.js";

/**
 * `xl migrate <domain> <host>` between two `pvscsi up` instances, over the target's control
 * socket. The source asks the target to check every vscsi device first (found by identity, never
 * by h:c:t:l), so an unreachable device refuses the migration while the guest still runs. Memory
 * then goes in rounds while the guest runs — each round sends the frames that differ from what
 * the target already has (found by comparing with the copy sent before: the emulator has no
 * log-dirty mode) — until few change; then stop-and-copy: the guest is quiesced and captured
 * (filesystem, device nodes, assignments), the last dirty frames and the image sent.
 *
 * Exactly one host runs the guest: the source tears its copy down before the target builds its
 * own, and if the target then fails, the source restores the guest from the very image it sent
 * and says so.
 */

const PAGE = 4096;
/** Pre-copy rounds at most, and the dirty count that ends them early. */
export const MAX_PRECOPY_ROUNDS = 5;
const FEW_DIRTY = 8;
/** A receiving session unused this long is dropped (its memory freed). */
const SESSION_IDLE_MS = 5 * 60_000;

/** What `xl migrate` reports. */
export interface MigrationReport {
  readonly name: string;
  readonly target: string;
  readonly domid: number;
  /** Frames sent in each pre-copy round, then in the stop-and-copy. */
  readonly rounds: readonly number[];
  readonly stopAndCopyFrames: number;
  readonly downtimeMs: number;
  readonly totalMs: number;
  readonly devices: ReadonlyArray<{ vdev: string; pdevname: string; from: string; to: string }>;
  /**
   * The guest's kernel on the target, once resumed: commands its scsifront found in flight and
   * completed with DID_RESET, and how many its midlayer sent again (null: a kernel booted afresh).
   */
  readonly resumed: {
    readonly carried: number;
    readonly resetCompletions: number;
    readonly resetRetries: number;
  } | null;
}

/** Send `frames` (indexes into `mem`) to the target, in chunks that fit a control line. */
async function sendFrames(
  send: (op: string, args: Record<string, unknown>) => Promise<unknown>,
  session: string,
  mem: Uint8Array,
  frames: number[],
): Promise<void> {
  const per = Math.max(1, Math.floor(GUEST_FILE_CHUNK / PAGE));
  for (let i = 0; i < frames.length; i += per) {
    const batch = frames.slice(i, i + per);
    const buf = Buffer.alloc(batch.length * PAGE);
    batch.forEach((f, k) => {
      buf.set(mem.subarray(f * PAGE, (f + 1) * PAGE), k * PAGE);
    });
    await send("migrate.memory", { session, frames: batch, data: buf.toString("base64") });
  }
}

/** Frames of `mem` that differ from `sent`; `sent` is brought up to date. */
function dirtyFrames(mem: Uint8Array, sent: Uint8Array): number[] {
  const out: number[] = [];
  const n = mem.length / PAGE;
  for (let f = 0; f < n; f++) {
    const a = mem.subarray(f * PAGE, (f + 1) * PAGE);
    const b = sent.subarray(f * PAGE, (f + 1) * PAGE);
    if (!Buffer.from(a.buffer, a.byteOffset, PAGE).equals(Buffer.from(b.buffer, b.byteOffset, PAGE))) {
      out.push(f);
      b.set(a);
    }
  }
  return out;
}

/** The source side of `xl migrate`. */
export async function migrateOut(
  host: Host,
  domain: string,
  target: string,
  token?: string,
): Promise<MigrationReport> {
  const t0 = performance.now();
  // A TCP target (a migration listener) wants its token with every request.
  const toTarget = (op: string, args: Record<string, unknown>) =>
    controlRequest(target, op, token !== undefined ? { ...args, token } : args);
  return host.locked(async () => {
    const ctx = host.saveRestoreContext();
    const g = host.resolveDomain(domain);
    const name = g.name;
    const preview: SaveMeta = {
      format: "pvscsi-domain",
      name,
      memoryMiB: g.memoryMiB,
      frames: g.handle.frames,
      guestRoot: g.guestRoot === ctx.defaultGuestRoot(name) ? null : g.guestRoot,
      savedAt: new Date().toISOString(),
      hostId: host.hostId,
      devices: await savedDevices(ctx, g),
    };
    let session: string;
    try {
      session = ((await toTarget("migrate.prepare", { meta: preview })) as { session: string }).session;
    } catch (e) {
      throw new PvscsiError(
        "ESTATE",
        `migration of ${name} to ${target} refused before the guest was suspended: ${(e as Error).message}; ${name} keeps running on this host`,
      );
    }
    const mem = domainMemoryBytes(g.handle);
    const sent = new Uint8Array(mem.length); // what the target has: a new domain's zeroed memory
    const rounds: number[] = [];
    let stopT = 0;
    let image: Uint8Array | undefined;
    let sourceGone = false;
    let suspended = false;
    try {
      for (let r = 0; r < MAX_PRECOPY_ROUNDS; r++) {
        const dirty = dirtyFrames(mem, sent);
        await sendFrames(toTarget, session, sent, dirty);
        rounds.push(dirty.length);
        if (dirty.length <= FEW_DIRTY) break;
      }
      // Stop-and-copy: quiesce and capture the guest, send what changed since the last round.
      stopT = performance.now();
      const captured = await captureGuest(ctx, g, false);
      image = captured.image;
      suspended = captured.suspended;
      const last = dirtyFrames(mem, sent);
      await sendFrames(toTarget, session, sent, last);
      for (let o = 0; o < image.length; o += GUEST_FILE_CHUNK) {
        const part = Buffer.from(image.subarray(o, o + GUEST_FILE_CHUNK)).toString("base64");
        await toTarget("migrate.image", { session, offset: o, data: part });
      }
      // Point of no return: the source lets go of the guest before the target builds it.
      await host.teardownGuest(g.handle.domid, suspended);
      sourceGone = true;
      const r = (await toTarget("migrate.commit", { session })) as {
        domid: number;
        devices: MigrationReport["devices"];
        resumed: MigrationReport["resumed"];
      };
      const end = performance.now();
      return {
        name,
        target,
        domid: r.domid,
        rounds,
        stopAndCopyFrames: last.length,
        downtimeMs: end - stopT,
        totalMs: end - t0,
        devices: r.devices,
        resumed: r.resumed ?? null,
      };
    } catch (e) {
      const why = (e as Error).message;
      await toTarget("migrate.abort", { session }).catch(() => undefined);
      // Before the point of no return the suspend is cancelled: the guest carries on here.
      if (!sourceGone && suspended) await g.kernel.api.thaw().catch(() => undefined);
      if (!sourceGone)
        throw new PvscsiError(
          "ESTATE",
          `migration of ${name} to ${target} failed: ${why}; ${name} keeps running on this host`,
        );
      // The target could not build it: bring it back here from the image it was sent.
      try {
        const back = await host.restoreImage(readSaveImage(image!, "migration image"), sent);
        throw new PvscsiError(
          "ESTATE",
          `migration of ${name} to ${target} failed on the target: ${why}; ${name} was restored on this host (domid ${back.domid})`,
        );
      } catch (e2) {
        if (e2 instanceof PvscsiError && e2.message.startsWith(`migration of ${name}`)) throw e2;
        throw new PvscsiError(
          "ESTATE",
          `migration of ${name} to ${target} failed on the target (${why}) and restoring it here failed too (${(e2 as Error).message}); ${name} runs nowhere`,
        );
      }
    }
  });
}

interface Session {
  readonly meta: SaveMeta;
  readonly memory: Uint8Array;
  readonly image: Buffer[];
  imageBytes: number;
  timer: NodeJS.Timeout;
}

/** The receiving side of `xl migrate`, one per host. */
export class MigrationReceiver {
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly host: Host) {}

  /** Check that the guest can run here — name free, every device reachable — and open a session. */
  prepare(meta: unknown): { session: string; devices: Array<{ vdev: string; from: string; to: string }> } {
    const m = meta as SaveMeta;
    if (m?.format !== "pvscsi-domain" || typeof m.name !== "string" || !Number.isInteger(m.frames))
      throw new PvscsiError("EINVALARG", "migrate.prepare: not a domain description");
    if (m.frames <= 0 || m.frames > 1024 * 256)
      throw new PvscsiError("EINVALARG", `migrate.prepare: ${m.frames} frames is not a memory size`);
    if (m.hostId === this.host.hostId)
      throw new PvscsiError("ESTATE", "the target is the host the guest runs on");
    const ctx = this.host.saveRestoreContext();
    if (ctx.table.findByName(m.name) !== undefined)
      throw new PvscsiError("ESTATE", `the target already has a domain named '${m.name}'`);
    const resolved = resolveSavedDevices(ctx, m);
    const session = randomUUID();
    const s: Session = {
      meta: m,
      memory: new Uint8Array(m.frames * PAGE),
      image: [],
      imageBytes: 0,
      timer: setTimeout(() => this.abort(session), SESSION_IDLE_MS),
    };
    s.timer.unref();
    this.sessions.set(session, s);
    return {
      session,
      devices: resolved.map((r) => ({ vdev: r.saved.vdev, from: r.saved.identity.hctl, to: r.row.hctl })),
    };
  }

  private get(session: unknown): Session {
    const s = typeof session === "string" ? this.sessions.get(session) : undefined;
    if (!s) throw new PvscsiError("ESTATE", "no such migration session (aborted or timed out)");
    s.timer.refresh();
    return s;
  }

  /** Frames of guest memory. */
  memory(session: unknown, frames: unknown, data: unknown): null {
    const s = this.get(session);
    if (!Array.isArray(frames) || typeof data !== "string")
      throw new PvscsiError("EINVALARG", "migrate.memory: frames and data needed");
    const bytes = Buffer.from(data, "base64");
    if (bytes.length !== frames.length * PAGE)
      throw new PvscsiError("EINVALARG", "migrate.memory: data does not match the frame count");
    frames.forEach((f, k) => {
      if (!Number.isInteger(f) || f < 0 || (f + 1) * PAGE > s.memory.length)
        throw new PvscsiError("EINVALARG", `migrate.memory: frame ${f} out of range`);
      s.memory.set(bytes.subarray(k * PAGE, (k + 1) * PAGE), f * PAGE);
    });
    return null;
  }

  /** The next piece of the save image (without memory). */
  image(session: unknown, offset: unknown, data: unknown): null {
    const s = this.get(session);
    if (offset !== s.imageBytes || typeof data !== "string")
      throw new PvscsiError("EINVALARG", `migrate.image: expected offset ${s.imageBytes}`);
    const b = Buffer.from(data, "base64");
    if (s.imageBytes + b.length > 128 * 1024 * 1024)
      throw new PvscsiError("EINVALARG", "migrate.image: image too large");
    s.image.push(b);
    s.imageBytes += b.length;
    return null;
  }

  /** Build the guest here from what was received. */
  async commit(session: unknown) {
    const s = this.get(session);
    this.abort(session as string);
    const image = readSaveImage(new Uint8Array(Buffer.concat(s.image)), "migration image");
    if (image.meta.name !== s.meta.name)
      throw new PvscsiError("EINVALARG", "migration image is not the domain prepared");
    return this.host.locked(async () => {
      const r = await this.host.restoreImage(image, s.memory);
      let resumed: MigrationReport["resumed"] = null;
      if (image.kernel !== null) {
        const st = await this.host.resumeStats(r.domid);
        resumed = {
          carried: st.carried,
          resetCompletions: st.resetCompletions,
          resetRetries: st.resetRetries,
        };
      }
      return { ...r, resumed };
    });
  }

  /** Forget a session. */
  abort(session: string): null {
    const s = this.sessions.get(session);
    if (s) clearTimeout(s.timer);
    this.sessions.delete(session);
    return null;
  }
}
