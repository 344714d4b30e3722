/**
 * POSIX ustar headers (POSIX.1-2001 `pax` interchange format, the ustar subset plus `x`
 * extended headers for long names and large sizes), as GNU tar and bsdtar read and write them.
 * Blocks are 512 bytes; an archive ends with two zero blocks.
 */

/** Tar block size. */
export const TAR_BLOCK = 512;

/** Member types pvscsi's tar writes. */
export type TarType = "file" | "directory" | "symlink";

/** One archive member's metadata. */
export interface TarEntry {
  /** Path inside the archive, `/`-separated, no leading `/`; directories end without `/`. */
  readonly path: string;
  readonly type: TarType;
  readonly mode: number;
  readonly size: number;
  /** Modification time, seconds since 1970. */
  readonly mtime: number;
  readonly linkname?: string;
  readonly uid?: number;
  readonly gid?: number;
  readonly uname?: string;
  readonly gname?: string;
}

const TYPEFLAG: Record<TarType, number> = { file: 0x30, directory: 0x35, symlink: 0x32 };
const enc = new TextEncoder();
const dec = new TextDecoder();

function putString(b: Uint8Array, at: number, width: number, s: string): boolean {
  const bytes = enc.encode(s);
  if (bytes.length > width) return false;
  b.set(bytes, at);
  return true;
}

function putOctal(b: Uint8Array, at: number, width: number, v: number): boolean {
  const s = Math.max(0, Math.floor(v)).toString(8);
  if (s.length > width - 1) return false;
  putString(b, at, width, `${s.padStart(width - 1, "0")}\0`);
  return true;
}

/** Sum of the header bytes with the checksum field read as spaces. */
function headerChecksum(b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < TAR_BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : b[i]!;
  return sum;
}

function finish(b: Uint8Array): Uint8Array {
  b.set(enc.encode("ustar\u000000"), 257);
  putString(b, 148, 8, `${headerChecksum(b).toString(8).padStart(6, "0")}\0 `);
  return b;
}

/** A pax extended header (`x`) carrying `records`, with its data blocks. */
function paxHeader(path: string, records: Record<string, string>): Uint8Array {
  let body = "";
  for (const [k, v] of Object.entries(records)) {
    const rest = ` ${k}=${v}\n`;
    let len = enc.encode(rest).length + 1;
    while (String(len).length + enc.encode(rest).length !== len)
      len = String(len).length + enc.encode(rest).length;
    body += `${len}${rest}`;
  }
  const data = enc.encode(body);
  const h = new Uint8Array(TAR_BLOCK);
  const base = path.split("/").pop() ?? "entry";
  putString(h, 0, 100, `PaxHeaders/${base}`.slice(0, 99));
  putOctal(h, 100, 8, 0o644);
  putOctal(h, 108, 8, 0);
  putOctal(h, 116, 8, 0);
  putOctal(h, 124, 12, data.length);
  putOctal(h, 136, 12, 0);
  h[156] = 0x78; // 'x'
  finish(h);
  const out = new Uint8Array(TAR_BLOCK + Math.ceil(data.length / TAR_BLOCK) * TAR_BLOCK);
  out.set(h, 0);
  out.set(data, TAR_BLOCK);
  return out;
}

/**
 * The header block(s) of `e`: one ustar header, preceded by a pax extended header when the path
 * or link name does not fit ustar's fields or the size needs more than 11 octal digits.
 */
