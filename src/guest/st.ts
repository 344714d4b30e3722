import { SAM_STAT_CHECK_CONDITION, SAM_STAT_GOOD } from "../scsi/device.js";
import type { ScsiResult } from "../scsifront/scsi-host.js";
import { request, type ScsiExec, senseOf, signedInformation } from "./sg.js";

/** Where the tape stands after the last operation, as Linux st tracks it (`st_partstat.eof`). */
export type StEof = "none" | "filemark" | "eod" | "early-warning";

/**
 * What Linux's st driver remembers about a tape between opens: file and block number (-1 when
 * unknown) and the last end condition. A caller that keeps one per device (as the kernel keeps
 * it per `/dev/nstN`) gets exact positions across tool runs; a fresh one starts unknown, and
 * {@link StTape.open} fills in what the drive can tell.
 */
export interface StState {
  fileno: number;
  blkno: number;
  eof: StEof;
}

/** A fresh, unknown {@link StState}. */
export function newStState(): StState {
  return { fileno: -1, blkno: -1, eof: "none" };
}

/** An errno-style failure of a tape operation, with the message `strerror` gives. */
export class StError extends Error {
  constructor(
    readonly errno: "EIO" | "ENOSPC" | "EROFS" | "ENOMEDIUM" | "EINVAL" | "ENOMEM",
    readonly result: ScsiResult | null = null,
  ) {
    super(STRERROR[errno]);
    this.name = "StError";
  }
}

const STRERROR: Record<StError["errno"], string> = {
  EIO: "Input/output error",
  ENOSPC: "No space left on device",
  EROFS: "Read-only file system",
  ENOMEDIUM: "No medium found",
  EINVAL: "Invalid argument",
  ENOMEM: "Cannot allocate memory",
};

/** Drive readiness as st sees it (`ST_READY`, `ST_NO_TAPE`, `ST_NOT_READY`). */
export type StReady = "ready" | "no-tape" | "not-ready";

const GOOD = SAM_STAT_GOOD;
const CHECK = SAM_STAT_CHECK_CONDITION;

/**
 * The part of Linux's st driver (`drivers/scsi/st.c`) the guest tools need, over a
 * {@link ScsiExec}: the open-time probe, the MTIOCTOP operations with st's bookkeeping of file
 * and block numbers, variable and fixed-block reads and writes with st's reading of FILEMARK,
 * ILI, EOM and BLANK CHECK, and the MTIOCGET status.
 */
export class StTape {
  readonly state: StState;
  ready: StReady = "not-ready";
  blockSize = 0;
  density = 0;
  writeProtected = false;
  /** BUFFERED MODE from the mode header (st's `drv_buffer`, 1 until MODE SENSE says). */
  buffered = 1;
  /** Largest block (READ BLOCK LIMITS). */
  maxBlock = 0xffffff;

  constructor(
    private readonly exec: ScsiExec,
    state: StState = newStState(),
  ) {
    this.state = state;
  }

  private run(cdb: readonly number[], data: { dataOut?: Uint8Array; dataInLength?: number } = {}) {
    return this.exec(request(cdb, { ...data, timeoutSeconds: 900 }));
  }

