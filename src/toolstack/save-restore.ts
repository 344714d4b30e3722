import { lstat, mkdir, readdir, readFile, readlink, realpathSync, symlink, writeFile } from "node:fs";
import { join, relative, sep } from "node:path";
import { promisify } from "node:util";
import { parseHctlOrThrow } from "../scsi/hctl.js";
import type { GuestKernelState } from "../system/kernel-api.js";
import type { System } from "../system/system.js";
import type { HostConfigSource } from "../targets/inventory/host-config.js";
import { parseHostConfig } from "../targets/inventory/host-config.js";
import type { LsscsiRow } from "../targets/inventory/inventory.js";
import { type DomainHandle, domainMemoryBytes } from "../xen/domain-handle.js";
import { DomainView } from "../xen/domain-view.js";
import { configError, PvscsiError } from "../xen/errors.js";
import { VSCSI_DEVS, XenbusNode } from "../xenbus/paths.js";
import type { XenstoreClient } from "../xenstore/client.js";
import type { DomainSpec } from "./domain-config.js";
import type { BackendDomain, DomainTable, GuestDomain } from "./domain-table.js";
import { decodeSaveFile, encodeSaveFile, type SaveSection } from "./save-file.js";
import type { VscsiDevices } from "./vscsi-devices.js";
import { hbaNode } from "./vscsi-nodes.js";
import type { VscsiSpec } from "./vscsi-spec.js";

const p = {
  lstat: promisify(lstat),
  mkdir: promisify(mkdir),
  readdir: promisify(readdir),
  readFile: promisify(readFile),
  readlink: promisify(readlink),
  symlink: promisify(symlink),
  writeFile: promisify(writeFile),
};

/**
 * What identifies a physical device across hosts and across time, where h:c:t:l does not (each
 * host numbers its devices its own way). Saved with every vscsi assignment.
 */
export interface DeviceIdentity {
  /** The host's h:c:t:l when saved (for messages; never used to find the device). */
  readonly hctl: string;
  /** `naa.<target port WWN>:<lun>`, what libxl writes as p-dev for the pvops backend. */
  readonly naa: string;
  /** The logical unit's own WWN (VPD page 83h), or "-". */
  readonly wwn: string;
  /** What stores its data outside the host process: `file:<realpath>`, `tape:<dir>`, … or null (RAM). */
  readonly backing: string | null;
  readonly shareable: boolean;
  readonly dev: string;
  readonly type: string;
}

/** One vscsi assignment as saved: where it goes in the guest, and which device it is. */
export interface SavedDevice {
  /** The driver domain's name, or undefined for dom0. */
  readonly backend?: string;
  /** The guest's controller (vHOST) and whether it passes CDBs through. */
  readonly vhost: number;
  readonly featureHost: boolean;
  /** The vhost's munging policy, when one was chosen. */
  readonly munging?: string;
  /** Its controller is a whole HBA (vdev `host`): restored as one `'<pdev>,host'` entry. */
  readonly hba?: true;
  readonly vdev: string;
  /** `p-devname`: what the user wrote (config or scsi-attach). */
  readonly pdevname: string;
  /** `p-dev` as written in xenstore when saved. */
  readonly pdev: string;
  readonly identity: DeviceIdentity;
}

/** The `META` section of a save file. */
export interface SaveMeta {
  readonly format: "pvscsi-domain";
  readonly name: string;
  readonly memoryMiB: number;
  readonly frames: number;
  /** The guest_root the config gave, if any (else the restoring host's default for the name). */
  readonly guestRoot: string | null;
  readonly savedAt: string;
  /** The saving host's instance id: a RAM disk is the same device only on the same host. */
  readonly hostId: string;
  readonly devices: readonly SavedDevice[];
}

/**
 * The `KERN` section: the suspended guest kernel, resumed instead of booted afresh (its
 * scsifront finishes what was in flight with DID_RESET and reconnects; its midlayer keeps its
 * devices and names). Absent for a kernel that cannot be saved (WebAssembly) and in older files.
 */
export interface KernelImage {
  readonly state: GuestKernelState;
  /** The kernel's frame bitmap (which of its frames were in use), base64 of its words. */
  readonly frameBitmap: string;
  /** Each saved controller's devid and vHOST: here it gets the devid its vHOST gets. */
  readonly controllers: ReadonlyArray<{ readonly devid: number; readonly idx: number }>;
}

/** The words of a domain's frame bitmap (its kernel's record of the frames in use). */
export function frameBitmapOf(handle: DomainHandle): Int32Array {
  const v = new DomainView(handle);
  return v.kernel.subarray(v.layout.frameBitmap, v.layout.frameBitmap + v.layout.frameBitmapWords);
}