export function encodeTarHeader(e: TarEntry): Uint8Array {
  const h = new Uint8Array(TAR_BLOCK);
  const pax: Record<string, string> = {};
  const name = e.type === "directory" ? `${e.path}/` : e.path;
  if (!putString(h, 0, 100, name)) {
    // Split into prefix (155) and name (100) at a slash, as ustar allows.
    const bytes = enc.encode(name);
    let split = -1;
    for (let i = bytes.length - 1; i > 0; i--) {
      if (bytes[i] === 0x2f && i <= 155 && bytes.length - i - 1 <= 100 && bytes.length - i - 1 > 0) {
        split = i;
        break;
      }
    }
    if (split > 0) {
      h.set(bytes.subarray(split + 1), 0);
      h.set(bytes.subarray(0, split), 345);
    } else {
      pax.path = name;
      putString(h, 0, 100, dec.decode(bytes.subarray(0, 99)));
    }
  }
  putOctal(h, 100, 8, e.mode & 0o7777);
  if (!putOctal(h, 108, 8, e.uid ?? 0)) pax.uid = String(e.uid);
  if (!putOctal(h, 116, 8, e.gid ?? 0)) pax.gid = String(e.gid);
  const size = e.type === "file" ? e.size : 0;
  if (!putOctal(h, 124, 12, size)) {
    pax.size = String(size);
    putOctal(h, 124, 12, 0);
  }
  putOctal(h, 136, 12, e.mtime);
  h[156] = TYPEFLAG[e.type];
  if (e.linkname !== undefined && !putString(h, 157, 100, e.linkname)) pax.linkpath = e.linkname;
  putString(h, 265, 32, (e.uname ?? "").slice(0, 31));
  putString(h, 297, 32, (e.gname ?? "").slice(0, 31));
  finish(h);
  if (Object.keys(pax).length === 0) return h;
  const x = paxHeader(e.path, pax);
  const out = new Uint8Array(x.length + TAR_BLOCK);
  out.set(x, 0);
  out.set(h, x.length);
  return out;
}

/** Whether a block is all zeros (the end-of-archive marker). */
export function isZeroBlock(b: Uint8Array, at = 0): boolean {
  for (let i = at; i < at + TAR_BLOCK; i++) if (b[i] !== 0) return false;
  return true;
}

function readString(b: Uint8Array, at: number, width: number): string {
  let end = at;
  while (end < at + width && b[end] !== 0) end++;
  return dec.decode(b.subarray(at, end));
}

function readOctal(b: Uint8Array, at: number, width: number): number {
  const s = readString(b, at, width).trim();
  return s === "" ? 0 : Number.parseInt(s, 8);
}

/** A decoded header block: the entry, or the pax records an `x` header carries (read its data next). */
export type DecodedTarHeader =
  | { readonly kind: "entry"; readonly entry: TarEntry; readonly typeflag: number }
  | { readonly kind: "pax"; readonly size: number; readonly global: boolean };

/** Decode the header block at `b[at]`; a string says why it is not one. */
export function decodeTarHeader(b: Uint8Array, at = 0): DecodedTarHeader | string {
  const h = b.subarray(at, at + TAR_BLOCK);
  if (h.length < TAR_BLOCK) return "short header block";
  const stored = readOctal(h, 148, 8);
  if (stored !== headerChecksum(h)) return "header checksum mismatch";
  const typeflag = h[156]!;
  const size = readOctal(h, 124, 12);
  if (typeflag === 0x78 || typeflag === 0x67) return { kind: "pax", size, global: typeflag === 0x67 };
  const prefix = readString(h, 345, 155);
  const raw = readString(h, 0, 100);
  const name = prefix ? `${prefix}/${raw}` : raw;
  const type: TarType | null =
    typeflag === 0x30 || typeflag === 0
      ? "file"
      : typeflag === 0x35
        ? "directory"
        : typeflag === 0x32
          ? "symlink"
          : null;
  return {
    kind: "entry",
    typeflag,
    entry: {
      path: name.replace(/\/+$/, ""),
      type: type ?? "file",
      mode: readOctal(h, 100, 8),
      size: type === "directory" || type === "symlink" ? 0 : size,
      mtime: readOctal(h, 136, 12),
      linkname: readString(h, 157, 100),
      uid: readOctal(h, 108, 8),
      gid: readOctal(h, 116, 8),
      uname: readString(h, 265, 32),
      gname: readString(h, 297, 32),
    },
  };
}

/** Parse pax extended header records (`"len key=value\n"`…). */
export function parsePaxRecords(data: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  let at = 0;
  while (at < data.length) {
    let sp = at;
    while (sp < data.length && data[sp] !== 0x20) sp++;
    const len = Number(dec.decode(data.subarray(at, sp)));
    if (!Number.isInteger(len) || len <= 0 || at + len > data.length) break;
    const rec = dec.decode(data.subarray(sp + 1, at + len - 1));
    const eq = rec.indexOf("=");
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    at += len;
  }
  return out;
}