  /**
   * st's `st_open` → `check_tape`: TEST UNIT READY until no unit attention (a new cartridge or a
   * reset puts the tape at BOT: file 0, block 0), then READ BLOCK LIMITS and MODE SENSE(6) for
   * the block size, density, write protection and buffering. `write`: refuse a protected tape
   * (EROFS); `nonBlocking`: succeed without a tape (O_NONBLOCK).
   */
  async open(options: { write?: boolean; nonBlocking?: boolean } = {}): Promise<void> {
    let r: ScsiResult | null = null;
    for (let i = 0; i < 8; i++) {
      r = await this.run([0x00, 0, 0, 0, 0, 0]);
      const s = senseOf(r);
      if (r.status === CHECK && s?.key === 0x6) {
        // New medium or a reset: st starts counting again (new_session).
        this.state.fileno = 0;
        this.state.blkno = 0;
        this.state.eof = "none";
        continue;
      }
      break;
    }
    const s = r ? senseOf(r) : null;
    if (r?.status === GOOD) this.ready = "ready";
    else if (s?.key === 0x2 && s.asc === 0x3a) this.ready = "no-tape";
    else this.ready = "not-ready";
    if (this.ready !== "ready") {
      this.state.fileno = -1;
      this.state.blkno = -1;
      if (!options.nonBlocking) throw new StError(this.ready === "no-tape" ? "ENOMEDIUM" : "EIO", r);
      return;
    }
    const limits = await this.run([0x05, 0, 0, 0, 0, 0], { dataInLength: 6 });
    if (limits.status === GOOD && limits.data.length >= 6) {
      this.maxBlock = (limits.data[1]! << 16) | (limits.data[2]! << 8) | limits.data[3]!;
    }
    const ms = await this.run([0x1a, 0, 0, 0, 12, 0], { dataInLength: 12 });
    if (ms.status === GOOD && ms.data.length >= 12) {
      this.writeProtected = (ms.data[2]! & 0x80) !== 0;
      this.buffered = (ms.data[2]! >>> 4) & 0x07;
      this.density = ms.data[4]!;
      this.blockSize = (ms.data[9]! << 16) | (ms.data[10]! << 8) | ms.data[11]!;
    }
    if (this.state.fileno < 0) await this.learnPosition();
    if (options.write && this.writeProtected) throw new StError("EROFS");
  }

  /** A fresh state learns the file number from READ POSITION (long form); the block only at BOT. */
  private async learnPosition(): Promise<void> {
    const r = await this.run([0x34, 0x06, 0, 0, 0, 0, 0, 0, 0, 0], { dataInLength: 32 });
    if (r.status !== GOOD || r.data.length < 24) return;
    const bop = (r.data[0]! & 0x80) !== 0;
    const file = Number(new DataView(r.data.buffer, r.data.byteOffset).getBigUint64(16));
    this.state.fileno = file;
    this.state.blkno = bop ? 0 : -1;
  }

  // ---- MTIOCTOP ---------------------------------------------------------------------------------

  /** Fail unless GOOD; `undone` is the sense's residue (0 without one). */
  private checked(r: ScsiResult): { ok: boolean; undone: number; fm: boolean; eom: boolean; key: number } {
    if (r.status === GOOD) return { ok: true, undone: 0, fm: false, eom: false, key: 0 };
    const s = senseOf(r);
    const info = signedInformation(s);
    return {
      ok: false,
      undone: info ?? 0,
      fm: s?.filemark ?? false,
      eom: s?.eom ?? false,
      key: s?.key ?? -1,
    };
  }

  /** SPACE(6) `code` by `count` (signed). */
  private space(code: number, count: number): Promise<ScsiResult> {
    const c = count & 0xffffff;
    return this.run([0x11, code, (c >>> 16) & 0xff, (c >>> 8) & 0xff, c & 0xff, 0]);
  }

  /** MTFSF: forward past `n` filemarks. */
  async fsf(n: number): Promise<void> {
    const st = this.state;
    const r = this.checked(await this.space(1, n));
    if (r.ok) {
      if (st.fileno >= 0) st.fileno += n;
      st.blkno = 0;
      st.eof = "none";
      return;
    }
    if (st.fileno >= 0) st.fileno += n - r.undone;
    st.blkno = -1;
    st.eof = r.key === 0x8 ? "eod" : "none";
    throw new StError("EIO");
  }

  /** MTBSF: backward over `n` filemarks, ending before the last. */
  async bsf(n: number): Promise<void> {
    const st = this.state;
    const r = this.checked(await this.space(1, -n));
    if (r.ok) {
      if (st.fileno >= 0) st.fileno -= n;
      st.blkno = -1;
      st.eof = "none";
      return;
    }
    if (st.fileno >= 0) st.fileno -= n - Math.abs(r.undone);
    st.blkno = r.eom ? 0 : -1;
    st.eof = "none";
    throw new StError("EIO");
  }