/** One file of the guest's filesystem (`GFS_` section). */
interface FsEntry {
  readonly path: string;
  readonly kind: "dir" | "file" | "symlink";
  readonly mode: number;
  readonly data?: string; // base64 for files, the target for symlinks
}

/** Largest guest filesystem a save file carries. */
export const MAX_SAVED_GUEST_FS = 64 * 1024 * 1024;

/** What the toolstack gives save/restore to work with. */
export interface SaveRestoreContext {
  readonly system: System;
  readonly table: DomainTable;
  readonly devices: VscsiDevices;
  readonly hostId: string;
  /** dom0's host config, to find what backs each device (null: the built-in inventory). */
  readonly hostConfig: HostConfigSource | null;
  /** Where a guest's filesystem goes on this host when its config named none. */
  readonly defaultGuestRoot: (name: string) => string;
}

/**
 * What backs each of dom0's devices outside the host process, by h:c:t:l: an image file, an
 * ISO, a cartridge directory; absent for RAM disks and null devices (their data is the host's).
 */
export function deviceBackings(hostConfig: HostConfigSource | null): Map<string, string> {
  const out = new Map<string, string>();
  if (hostConfig === null) return out;
  const cfg = parseHostConfig(hostConfig.text, hostConfig.source, hostConfig.baseDir);
  for (const d of cfg.devices) {
    const hctl = `${d.hctl.host}:${d.hctl.channel}:${d.hctl.target}:${d.hctl.lun}`;
    const real = (f: string) => {
      try {
        return realpathSync(f);
      } catch {
        return f;
      }
    };
    if ((d.kind === "disk" || d.kind === "cdrom") && d.file !== null) out.set(hctl, `file:${real(d.file)}`);
    else if (d.kind === "tape" && d.cartridges !== null) out.set(hctl, `tape:${real(d.cartridges)}`);
    else if (d.kind === "changer") out.set(hctl, `changer:${real(d.cartridges)}`);
  }
  return out;
}

/** A backend domain's row for the p-dev written in xenstore (naa form or h:c:t:l). */
function rowFor(be: BackendDomain, pdev: string): LsscsiRow | undefined {
  return be.inventory.find((r) => r.pdev.toLowerCase() === pdev.toLowerCase() || r.hctl === pdev);
}

/** The vscsi assignments of a guest, with each device's identity. */
export async function savedDevices(ctx: SaveRestoreContext, g: GuestDomain): Promise<SavedDevice[]> {
  const xs = ctx.system.xs;
  const backings = deviceBackings(ctx.hostConfig);
  const out: SavedDevice[] = [];
  for (const c of await ctx.devices.controllersOf(g.handle.domid)) {
    const hba = (await xs.tryRead(hbaNode(g.handle.domid, c.devid))) !== undefined;
    const be = ctx.table.backends.get(c.backendDomid);
    if (!be)
      throw new PvscsiError(
        "ESTATE",
        `${g.name}: controller ${c.devid}'s backend dom${c.backendDomid} is gone`,
      );
    for (const d of c.devs) {
      const row = rowFor(be, d.pdev);
      if (!row) throw new PvscsiError("ESTATE", `${g.name}: p-dev '${d.pdev}' is not a device of ${be.name}`);
      const pdevname =
        (await xs.tryRead(`${c.backend}/${VSCSI_DEVS}/dev-${d.id}/${XenbusNode.pDevname}`)) ?? d.pdev;
      out.push({
        ...(c.backendDomid !== 0 ? { backend: be.name } : {}),
        vhost: c.idx,
        featureHost: c.featureHost,
        ...(c.munging !== undefined ? { munging: c.munging } : {}),
        ...(hba ? { hba: true as const } : {}),
        vdev: `${d.vdev.host}:${d.vdev.channel}:${d.vdev.target}:${d.vdev.lun}`,
        pdevname,
        pdev: d.pdev,
        identity: {
          hctl: row.hctl,
          naa: row.pdev,
          wwn: row.wwn,
          backing: c.backendDomid === 0 ? (backings.get(row.hctl) ?? null) : null,
          shareable: row.shareable,
          dev: row.dev,
          type: row.type,
        },
      });
    }
  }
  return out;
}

/** A device's display name in messages: `/dev/sdb (naa.…:0, 0:0:1:0 on the source)`. */
export function describeDevice(d: SavedDevice): string {
  return `${d.pdevname} (${d.identity.naa}, ${d.identity.hctl} on the source${d.identity.backing ? `, ${d.identity.backing}` : ""})`;
}

