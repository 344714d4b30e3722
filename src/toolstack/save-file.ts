import { createHash } from "node:crypto";
import { PvscsiError } from "../xen/errors.js";

/**
 * pvscsi's save file (`xl save` / `xl restore`, and what `xl migrate` sends): a versioned header
 * and checksummed sections, so that a truncated, corrupt or foreign file is refused with what is
 * wrong before anything is created.
 *
 * ```
 * offset 0   "PVSCSI-SAVE\n"          magic, 12 bytes
 *        12  u32 LE  format version   (SAVE_FORMAT_VERSION)
 *        16  u32 LE  section count
 *        20  sections, each:
 *              4 bytes  tag (ASCII: META, XSND, MEM_, GFS_)
 *              u32 LE   flags (0)
 *              f64 LE   payload length (bytes, an integer < 2^53)
 *              32 bytes SHA-256 of the payload
 *              payload
 *        end-32  SHA-256 of every byte before it
 * ```
 */
export const SAVE_MAGIC = "PVSCSI-SAVE\n";
/** The only format version this pvscsi reads and writes. */
export const SAVE_FORMAT_VERSION = 1;

const HEADER = 20;
const SECTION_HEADER = 4 + 4 + 8 + 32;
const DIGEST = 32;

/** A section of a save file: a 4-character tag and its bytes. */
export interface SaveSection {
  readonly tag: string;
  readonly data: Uint8Array;
}

const sha256 = (b: Uint8Array) => new Uint8Array(createHash("sha256").update(b).digest());

/** Encode sections into one save file. */
export function encodeSaveFile(sections: readonly SaveSection[]): Uint8Array {
  let size = HEADER + DIGEST;
  for (const s of sections) {
    if (!/^[A-Z_]{4}$/.test(s.tag)) throw new PvscsiError("EINVALARG", `save section tag '${s.tag}'`);
    size += SECTION_HEADER + s.data.length;
  }
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  out.set(Buffer.from(SAVE_MAGIC, "latin1"), 0);
  dv.setUint32(12, SAVE_FORMAT_VERSION, true);
  dv.setUint32(16, sections.length, true);
  let o = HEADER;
  for (const s of sections) {
    out.set(Buffer.from(s.tag, "latin1"), o);
    dv.setUint32(o + 4, 0, true);
    dv.setFloat64(o + 8, s.data.length, true);
    out.set(sha256(s.data), o + 16);
    out.set(s.data, o + SECTION_HEADER);
    o += SECTION_HEADER + s.data.length;
  }
  out.set(sha256(out.subarray(0, o)), o);
  return out;
}

/**
 * Decode and check a save file: magic, version, every section's length and checksum, the whole
 * file's checksum. Errors say what is wrong and name `file`; nothing is returned on error.
 */
export function decodeSaveFile(bytes: Uint8Array, file: string): Map<string, Uint8Array> {
  const bad = (what: string) => new PvscsiError("EINVALARG", `${file}: ${what}; nothing was restored`);
  if (
    bytes.length < SAVE_MAGIC.length ||
    Buffer.from(bytes.subarray(0, 12)).toString("latin1") !== SAVE_MAGIC
  )
    throw bad("not a pvscsi save file (no 'PVSCSI-SAVE' header)");
  if (bytes.length < HEADER + DIGEST) throw bad(`truncated: ${bytes.length} bytes, less than the header`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint32(12, true);
  if (version !== SAVE_FORMAT_VERSION)
    throw bad(`format version ${version}; this pvscsi reads version ${SAVE_FORMAT_VERSION} only`);
  const count = dv.getUint32(16, true);
  if (count > 64) throw bad(`corrupt header: ${count} sections`);
  const out = new Map<string, Uint8Array>();
  let o = HEADER;
  for (let i = 0; i < count; i++) {
    if (o + SECTION_HEADER > bytes.length - DIGEST)
      throw bad(`truncated: section ${i + 1} of ${count} is missing`);
    const tag = Buffer.from(bytes.subarray(o, o + 4)).toString("latin1");
    const len = dv.getFloat64(o + 8, true);
    if (!/^[A-Z_]{4}$/.test(tag) || !Number.isSafeInteger(len) || len < 0)
      throw bad(`corrupt section header ${i + 1} at byte ${o}`);
    const start = o + SECTION_HEADER;
    if (start + len > bytes.length - DIGEST)
      throw bad(
        `truncated: section ${tag} needs ${len} bytes, ${Math.max(0, bytes.length - DIGEST - start)} remain`,
      );
    const data = bytes.subarray(start, start + len);
    if (!Buffer.from(sha256(data)).equals(Buffer.from(bytes.subarray(o + 16, o + 48))))
      throw bad(`corrupt: section ${tag}'s checksum does not match its ${len} bytes`);
    if (out.has(tag)) throw bad(`corrupt: section ${tag} appears twice`);
    out.set(tag, data);
    o = start + len;
  }
  if (o + DIGEST !== bytes.length)
    throw bad(`corrupt: ${bytes.length - o - DIGEST} unexpected bytes after the last section`);
  if (!Buffer.from(sha256(bytes.subarray(0, o))).equals(Buffer.from(bytes.subarray(o))))
    throw bad("corrupt: the file's checksum does not match");
  return out;
}