  /** MTFSR: forward over `n` blocks. */
  async fsr(n: number): Promise<void> {
    const st = this.state;
    const r = this.checked(await this.space(0, n));
    if (r.ok) {
      if (st.blkno >= 0) st.blkno += n;
      st.eof = "none";
      return;
    }
    if (r.fm) {
      if (st.fileno >= 0) st.fileno++;
      st.blkno = 0;
      st.eof = "filemark";
    } else {
      if (st.blkno >= 0) st.blkno += n - r.undone;
      st.eof = r.key === 0x8 ? "eod" : "none";
    }
    throw new StError("EIO");
  }

  /** MTBSR: backward over `n` blocks. */
  async bsr(n: number): Promise<void> {
    const st = this.state;
    const r = this.checked(await this.space(0, -n));
    st.eof = "none";
    if (r.ok) {
      if (st.blkno >= 0) st.blkno = Math.max(-1, st.blkno - n);
      return;
    }
    if (r.fm) {
      if (st.fileno >= 0) st.fileno--;
      st.blkno = -1;
    } else if (r.eom) {
      st.blkno = 0;
    }
    throw new StError("EIO");
  }

  /** MTWEOF: write `n` filemarks (IMMED=0: a sync point). */
  async weof(n: number): Promise<void> {
    const st = this.state;
    const r = this.checked(await this.run([0x10, 0, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff, 0]));
    if (r.ok || (r.eom && r.key === 0)) {
      // At early warning the filemarks are written all the same (st: "EOF(s) written at EOM").
      if (st.fileno >= 0) st.fileno += n;
      st.blkno = 0;
      st.eof = r.ok ? "none" : "early-warning";
      return;
    }
    if (st.fileno >= 0) st.fileno += n - r.undone;
    st.blkno = 0;
    throw new StError(r.key === 0x7 ? "EROFS" : r.key === 0xd ? "ENOSPC" : "EIO");
  }

  /** MTEOM: to end-of-data (its file number from READ POSITION). */
  async eod(): Promise<void> {
    const r = this.checked(await this.space(3, 0));
    this.state.blkno = -1;
    this.state.eof = "eod";
    if (!r.ok) throw new StError("EIO");
    this.state.fileno = -1;
    await this.learnPosition();
    this.state.blkno = -1;
  }

  /** MTREW. */
  async rewind(): Promise<void> {
    const r = this.checked(await this.run([0x01, 0, 0, 0, 0, 0]));
    if (!r.ok) throw new StError("EIO");
    this.state.fileno = 0;
    this.state.blkno = 0;
    this.state.eof = "none";
  }

  /** MTOFFL: rewind and unload. */
  async offline(): Promise<void> {
    const r = this.checked(await this.run([0x1b, 0, 0, 0, 0x00, 0]));
    if (!r.ok) throw new StError("EIO");
    this.state.fileno = -1;
    this.state.blkno = -1;
    this.state.eof = "none";
    this.ready = "not-ready";
  }

  /** MTLOAD. */
  async load(): Promise<void> {
    const r = this.checked(await this.run([0x1b, 0, 0, 0, 0x01, 0]));
    if (!r.ok) throw new StError(r.key === 0x2 ? "ENOMEDIUM" : "EIO");
    this.state.fileno = 0;
    this.state.blkno = 0;
    this.state.eof = "none";
    this.ready = "ready";
  }

  /** MTERASE: long erase from the current position (st's default). */
  async erase(): Promise<void> {
    const r = this.checked(await this.run([0x19, 0x01, 0, 0, 0, 0]));
    if (!r.ok) throw new StError(r.key === 0x7 ? "EROFS" : "EIO");
    this.state.eof = "none";
  }