/**
 * Find each saved device on this host by its identity, never by its old h:c:t:l: the same image
 * or cartridge files (what two hosts can both reach), or — for a device whose data lives in a
 * host's memory (RAM disk) — the same unit WWN on the very host that saved it. Errors name every
 * device that cannot be reached.
 */
export function resolveSavedDevices(
  ctx: SaveRestoreContext,
  meta: SaveMeta,
): Array<{ saved: SavedDevice; row: LsscsiRow; backend: BackendDomain }> {
  const backings = deviceBackings(ctx.hostConfig);
  const out: Array<{ saved: SavedDevice; row: LsscsiRow; backend: BackendDomain }> = [];
  const missing: string[] = [];
  for (const d of meta.devices) {
    const be =
      d.backend === undefined
        ? ctx.table.backends.get(0)
        : [...ctx.table.backends.values()].find((b) => b.name === d.backend);
    if (!be) {
      missing.push(`${describeDevice(d)}: its driver domain '${d.backend}' does not run here`);
      continue;
    }
    let row: LsscsiRow | undefined;
    if (d.identity.backing !== null && be.handle.domid === 0) {
      row = be.inventory.find((r) => backings.get(r.hctl) === d.identity.backing);
    } else if (meta.hostId === ctx.hostId) {
      row = be.inventory.find((r) => r.wwn === d.identity.wwn && r.pdev === d.identity.naa);
    }
    if (!row) {
      missing.push(
        d.identity.backing !== null
          ? `${describeDevice(d)}: no device of this host uses ${d.identity.backing.replace(/^[a-z]+:/, "")}`
          : `${describeDevice(d)}: a ${d.identity.type} whose data lives in the source host's memory; only that host can reach it (give both hosts the same image file, declared shareable)`,
      );
      continue;
    }
    if (row.fault !== null) {
      missing.push(`${describeDevice(d)}: ${row.hctl} here cannot serve data (${row.fault})`);
      continue;
    }
    out.push({ saved: d, row, backend: be });
  }
  if (missing.length > 0)
    throw new PvscsiError(
      "ESTATE",
      `${missing.length === 1 ? "a device is" : `${missing.length} devices are`} not reachable on this host: ${missing.join("; ")}`,
    );
  return out;
}

/**
 * The domain spec that recreates the guest here: every device named by its h:c:t:l on this host
 * (or the same naa. p-dev, when that is what was written), `p-devname` as the user wrote it.
 */
export function restoreSpec(
  meta: SaveMeta,
  resolved: ReturnType<typeof resolveSavedDevices>,
  guestRoot: string,
): DomainSpec {
  // A whole HBA comes back as one entry: it takes whatever units its host has here now.
  const hbaSeen = new Set<string>();
  const vscsi = resolved.flatMap(({ saved, row }, i) => {
    const where = `saved device ${i + 1} (${saved.pdevname})`;
    if (saved.hba) {
      const key = `${saved.backend ?? ""}:${saved.vhost}`;
      if (hbaSeen.has(key)) return [];
      hbaSeen.add(key);
      const spec: VscsiSpec = {
        pdev: { kind: "hctl", hctl: parseHctlOrThrow(row.hctl, where, "pdev") },
        pdevText: row.hctl,
        vdev: { host: 0, channel: 0, target: 0, lun: 0 },
        hba: true,
        featureHost: true,
        ...(saved.munging !== undefined ? { munging: saved.munging } : {}),
        ...(saved.backend !== undefined ? { backend: saved.backend } : {}),
      };
      return [{ spec, where }];
    }
    const usesNaa = saved.pdev.toLowerCase().startsWith("naa.") && row.pdev.toLowerCase().startsWith("naa.");
    const pdev: VscsiSpec["pdev"] = usesNaa
      ? { kind: "wwn", wwn: row.pdev.slice(4, 20).toLowerCase(), lun: Number(row.pdev.split(":")[1]) }
      : { kind: "hctl", hctl: parseHctlOrThrow(row.hctl, where, "pdev") };
    const spec: VscsiSpec = {
      pdev,
      pdevText: saved.pdevname,
      vdev: parseHctlOrThrow(saved.vdev, where, "vdev", { channel: 0xffff, target: 0xffff, lun: 0xffff }),
      featureHost: saved.featureHost,
      ...(saved.munging !== undefined ? { munging: saved.munging } : {}),
      ...(saved.backend !== undefined ? { backend: saved.backend } : {}),
    };
    return [{ spec, where }];
  });
  return { name: meta.name, memoryMiB: meta.memoryMiB, vscsi, guestRoot, warnings: [] };
}

