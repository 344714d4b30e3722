import { be16 } from "../../scsi/cdb.js";
import {
  fieldPointer,
  INVALID_FIELD_IN_PARAMETER_LIST,
  PARAMETER_LIST_LENGTH_ERROR,
} from "../../scsi/sense.js";

/**
 * One mode page (SPC-4 §7.5): its current, changeable and default values, each the complete page
 * as MODE SENSE returns it (page code byte, length, parameters; sub-page format when `subpage`
 * is not 0). Saved values are not supported (MODE SENSE PC=3 → 05/39/00).
 */
export class ModePage {
  readonly current: Uint8Array;
  readonly changeable: Uint8Array;
  readonly defaults: Uint8Array;

  /**
   * @param bytes default (and initial current) value of the whole page
   * @param changeableBytes the changeable-bits mask, same length
   */
  constructor(
    readonly code: number,
    readonly subpage: number,
    bytes: readonly number[],
    changeableBytes: readonly number[],
  ) {
    if (bytes.length !== changeableBytes.length) throw new Error(`mode page ${code}: mask length`);
    const hdr = subpage === 0 ? 2 : 4;
    const declared = subpage === 0 ? bytes[1]! : (bytes[2]! << 8) | bytes[3]!;
    if (declared !== bytes.length - hdr) throw new Error(`mode page ${code}/${subpage}: page length`);
    this.defaults = Uint8Array.from(bytes);
    this.current = Uint8Array.from(bytes);
    this.changeable = Uint8Array.from(changeableBytes);
    this.changeable[0] = 0;
    this.changeable[1] = 0;
    if (subpage !== 0) {
      this.changeable[2] = 0;
      this.changeable[3] = 0;
    }
  }

  /** Bytes before the parameters: 2 for page_0 format, 4 for sub-page format. */
  get headerLength(): number {
    return this.subpage === 0 ? 2 : 4;
  }
}

/** Page control values of MODE SENSE (SPC-4 §6.11.1). */
export const PC_CURRENT = 0;
export const PC_CHANGEABLE = 1;
export const PC_DEFAULT = 2;
export const PC_SAVED = 3;

/** Outcome of {@link ModePageSet.select}. */
export const SELECT_OK = 0;

/**
 * A device's mode pages. MODE SENSE serialises them; MODE SELECT validates a whole parameter
 * list first and applies it only if every page is acceptable (no half-applied list).
 */
export class ModePageSet {
  private readonly pages: ModePage[] = [];
  /** Sense-key-specific value for the last failed {@link select}. */
  sks = 0;
  /** Set by {@link select} when a current value actually changed. */
  changed = false;
  private readonly staged: Uint8Array[] = [];

  add(page: ModePage): this {
    this.pages.push(page);
    this.pages.sort((a, b) => a.code - b.code || a.subpage - b.subpage);
    return this;
  }

  /** The page with `code`/`subpage`, if present. */
  get(code: number, subpage = 0): ModePage | undefined {
    for (const p of this.pages) if (p.code === code && p.subpage === subpage) return p;
    return undefined;
  }

  /** Reset every page to its defaults (LOGICAL UNIT RESET leaves pages alone; power-on would not). */
  resetToDefaults(): void {
    for (const p of this.pages) p.current.set(p.defaults);
  }

  /**
   * Append pages selected by `code`/`subpage` (0x3F = all pages; subpage 0xFF = all sub-pages)
   * with page control `pc` to `b` at `at`. Returns the new end offset, or -1 when nothing
   * matches (05/24/00: the page is not supported).
   */
  sense(b: Uint8Array, at: number, pc: number, code: number, subpage: number): number {
    let n = at;
    let any = false;
    for (const p of this.pages) {
      const codeOk = code === 0x3f || p.code === code;
      const subOk = subpage === 0xff ? true : p.subpage === subpage;
      if (!codeOk || !subOk) continue;
      const src = pc === PC_CHANGEABLE ? p.changeable : pc === PC_DEFAULT ? p.defaults : p.current;
      b.set(src, n);
      b[n] = (p.subpage !== 0 ? 0x40 : 0) | p.code; // PS = 0: saving is not supported
      if (pc === PC_CHANGEABLE) {
        b[n + 1] = p.current[1]!;
        if (p.subpage !== 0) {
          b[n + 2] = p.current[2]!;
          b[n + 3] = p.current[3]!;
        }
      }
      n += src.length;
      any = true;
    }
    return any ? n : -1;
  }

  /**
   * Validate and apply the mode pages in `list[from, to)` of a MODE SELECT parameter list
   * (offsets are parameter-list offsets, for the field pointer). Returns {@link SELECT_OK} or a
   * sense code with {@link sks} set: a page running past the list → 05/1A/00; an unknown page, a
   * wrong page length or a change to a bit that is not changeable → 05/26/00 (SPC-4 §6.9).
   */
  select(list: Uint8Array, from: number, to: number): number {
    this.changed = false;
    this.staged.length = 0;
    const targets: ModePage[] = [];
    let p = from;
    while (p < to) {
      if (p + 2 > to) return this.fail(PARAMETER_LIST_LENGTH_ERROR, 0);
      const spf = (list[p]! & 0x40) !== 0;
      const code = list[p]! & 0x3f;
      if (spf && p + 4 > to) return this.fail(PARAMETER_LIST_LENGTH_ERROR, 0);
      const subpage = spf ? list[p + 1]! : 0;
      const len = spf ? be16(list, p + 2) : list[p + 1]!;
      const hdr = spf ? 4 : 2;
      if (p + hdr + len > to) return this.fail(PARAMETER_LIST_LENGTH_ERROR, 0);
      const page = this.get(code, subpage);
      if (!page || (spf && subpage === 0))
        return this.fail(INVALID_FIELD_IN_PARAMETER_LIST, fieldPointer(false, p, 5));
      if (len !== page.current.length - hdr) {
        return this.fail(INVALID_FIELD_IN_PARAMETER_LIST, fieldPointer(false, spf ? p + 2 : p + 1, 7));
      }
      const next = page.current.slice();
      for (let i = hdr; i < page.current.length; i++) {
        const v = list[p + i]!;
        const mask = page.changeable[i]!;
        const diff = (v ^ page.current[i]!) & ~mask & 0xff;
        if (diff !== 0)
          return this.fail(
            INVALID_FIELD_IN_PARAMETER_LIST,
            fieldPointer(false, p + i, 31 - Math.clz32(diff)),
          );
        next[i] = (page.current[i]! & ~mask) | (v & mask);
      }
      targets.push(page);
      this.staged.push(next);
      p += hdr + len;
    }
    for (let i = 0; i < targets.length; i++) {
      const page = targets[i]!;
      const next = this.staged[i]!;
      for (let j = 0; j < next.length; j++) {
        if (page.current[j] !== next[j]) {
          this.changed = true;
          break;
        }
      }
      page.current.set(next);
    }
    this.staged.length = 0;
    return SELECT_OK;
  }

  private fail(code: number, sks: number): number {
    this.sks = sks;
    this.staged.length = 0;
    return code;
  }
}
