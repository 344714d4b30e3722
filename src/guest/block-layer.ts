import { BlkCommand } from "../blkfront/blkfront-ring.js";
import type { BlockLayer } from "../blkfront/frontend-device.js";
import type { GuestMemory } from "../blkfront/ports.js";
import type { XenDisk } from "../blkfront/xen-disk.js";
import type { GuestScsi } from "./midlayer.js";

const PAGE = 4096;

/**
 * The guest's block layer for Xen virtual disks (Linux's gendisks that xen-blkfront adds): the
 * `xvdX` devices by name, what `lsblk` lists, and prepared I/O over them. Prepared commands own
 * their guest pages for a whole run, as the SCSI path's prepared commands do, so the comparison
 * between `sdX` and `xvdX` is like for like.
 */
export class GuestBlock implements BlockLayer {
  private readonly disks = new Map<string, XenDisk>();

  constructor(readonly memory: GuestMemory) {}

  addDisk(disk: XenDisk): void {
    this.disks.set(disk.info.name, disk);
  }

  removeDisk(disk: XenDisk): void {
    if (this.disks.get(disk.info.name) === disk) this.disks.delete(disk.info.name);
  }

  /** The disks in name order. */
  list(): XenDisk[] {
    return [...this.disks.values()].sort((a, b) => a.info.vdev - b.info.vdev);
  }

  /** The disk `name` (`xvda` or `/dev/xvda`), or undefined. */
  find(name: string): XenDisk | undefined {
    return this.disks.get(name.replace(/^\/dev\//, ""));
  }

  /**
   * Commands able to carry `bytes` in pieces of at most the disk's maximum transfer, each with
   * its own pages (freed by {@link releaseCommands}). Throws when the guest is out of memory.
   */
  prepare(disk: XenDisk, bytes: number): BlkCommand[] {
    const max = disk.maxTransfer;
    const out: BlkCommand[] = [];
    for (let left = bytes; left > 0; left -= max) {
      const len = Math.min(max, left);
      const pages = Math.ceil(len / PAGE);
      const c = new BlkCommand(pages);
      for (let i = 0; i < pages; i++) {
        const f = this.memory.allocFrame();
        if (f < 0) {
          c.frameCount = i;
          this.releaseCommands([...out, c]);
          throw new Error(`guest out of memory for a ${bytes}-byte transfer`);
        }
        c.frames[i] = f;
      }
      c.frameCount = pages;
      c.length = len;
      out.push(c);
    }
    return out;
  }

  /** Give back the pages of prepared commands. */
  releaseCommands(cmds: readonly BlkCommand[]): void {
    for (const c of cmds) {
      for (let i = 0; i < c.frameCount; i++) this.memory.freeFrame(c.frames[i]!);
      c.frameCount = 0;
    }
  }

  /** Copy `src` into a prepared command's pages (from byte 0). */
  fill(cmd: BlkCommand, src: Uint8Array, at: number): void {
    const mem = this.memory.bytes;
    for (let i = 0, o = 0; o < cmd.length; i++, o += PAGE) {
      const n = Math.min(PAGE, cmd.length - o);
      mem.set(src.subarray(at + o, at + o + n), cmd.frames[i]! * PAGE);
    }
  }

  /** Copy a prepared command's pages out into `dst`. */
  drainTo(cmd: BlkCommand, dst: Uint8Array, at: number): void {
    const mem = this.memory.bytes;
    for (let i = 0, o = 0; o < cmd.length; i++, o += PAGE) {
      const n = Math.min(PAGE, cmd.length - o);
      const f = cmd.frames[i]! * PAGE;
      dst.set(mem.subarray(f, f + n), at + o);
    }
  }

  /**
   * Move `buf.length` bytes at `sector` (512-byte units) to or from `disk`, split at the maximum
   * transfer, every piece in flight at once. Resolves with the first non-OKAY status, or 0.
   */
  async transfer(disk: XenDisk, write: boolean, sector: number, buf: Uint8Array): Promise<number> {
    const cmds = this.prepare(disk, buf.length);
    try {
      let worst = 0;
      await new Promise<void>((resolve) => {
        let left = cmds.length;
        let at = 0;
        for (const c of cmds) {
          c.op = write ? 1 : 0;
          c.sector = sector + at / 512;
          const from = at;
          if (write) this.fill(c, buf, from);
          c.onComplete = (done) => {
            if (done.status !== 0) {
              if (worst === 0) worst = done.status;
            } else if (!write) this.drainTo(done, buf, from);
            if (--left === 0) resolve();
          };
          at += c.length;
          disk.submit(c, false);
        }
        disk.push();
      });
      return worst;
    } finally {
      this.releaseCommands(cmds);
    }
  }

  /** A cache flush (FLUSH_DISKCACHE or WRITE_BARRIER, whichever the backend offers); 0 when none is offered. */
  flush(disk: XenDisk): Promise<number> {
    const op = disk.info.flushOp;
    if (op === 0) return Promise.resolve(0);
    const c = new BlkCommand(1);
    c.op = op;
    return new Promise((resolve) => {
      c.onComplete = (d) => resolve(d.status);
      disk.submit(c);
    });
  }

  /** `lsblk`'s table (NAME MAJ:MIN RM SIZE RO TYPE). */
  lsblk(): string {
    const rows = [["NAME", "MAJ:MIN", "RM", "SIZE", "RO", "TYPE"]];
    for (const d of this.list()) {
      const i = d.info;
      const major = (i.vdev >>> 8) & 0xfff;
      const minor = i.vdev & 0xff;
      rows.push([
        i.name,
        `${major}:${minor}`,
        i.removable ? "1" : "0",
        humanSize(i.sectors * 512),
        i.readonly ? "1" : "0",
        i.cdrom ? "rom" : "disk",
      ]);
    }
    const w = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
    return `${rows.map((r) => r.map((v, c) => (c === 0 ? v.padEnd(w[c]!) : c === 5 ? v : v.padStart(w[c]!))).join(" ")).join("\n")}\n`;
  }
}

/** lsblk's sizes: 1024-based, one decimal when below 10. */
export function humanSize(bytes: number): string {
  const units = ["B", "K", "M", "G", "T", "P"];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  const s = v < 10 && u > 0 && !Number.isInteger(v) ? v.toFixed(1) : String(Math.round(v));
  return `${s}${units[u]}`;
}

const layers = new WeakMap<GuestScsi, GuestBlock>();

/**
 * Make `block` the block layer of the guest whose SCSI midlayer is `scsi`: guest commands are
 * handed the midlayer, and find the guest's Xen disks through it.
 */
export function attachBlockLayer(scsi: GuestScsi, block: GuestBlock): void {
  layers.set(scsi, block);
}

/** The Xen block layer of the guest whose SCSI midlayer is `scsi`, if it has one. */
export function blockLayerOf(scsi: GuestScsi): GuestBlock | undefined {
  return layers.get(scsi);
}