/** A subtree of the store as plain data (`XSND` section: the guest's device nodes as saved). */
interface XsTree {
  readonly path: string;
  readonly value: string;
  readonly children: XsTree[];
}

async function readTree(xs: XenstoreClient, path: string, depth = 0): Promise<XsTree | null> {
  const value = await xs.tryRead(path);
  if (value === undefined || depth > 16) return null;
  const children: XsTree[] = [];
  for (const name of await xs.directory(path).catch(() => [] as string[])) {
    const t = await readTree(xs, `${path}/${name}`, depth + 1);
    if (t) children.push(t);
  }
  return { path, value, children };
}

/** The guest's filesystem (its `guestRoot` folder) as entries, bounded by {@link MAX_SAVED_GUEST_FS}. */
async function readGuestFs(root: string): Promise<FsEntry[]> {
  const out: FsEntry[] = [];
  let bytes = 0;
  const walk = async (dir: string): Promise<void> => {
    let names: string[];
    try {
      names = (await p.readdir(dir)).sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
      throw e;
    }
    for (const n of names) {
      const full = join(dir, n);
      const rel = relative(root, full).split(sep).join("/");
      const st = await p.lstat(full);
      if (st.isDirectory()) {
        out.push({ path: rel, kind: "dir", mode: st.mode & 0o7777 });
        await walk(full);
      } else if (st.isSymbolicLink()) {
        out.push({ path: rel, kind: "symlink", mode: 0o777, data: await p.readlink(full) });
      } else if (st.isFile()) {
        bytes += st.size;
        if (bytes > MAX_SAVED_GUEST_FS)
          throw new PvscsiError(
            "ESTATE",
            `the guest's filesystem (${root}) holds more than ${MAX_SAVED_GUEST_FS >> 20} MiB; a save file carries at most that`,
          );
        out.push({
          path: rel,
          kind: "file",
          mode: st.mode & 0o7777,
          data: Buffer.from(await p.readFile(full)).toString("base64"),
        });
      }
    }
  };
  await walk(root);
  return out;
}

/** Write saved entries under `root` (created); a path leaving the root is refused. */
async function writeGuestFs(root: string, entries: readonly FsEntry[]): Promise<void> {
  await p.mkdir(root, { recursive: true });
  for (const e of entries) {
    const parts = e.path.split("/");
    if (e.path === "" || parts.some((x) => x === "" || x === "." || x === ".."))
      throw new PvscsiError("EINVALARG", `save file: guest path '${e.path}' leaves the guest's filesystem`);
    const full = join(root, ...parts);
    if (e.kind === "dir") await p.mkdir(full, { recursive: true, mode: e.mode });
    else if (e.kind === "symlink") {
      await p.symlink(e.data ?? "", full).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== "EEXIST") throw err;
      });
    } else await p.writeFile(full, Buffer.from(e.data ?? "", "base64"), { mode: e.mode });
  }
}

/**
 * Capture a guest for `xl save` / `xl migrate`: quiesce it (its frontends have nothing in flight),
 * then its assignments by identity, its xenstore device nodes, its filesystem and its memory.
 * `withMemory` false leaves memory out (migration sends it in rounds).
 */
export async function captureGuest(
  ctx: SaveRestoreContext,
  g: GuestDomain,
  withMemory: boolean,
): Promise<{ meta: SaveMeta; image: Uint8Array; suspended: boolean }> {
  const xs = ctx.system.xs;
  const devices = await savedDevices(ctx, g);
  const controllers = (await ctx.devices.controllersOf(g.handle.domid)).map((c) => ({
    devid: c.devid,
    idx: c.idx,
  }));
  // Suspend the kernel (scsifront pauses; what is in flight stays, and is reset and retried by
  // the resumed kernel); a kernel that cannot be saved is quiesced instead and booted afresh.
  const state = await g.kernel.api.suspend();
  if (state === null) await g.kernel.api.settled();
  const domid = g.handle.domid;
  const nodes = {
    frontend: await readTree(xs, `/local/domain/${domid}/device/vscsi`),
    backends: await Promise.all(
      [...ctx.table.backends.keys()].map((b) => readTree(xs, `/local/domain/${b}/backend/vscsi/${domid}`)),
    ),
  };
  const meta: SaveMeta = {
    format: "pvscsi-domain",
    name: g.name,
    memoryMiB: g.memoryMiB,
    frames: g.handle.frames,
    guestRoot: g.guestRoot === ctx.defaultGuestRoot(g.name) ? null : g.guestRoot,
    savedAt: new Date().toISOString(),
    hostId: ctx.hostId,
    devices,
  };
  const json = (v: unknown) => new Uint8Array(Buffer.from(JSON.stringify(v), "utf8"));
  const sections: SaveSection[] = [
    { tag: "META", data: json(meta) },
    { tag: "XSND", data: json(nodes) },
    { tag: "GFS_", data: json(await readGuestFs(g.guestRoot)) },
  ];
  if (state !== null) {
    const kern: KernelImage = {
      state,
      frameBitmap: Buffer.from(new Uint8Array(frameBitmapOf(g.handle).slice().buffer)).toString("base64"),
      controllers,
    };
    sections.push({ tag: "KERN", data: json(kern) });
  }
  if (withMemory) sections.push({ tag: "MEM_", data: domainMemoryBytes(g.handle).slice() });
  return { meta, image: encodeSaveFile(sections), suspended: state !== null };
}

