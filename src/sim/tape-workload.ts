/**
 * The tape backup workload, as a model: write a backup (records, then a filemark), rewind, read
 * it back and verify it, then start the next one. One command at a time, as Linux's st issues
 * them. Any failure (an aborted command, a unit attention, a device error, a detached LUN) loses
 * the position, as st's `pos_unknown` does: the job rewinds, and a backup interrupted while
 * written is written again from the start (a new generation, so stale records cannot pass for
 * new ones). Every clean answer must be the one SSC-3 gives at the model's position; the
 * simulator reports anything else as a `tape-order` violation.
 * @module
 */
import type { Chooser } from "./chooser.js";

/** The tape workload's shape (a {@link Scenario}'s `tape`). */
export interface TapeWorkload {
  /** Records per backup. */
  readonly records: number;
  /** Largest variable-length record in bytes (fixed mode writes 512-byte blocks). */
  readonly maxRecord: number;
}

/** Fixed-mode block length. */
export const TAPE_FIXED_BLOCK = 512;

/** One tape command of the workload, with what the model expects of it. */
export interface TapeOp {
  readonly op: "rewind" | "mode" | "write" | "wfm" | "read" | "space";
  readonly cdb: number[];
  /** Data bytes moved (data-out for write and mode, data-in for read). */
  readonly bytes: number;
  /** The generation and first record index the data belongs to (write and read). */
  readonly gen: number;
  readonly index: number;
  /** Records the command covers (fixed-mode writes may carry several). */
  readonly count: number;
  /** Fixed-block mode. */
  readonly fixed: boolean;
  /** For a variable READ asking more than the record holds: the excess (an ILI answer expected). */
  readonly excess: number;
  /** MODE SELECT's parameter list. */
  readonly param: number[] | null;
}

/** The job's state: which backup, where the tape is, what is on it. */
export interface TapeJob {
  phase: "write" | "verify";
  /** The backup being written (or verified). */
  gen: number;
  fixed: boolean;
  /** Record lengths of the backup being written. */
  lengths: number[];
  /** The position is known (false: rewind first). */
  posKnown: boolean;
  /** MODE SELECT done since the last rewind. */
  modeSet: boolean;
  /** Objects between BOP and the head, when known. */
  pos: number;
  /** The last backup written whole (records and filemark acknowledged): what verify expects. */
  committed: { gen: number; fixed: boolean; lengths: number[] } | null;
  /** Whether this verify pass has decided whether to SPACE. */
  spaced: boolean;
  /** Backups verified end to end. */
  verified: number;
  /** Failures that made the job rewind. */
  restarts: number;
  /**
   * The mutation check only: a broken backup program that retries a command after a unit
   * attention as if nothing happened, trusting a position a reset may have lost.
   */
  readonly ignoresUnitAttention: boolean;
}

/** A new job: nothing on the tape yet, position unknown (the first command meets the power-on UA). */
export function newTapeJob(ignoresUnitAttention = false): TapeJob {
  return {
    ignoresUnitAttention,
    phase: "write",
    gen: 1,
    fixed: false,
    lengths: [],
    posKnown: false,
    modeSet: false,
    pos: 0,
    committed: null,
    spaced: false,
    verified: 0,
    restarts: 0,
  };
}

/** Byte `i` of record `index` of backup `gen`: gen and index up front, then a pattern of both. */
export function recordByte(gen: number, index: number, i: number): number {
  if (i < 4) return (gen >>> (8 * i)) & 0xff;
  if (i < 8) return (index >>> (8 * (i - 4))) & 0xff;
  return (gen * 31 + index * 7 + i) & 0xff;
}