  /** MTLOCK / MTUNLOCK. */
  async lock(prevent: boolean): Promise<void> {
    const r = this.checked(await this.run([0x1e, 0, 0, 0, prevent ? 1 : 0, 0]));
    if (!r.ok) throw new StError("EIO");
  }

  /** MTSETBLK / MTSETDENSITY: MODE SELECT(6) of the block descriptor, as st builds it. */
  async setBlock(blockSize: number, density = this.density): Promise<void> {
    if (blockSize < 0 || blockSize > 0xffffff) throw new StError("EINVAL");
    const p = Uint8Array.from([
      0,
      0,
      (this.buffered & 0x07) << 4,
      8,
      density,
      0,
      0,
      0,
      0,
      (blockSize >>> 16) & 0xff,
      (blockSize >>> 8) & 0xff,
      blockSize & 0xff,
    ]);
    const r = this.checked(await this.run([0x15, 0x10, 0, 0, 12, 0], { dataOut: p }));
    if (!r.ok) throw new StError("EIO");
    this.blockSize = blockSize;
    this.density = density;
  }

  /** MTCOMPRESSION: the DCE bit of the Data Compression page (st's `st_compression`). */
  async compression(on: boolean): Promise<void> {
    const ms = await this.run([0x1a, 0x08, 0x0f, 0, 64, 0], { dataInLength: 64 });
    if (ms.status !== GOOD || ms.data.length < 4 + 16 || (ms.data[4]! & 0x3f) !== 0x0f)
      throw new StError("EIO");
    const page = ms.data.slice(4, 4 + 16);
    page[0]! &= 0x3f;
    page[2] = on ? page[2]! | 0x80 : page[2]! & 0x7f;
    const list = new Uint8Array(4 + 16);
    list[2] = (this.buffered & 0x07) << 4;
    list.set(page, 4);
    const r = this.checked(await this.run([0x15, 0x10, 0, 0, list.length, 0], { dataOut: list }));
    if (!r.ok) throw new StError("EIO");
  }

  /** MTIOCPOS: READ POSITION (st without scsi2logical asks the device-specific form). */
  async tell(): Promise<number> {
    const r = await this.run([0x34, 0x01, 0, 0, 0, 0, 0, 0, 0, 0], { dataInLength: 20 });
    if (r.status !== GOOD || r.data.length < 8) throw new StError("EIO");
    return ((r.data[4]! << 24) | (r.data[5]! << 16) | (r.data[6]! << 8) | r.data[7]!) >>> 0;
  }

  /** MTSEEK: LOCATE(10) (BT: device block ids). The file and block numbers become unknown. */
  async seek(block: number): Promise<void> {
    const r = this.checked(
      await this.run([
        0x2b,
        0x04,
        0,
        (block >>> 24) & 0xff,
        (block >>> 16) & 0xff,
        (block >>> 8) & 0xff,
        block & 0xff,
        0,
        0,
        0,
      ]),
    );
    this.state.fileno = -1;
    this.state.blkno = -1;
    this.state.eof = "none";
    if (!r.ok) throw new StError("EIO");
    if (block === 0) {
      this.state.fileno = 0;
      this.state.blkno = 0;
    }
  }

  // ---- read and write ---------------------------------------------------------------------------

  /**
   * `write(2)` of `data` (st's `st_write`): one variable block, or whole fixed blocks. At early
   * warning the data is written and the next write fails with ENOSPC; past the physical end,
   * ENOSPC at once.
   */
  async write(data: Uint8Array): Promise<void> {
    const st = this.state;
    if (st.eof === "early-warning") throw new StError("ENOSPC");
    const fixed = this.blockSize > 0;
    if (fixed && data.length % this.blockSize !== 0) throw new StError("EINVAL");
    const n = fixed ? data.length / this.blockSize : data.length;
    const r = this.checked(
      await this.run([0x0a, fixed ? 1 : 0, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff, 0], {
        dataOut: data,
      }),
    );
    const blocks = fixed ? n : 1;
    if (r.ok || (r.eom && r.key === 0 && r.undone === 0)) {
      if (st.blkno >= 0) st.blkno += blocks;
      if (!r.ok) st.eof = "early-warning";
      return;
    }
    if (r.key === 0x7) throw new StError("EROFS");
    if (r.key === 0xd) {
      if (st.blkno >= 0) st.blkno += fixed ? blocks - r.undone : 0;
      st.eof = "early-warning";
      throw new StError("ENOSPC");
    }
    throw new StError("EIO");
  }