/** A save file decoded and checked, ready to restore. */
export interface SaveImage {
  readonly meta: SaveMeta;
  readonly memory: Uint8Array | null;
  readonly fs: readonly FsEntry[];
  readonly nodes: unknown;
  /** The suspended kernel to resume, or null (booted afresh). */
  readonly kernel: KernelImage | null;
}

/** Decode a save file and check its contents (not only its checksums). */
export function readSaveImage(bytes: Uint8Array, file: string): SaveImage {
  const s = decodeSaveFile(bytes, file);
  const bad = (what: string) => new PvscsiError("EINVALARG", `${file}: ${what}; nothing was restored`);
  const parse = (tag: string): unknown => {
    const b = s.get(tag);
    if (!b) throw bad(`section ${tag} is missing`);
    try {
      return JSON.parse(Buffer.from(b).toString("utf8"));
    } catch {
      throw bad(`section ${tag} is not JSON`);
    }
  };
  const meta = parse("META") as SaveMeta;
  if (
    meta?.format !== "pvscsi-domain" ||
    typeof meta.name !== "string" ||
    !Number.isInteger(meta.memoryMiB) ||
    !Number.isInteger(meta.frames) ||
    !Array.isArray(meta.devices)
  )
    throw bad("section META does not describe a domain");
  const memory = s.get("MEM_") ?? null;
  if (memory !== null && memory.length !== meta.frames * 4096)
    throw bad(`memory is ${memory.length} bytes, ${meta.frames} frames need ${meta.frames * 4096}`);
  const fs = parse("GFS_");
  if (!Array.isArray(fs)) throw bad("section GFS_ is not a list of files");
  let kernel: KernelImage | null = null;
  if (s.has("KERN")) {
    const k = parse("KERN") as KernelImage;
    if (
      typeof k?.frameBitmap !== "string" ||
      !Array.isArray(k.controllers) ||
      !Array.isArray(k.state?.scsifront?.controllers) ||
      !Array.isArray(k.state?.devices)
    )
      throw bad("section KERN does not describe a suspended kernel");
    kernel = k;
  }
  return { meta, memory, fs: fs as FsEntry[], nodes: parse("XSND"), kernel };
}

/**
 * Recreate a saved guest on this host: devices resolved by identity (h:c:t:l adjusted to this
 * host's numbering), its filesystem written back, then the domain built with its memory restored
 * before its kernel boots. Every check runs before anything is created.
 */
export async function restoreGuest(
  ctx: SaveRestoreContext,
  image: SaveImage,
  create: (spec: DomainSpec) => Promise<{ domid: number; name: string }>,
): Promise<{
  domid: number;
  name: string;
  devices: Array<{ vdev: string; pdevname: string; from: string; to: string }>;
}> {
  const { meta } = image;
  if (ctx.table.findByName(meta.name) !== undefined)
    throw new PvscsiError("ESTATE", `domain '${meta.name}' already exists; nothing was restored`);
  const resolved = resolveSavedDevices(ctx, meta);
  const guestRoot = meta.guestRoot ?? ctx.defaultGuestRoot(meta.name);
  const spec = restoreSpec(meta, resolved, guestRoot);
  await writeGuestFs(guestRoot, image.fs);
  const r = await create(spec);
  return {
    ...r,
    devices: resolved.map(({ saved, row }) => ({
      vdev: saved.vdev,
      pdevname: saved.pdevname,
      from: saved.identity.hctl,
      to: row.hctl,
    })),
  };
}

/** Check a name given on the command line for a save file path. */
export function checkSavePath(file: unknown, op: string): string {
  if (typeof file !== "string" || file === "") throw configError(`xl ${op}`, "a file path is needed");
  return file;
}