function len3(n: number): [number, number, number] {
  return [(n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}

function op(kind: TapeOp["op"], cdb: number[], fields: Partial<Omit<TapeOp, "op" | "cdb">> = {}): TapeOp {
  return {
    op: kind,
    cdb,
    bytes: 0,
    gen: 0,
    index: 0,
    count: 0,
    fixed: false,
    excess: 0,
    param: null,
    ...fields,
  };
}

/** The next command the job issues. */
export function nextTapeOp(job: TapeJob, w: TapeWorkload, c: Chooser): TapeOp {
  if (!job.posKnown) return op("rewind", [0x01, 0, 0, 0, 0, 0]);
  if (job.phase === "write" && job.pos === 0 && job.lengths.length === 0) {
    // A new backup: fixed or variable records, their lengths.
    job.fixed = c.pick(2) === 0;
    job.lengths = Array.from({ length: w.records }, () =>
      job.fixed ? TAPE_FIXED_BLOCK : 1 + c.pick(w.maxRecord),
    );
  }
  const fixed = job.phase === "write" ? job.fixed : job.committed!.fixed;
  if (!job.modeSet) {
    // MODE SELECT(6): header (buffered mode 1), one block descriptor with the block length.
    const bl = fixed ? TAPE_FIXED_BLOCK : 0;
    const param = [0, 0, 0x10, 8, 0, 0, 0, 0, 0, ...len3(bl)];
    return op("mode", [0x15, 0x10, 0, 0, param.length, 0], { bytes: param.length, param, fixed });
  }
  if (job.phase === "write") {
    const n = job.lengths.length;
    if (job.pos < n) {
      if (job.fixed) {
        const count = 1 + c.pick(Math.min(3, n - job.pos));
        return op("write", [0x0a, 0x01, ...len3(count), 0], {
          bytes: count * TAPE_FIXED_BLOCK,
          gen: job.gen,
          index: job.pos,
          count,
          fixed: true,
        });
      }
      const bytes = job.lengths[job.pos]!;
      return op("write", [0x0a, 0x00, ...len3(bytes), 0], { bytes, gen: job.gen, index: job.pos, count: 1 });
    }
    return op("wfm", [0x10, 0, ...len3(1), 0]);
  }
  const b = job.committed!;
  const n = b.lengths.length;
  if (!job.spaced) {
    job.spaced = true;
    if (job.pos === 0 && n > 1 && c.pick(3) === 0) {
      const k = 1 + c.pick(n - 1);
      return op("space", [0x11, 0x00, ...len3(k), 0], { count: k });
    }
  }
  if (job.pos < n) {
    if (b.fixed) {
      return op("read", [0x08, 0x01, ...len3(1), 0], {
        bytes: TAPE_FIXED_BLOCK,
        gen: b.gen,
        index: job.pos,
        count: 1,
        fixed: true,
      });
    }
    const len = b.lengths[job.pos]!;
    const excess = c.pick(4) === 0 ? 1 + c.pick(64) : 0;
    return op("read", [0x08, 0x00, ...len3(len + excess), 0], {
      bytes: len + excess,
      gen: b.gen,
      index: job.pos,
      count: 1,
      excess,
    });
  }
  // At the filemark, then at end-of-data: a READ of one record's worth.
  const bytes = b.fixed ? TAPE_FIXED_BLOCK : 1 + c.pick(64);
  return op("read", [0x08, b.fixed ? 0x01 : 0x00, ...len3(b.fixed ? 1 : bytes), 0], {
    bytes,
    gen: b.gen,
    index: job.pos,
    count: 1,
    fixed: b.fixed,
  });
}

/** What the guest got for a tape command. */
export interface TapeResult {
  /** The command reached the device and came back with a status (host byte DID_OK). */
  readonly delivered: boolean;
  readonly status: number;
  /** Fixed-format sense (empty without). */
  readonly sense: Uint8Array;
  readonly residual: number;
  /** For a data-in command: whether byte `i` of the buffer is record `index + ⌊i/block⌋`'s. */
  readonly dataMatches: (bytes: number) => boolean;
}

/** Sense fields SSC answers are told apart by. */
function senseOf(s: Uint8Array): {
  key: number;
  asc: number;
  ascq: number;
  fm: boolean;
  eom: boolean;
  ili: boolean;
  info: number;
} {
  return {
    key: (s[2] ?? 0) & 0x0f,
    asc: s[12] ?? 0,
    ascq: s[13] ?? 0,
    fm: ((s[2] ?? 0) & 0x80) !== 0,
    eom: ((s[2] ?? 0) & 0x40) !== 0,
    ili: ((s[2] ?? 0) & 0x20) !== 0,
    info: ((s[3] ?? 0) << 24) | ((s[4] ?? 0) << 16) | ((s[5] ?? 0) << 8) | (s[6] ?? 0) | 0,
  };
}

/** The job loses its position (st's `pos_unknown`): rewind; a backup being written starts over. */
function lose(job: TapeJob): void {
  job.posKnown = false;
  job.modeSet = false;
  job.spaced = false;
  job.restarts++;
  if (job.phase === "write") {
    job.gen++;
    job.lengths = [];
  }
}

/**
 * Apply the guest's result of `o` to the job. Returns null when it is one the model allows, or
 * why not (a `tape-order` violation). `failureAllowed` says whether a non-clean answer of this
 * kind is explained by the faults (the caller checks the host byte and the sense path).
 */
export function applyTapeResult(
  job: TapeJob,
  o: TapeOp,
  r: TapeResult,
  failureAllowed: boolean,
): string | null {
  const GOOD = 0;
  const CHECK = 2;
  if (!r.delivered) {
    lose(job);
    return null;
  }
  const s = senseOf(r.sense);
  const ua = r.status === CHECK && s.key === 0x6;
  const mediumError = r.status === CHECK && s.key === 0x3;
  if (ua && job.ignoresUnitAttention && job.posKnown) return null; // the mutant: retry in place
  if (ua || (mediumError && failureAllowed)) {
    lose(job);
    return null;
  }
  const what = `${o.op} at ${job.pos} (gen ${o.gen}, ${o.fixed ? "fixed" : "variable"})`;
  const got = `status 0x${r.status.toString(16)} sense key ${s.key} ${s.asc.toString(16)}/${s.ascq.toString(16)}${s.fm ? " FM" : ""}${s.ili ? " ILI" : ""}${s.eom ? " EOM" : ""} info ${s.info} residual ${r.residual}`;
  switch (o.op) {
    case "rewind":
      if (r.status !== GOOD) return `${what}: ${got}`;
      job.posKnown = true;
      job.pos = 0;
      job.modeSet = false;
      job.spaced = false;
      return null;
    case "mode":
      if (r.status !== GOOD) return `${what}: ${got}`;
      job.modeSet = true;
      return null;
    case "write":
      if (r.status !== GOOD || r.residual !== 0) return `${what}: ${got}`;
      job.pos += o.count;
      return null;
    case "wfm":
      if (r.status !== GOOD) return `${what}: ${got}`;
      job.pos++;
      job.committed = { gen: job.gen, fixed: job.fixed, lengths: job.lengths };
      job.phase = "verify";
      job.posKnown = false; // verify starts from BOP
      job.modeSet = false;
      job.spaced = false;
      return null;
    case "space":
      if (r.status !== GOOD) return `${what}: ${got}`;
      job.pos += o.count;
      return null;
    case "read": {
      const b = job.committed!;
      const n = b.lengths.length;
      if (job.pos < n) {
        const len = b.lengths[job.pos]!;
        if (o.excess === 0) {
          if (r.status !== GOOD || r.residual !== 0) return `${what}: expected record ${job.pos}, ${got}`;
        } else if (
          r.status !== CHECK ||
          s.key !== 0 ||
          !s.ili ||
          s.info !== o.excess ||
          r.residual !== o.excess
        ) {
          return `${what}: expected record ${job.pos} of ${len} bytes with ILI, info ${o.excess}; ${got}`;
        }
        if (!r.dataMatches(len)) return `${what}: the data read is not record ${job.pos} of backup ${b.gen}`;
        job.pos++;
        return null;
      }
      if (job.pos === n) {
        // SSC-3: NO SENSE + FILEMARK, 00/01, INFORMATION = the residue, position after the mark.
        const residue = b.fixed ? 1 : o.bytes;
        if (r.status !== CHECK || s.key !== 0 || !s.fm || s.asc !== 0 || s.ascq !== 1 || s.info !== residue) {
          return `${what}: expected the filemark; ${got}`;
        }
        job.pos++;
        return null;
      }
      // End of data: BLANK CHECK 00/05.
      if (r.status !== CHECK || s.key !== 0x8 || s.asc !== 0 || s.ascq !== 5) {
        return `${what}: expected end-of-data; ${got}`;
      }
      job.verified++;
      job.phase = "write";
      job.gen++;
      job.lengths = [];
      job.posKnown = false;
      job.modeSet = false;
      job.spaced = false;
      return null;
    }
  }
}