  /**
   * `read(2)` of up to `size` bytes (st's `st_read`, SILI off): a block's bytes, or null at a
   * filemark (end of file, positioned after it) or at end-of-data (once; then EIO). A block
   * longer than `size` is ENOMEM, as st reports it.
   */
  async read(size: number): Promise<Uint8Array | null> {
    const st = this.state;
    if (st.eof === "eod") throw new StError("EIO");
    const fixed = this.blockSize > 0;
    if (fixed && size % this.blockSize !== 0) throw new StError("EINVAL");
    const n = fixed ? size / this.blockSize : size;
    const res = await this.run([0x08, fixed ? 1 : 0, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff, 0], {
      dataInLength: size,
    });
    if (res.status === GOOD) {
      if (st.blkno >= 0) st.blkno += fixed ? n : 1;
      st.eof = "none";
      return res.data;
    }
    const s = senseOf(res);
    const valid = signedInformation(s);
    const info = valid ?? 0;
    // What was read, as st_read counts it: from the sense INFORMATION (the residue in bytes, or
    // in blocks when fixed) when VALID, not from the transport's byte count — a drive may send
    // its whole buffer with the CHECK CONDITION (tgtd does, at a filemark) or a wrong residual.
    const got = (): Uint8Array => {
      if (valid === null) return res.data;
      const bytes = fixed ? (n - info) * this.blockSize : size - info;
      return res.data.subarray(0, Math.max(0, Math.min(bytes, res.data.length)));
    };
    if (s?.filemark) {
      if (st.fileno >= 0) st.fileno++;
      st.blkno = 0;
      st.eof = "filemark";
      const d = got();
      if (d.length > 0) return d; // fixed mode: the blocks before the mark
      return null;
    }
    if (s?.key === 0x8) {
      st.eof = "eod";
      const d = got();
      if (d.length > 0) return d;
      return null;
    }
    if (s?.ili) {
      if (!fixed && info < 0) throw new StError("ENOMEM");
      if (st.blkno >= 0) st.blkno += fixed ? n - info + 1 : 1;
      return got();
    }
    throw new StError("EIO", res);
  }

  // ---- MTIOCGET ---------------------------------------------------------------------------------

  /** `mt_gstat` bits as st sets them (`<linux/mtio.h>` GMT_*). */
  get gstat(): number {
    const st = this.state;
    let g = 0;
    if (st.eof === "filemark") g |= GMT_EOF;
    if (st.fileno === 0 && st.blkno === 0 && this.ready === "ready") g |= GMT_BOT;
    if (st.eof === "early-warning") g |= GMT_EOT;
    if (st.eof === "eod") g |= GMT_EOD;
    if (this.writeProtected && this.ready === "ready") g |= GMT_WR_PROT;
    if (this.ready === "ready") g |= GMT_ONLINE;
    if (this.ready === "no-tape") g |= GMT_DR_OPEN;
    if (this.buffered !== 0) g |= GMT_IM_REP_EN;
    return g >>> 0;
  }
}

/** `<linux/mtio.h>` general status bits. */
export const GMT_EOF = 0x80000000;
export const GMT_BOT = 0x40000000;
export const GMT_EOT = 0x20000000;
export const GMT_SM = 0x10000000;
export const GMT_EOD = 0x08000000;
export const GMT_WR_PROT = 0x04000000;
export const GMT_ONLINE = 0x01000000;
export const GMT_DR_OPEN = 0x00040000;
export const GMT_IM_REP_EN = 0x00010000;
export const GMT_CLN = 0x00008000;
