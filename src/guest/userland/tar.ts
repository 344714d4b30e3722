import { createHash, type Hash } from "node:crypto";
import { lstat, mkdir, open, readdir, readlink, symlink, unlink, utimes } from "node:fs/promises";
import { dirname, posix, relative, sep } from "node:path";
import { errnoText, GuestFs, GuestPathError } from "../guest-fs.js";
import type { ScsiExec, ToolResult } from "../sg.js";
import { StError, type StState, StTape } from "../st.js";
import {
  decodeTarHeader,
  encodeTarHeader,
  isZeroBlock,
  parsePaxRecords,
  TAR_BLOCK,
  type TarEntry,
} from "./ustar.js";

/**
 * The member pvscsi's tar appends to every archive it writes: the SHA-256 of every regular file,
 * in `sha256sum` format (`<hex>  <path>`), so `tar -x` can verify a restore — and so can
 * `sha256sum -c` after GNU tar extracts it.
 */
export const CHECKSUM_MEMBER = ".pvscsi-sha256sums";

/** Default blocking factor: 20 blocks, 10240-byte records (GNU tar's). */
export const DEFAULT_BLOCKING_FACTOR = 20;

/** One member as a run saw it. */
export interface TarFile {
  readonly path: string;
  readonly type: TarEntry["type"];
  readonly size: number;
  /** SHA-256 of a regular file's contents. */
  readonly sha256?: string;
  /** After an extract: whether the content matched the archive's checksum. */
  readonly verified?: "ok" | "failed" | "missing";
}

/** What a `runTar` run did. */
export interface TarData {
  readonly mode: "create" | "extract" | "list" | null;
  readonly files: readonly TarFile[];
  /** Tape records (blocks) written or read. */
  readonly records: number;
  readonly bytes: number;
}

/** Options of {@link runTar}. */
export interface TarOptions {
  /** The tape in messages, default `/dev/nst0`. */
  readonly device?: string;
  /** The st driver state of the tape, kept by the caller between runs. */
  readonly state?: StState;
  /**
   * The filesystem tar reads and writes: a guest's own ({@link GuestFs}), which paths cannot
   * leave. Default: dom0's, at the process's working directory, for tar run against dom0's
   * devices directly.
   */
  readonly fs?: GuestFs;
}

const IO_CHUNK = 1 << 16;

/**
 * A tar for tapes, in ustar format (GNU tar and bsdtar read its archives):
 *
 * - `-c [-C dir] [-b N] [path…]`: archive the trees under `dir` (default `.`) at the tape's
 *   position, in records of N × 512 bytes (default 20: 10240-byte records, one tape block each),
 *   followed by a filemark — as GNU tar on `/dev/nst0` does, the next archive goes after it.
 *   A `.pvscsi-sha256sums` member carries every file's SHA-256.
 * - `-x [-C dir]`: extract the archive at the position into `dir`, verify every file against the
 *   checksums and report `<path>: OK` / `<path>: FAILED` (exit 1 if any fails), then read on to
 *   the filemark so the tape stands at the next archive (st's close after reading).
 * - `-t`: list the members.
 * - `-v` lists what is archived; `-f <device>` names the tape in messages.
 *
 * Positioning between archives is `mt`'s job (`mt rewind`, `mt fsf N`). Paths are kept inside
 * `dir`: leading `/` and `..` members are refused on extract; every path is resolved through
 * `options.fs`, so none leaves the guest's filesystem.
 *
 * Exit status as GNU tar's (tar.texi, "Exit Status"): 0 success; 1 "some files differ" (a file
 * failed its checksum on extract, or changed while archived); 2 a fatal error, or a file that
 * could not be archived ("Cannot stat"), reported at the end as "Exiting with failure status due
 * to previous errors".
 */
export async function runTar(
  argv: readonly string[],
  exec: ScsiExec,
  options: TarOptions = {},
): Promise<ToolResult<TarData>> {
  let device = options.device ?? "/dev/nst0";
  let mode: TarData["mode"] = null;
  let dir = ".";
  let factor = DEFAULT_BLOCKING_FACTOR;
  let verbose = false;
  const paths: string[] = [];
  let out = "";
  let err = "";
  const files: TarFile[] = [];
  let records = 0;
  let bytes = 0;
  const result = (exitCode: number): ToolResult<TarData> => ({
    exitCode,
    stdout: out,
    stderr: err,
    data: { mode, files, records, bytes },
  });
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith("-") || a === "-") {
      paths.push(a);
      continue;
    }
    for (let k = 1; k < a.length; k++) {
      const f = a[k]!;
      if (f === "c") mode = "create";
      else if (f === "x") mode = "extract";
      else if (f === "t") mode = "list";
      else if (f === "v") verbose = true;
      else if (f === "C" || f === "b" || f === "f") {
        const v = a.slice(k + 1) || argv[++i];
        if (v === undefined) {
          err += `tar: option requires an argument -- '${f}'\n`;
          return result(2);
        }
        if (f === "C") dir = v;
        else if (f === "f") device = v;
        else {
          factor = Number(v);
          if (!Number.isInteger(factor) || factor < 1 || factor > 2048) {
            err += `tar: ${v}: Invalid blocking factor\n`;
            return result(2);
          }
        }
        break;
      } else {
        err += `tar: invalid option -- '${f}'\n`;
        return result(2);
      }
    }
  }
  if (mode === null) {
    err += "tar: You must specify one of the '-ctx' options\n";
    return result(2);
  }
  const fs = options.fs ?? GuestFs.hostView();
  // -C's folder as a guest path (relative to the guest's working directory), and on the host.
  const dirGuest = guestJoin(fs.cwd, dir);
  let root: string;
  try {
    root = await fs.resolve(dirGuest);
  } catch (e) {
    if (!(e instanceof GuestPathError)) throw e;
    err += `tar: ${dir}: Cannot open: ${e.reason}\ntar: Error is not recoverable: exiting now\n`;
    return result(2);
  }
  /** GNU tar's deferred status: the worst of the errors met while going on. */
  let status = 0;
  const tape = new StTape(exec, options.state);
  try {
    await tape.open({ write: mode === "create" });
    if (mode === "create") {
      const w = new RecordWriter(tape, factor * TAR_BLOCK);
      const sums: string[] = [];
      for (const p of paths.length > 0 ? paths : ["."]) {
        await archive(fs, root, guestJoin(dirGuest, p), p, w, files, sums, (m, s) => {
          err += m;
          status = Math.max(status, s);
        });
      }
      for (const f of files) if (verbose) out += `${f.path}${f.type === "directory" ? "/" : ""}\n`;
      const manifest = new TextEncoder().encode(sums.join(""));
      await w.put(
        encodeTarHeader({
          path: CHECKSUM_MEMBER,
          type: "file",
          mode: 0o644,
          size: manifest.length,
          mtime: now(),
        }),
      );
      await w.putData(manifest);
      await w.put(new Uint8Array(2 * TAR_BLOCK));
      await w.flush();
      await tape.weof(1);
      records = w.records;
      bytes = w.bytes;
      if (status === 2) err += "tar: Exiting with failure status due to previous errors\n";
      return result(status);
    }
    const r = new RecordReader(tape, factor * TAR_BLOCK);
    const extracted = new Map<string, { sha256: string; index: number }>();
    let manifest: string | null = null;
    let pax: Record<string, string> = {};
    for (;;) {
      const block = await r.block();
      if (block === null) break; // the filemark: an archive without its end marker
      if (isZeroBlock(block)) {
        await r.block(); // the second zero block (GNU tar tolerates its absence too)
        break;
      }
      const h = decodeTarHeader(block);
      if (typeof h === "string") {
        err += `tar: Skipping to next header (${h})\n`;
        continue;
      }
      if (h.kind === "pax") {
        const data = await r.data(h.size);
        if (!h.global) pax = parsePaxRecords(data);
        continue;
      }
      const e: TarEntry = {
        ...h.entry,
        path: (pax.path ?? h.entry.path).replace(/\/+$/, ""),
        size: pax.size !== undefined ? Number(pax.size) : h.entry.size,
        linkname: pax.linkpath ?? h.entry.linkname,
      };
      pax = {};
      if (e.path === CHECKSUM_MEMBER) {
        manifest = new TextDecoder().decode(await r.data(e.size));
        continue;
      }
      if (mode === "list") {
        out += verbose ? `${listLine(e)}\n` : `${e.path}${e.type === "directory" ? "/" : ""}\n`;
        await r.skip(e.size);
        files.push({ path: e.path, type: e.type, size: e.size });
        continue;
      }
      const member = safeMember(e.path);
      if (member === null) {
        err += `tar: ${e.path}: Member name contains '..' or is absolute; not extracted\n`;
        await r.skip(e.size);
        continue;
      }
      let target: string;
      try {
        target = await fs.resolve(guestJoin(dirGuest, member), { follow: false });
      } catch (x) {
        if (!(x instanceof GuestPathError)) throw x;
        err += `tar: ${e.path}: Cannot open: ${x.reason}\n`;
        status = 2;
        await r.skip(e.size);
        continue;
      }
      if (verbose) out += `${e.path}${e.type === "directory" ? "/" : ""}\n`;
      if (e.type === "directory") {
        await mkdir(target, { recursive: true, mode: e.mode || 0o755 });
        files.push({ path: e.path, type: e.type, size: 0 });
      } else if (e.type === "symlink") {
        await mkdir(dirname(target), { recursive: true });
        await symlink(e.linkname ?? "", target).catch((x: NodeJS.ErrnoException) => {
          if (x.code !== "EEXIST") throw x;
        });
        files.push({ path: e.path, type: e.type, size: 0 });
      } else {
        await mkdir(dirname(target), { recursive: true });
        // GNU tar removes what stands in the member's way before creating it (extract.c,
        // maybe_recoverable): opening an existing symlink would write through it instead.
        if ((await lstat(target).catch(() => null))?.isSymbolicLink()) await unlink(target);
        const hash = createHash("sha256");
        const fh = await open(target, "w", e.mode & 0o7777 || 0o644);
        try {
          let left = e.size;
          while (left > 0) {
            const chunk = await r.data(Math.min(left, IO_CHUNK), false);
            hash.update(chunk);
            await fh.write(chunk);
            left -= chunk.length;
          }
          await r.skip(0);
        } finally {
          await fh.close();
        }
        await utimes(target, e.mtime, e.mtime).catch(() => {});
        const sha256 = hash.digest("hex");
        extracted.set(e.path, { sha256, index: files.length });
        files.push({ path: e.path, type: "file", size: e.size, sha256 });
      }
    }
    await r.drain();
    records = r.records;
    bytes = r.bytes;
    if (mode === "extract") {
      let failed = 0;
      const expected = parseSums(manifest ?? "");
      for (const [path, got] of extracted) {
        const want = expected.get(path);
        const verified = want === undefined ? "missing" : want === got.sha256 ? "ok" : "failed";
        files[got.index] = { ...files[got.index]!, verified };
        if (verified !== "ok") failed++;
        out += `${path}: ${verified === "ok" ? "OK" : verified === "failed" ? "FAILED" : "no checksum in the archive"}\n`;
      }
      if (manifest === null)
        err += `tar: ${device}: the archive carries no ${CHECKSUM_MEMBER}; nothing verified\n`;
      if (failed > 0) {
        err += `tar: WARNING: ${failed} file${failed === 1 ? "" : "s"} did NOT match the archive's checksum\n`;
        status = Math.max(status, 1);
      }
    }
    if (status === 2) err += "tar: Exiting with failure status due to previous errors\n";
    return result(status);
  } catch (e) {
    if (!(e instanceof StError)) throw e;
    err += `tar: ${device}: Cannot ${mode === "create" ? "write" : "read"}: ${e.message}\n`;
    err += "tar: Error is not recoverable: exiting now\n";
    return result(2);
  }
}

function now(): number {
  return Math.floor(Date.now() / 1000);
}

/** `-tv`'s line: mode, owner, size, date, name. */
function listLine(e: TarEntry): string {
  const t = e.type === "directory" ? "d" : e.type === "symlink" ? "l" : "-";
  const rwx = (m: number) => `${m & 4 ? "r" : "-"}${m & 2 ? "w" : "-"}${m & 1 ? "x" : "-"}`;
  const perms = `${t}${rwx(e.mode >>> 6)}${rwx(e.mode >>> 3)}${rwx(e.mode)}`;
  const owner = `${e.uname || e.uid}/${e.gname || e.gid}`;
  const date = new Date(e.mtime * 1000).toISOString().slice(0, 16).replace("T", " ");
  return `${perms} ${owner} ${String(e.size).padStart(8)} ${date} ${e.path}${e.type === "symlink" ? ` -> ${e.linkname}` : ""}`;
}

function parseSums(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split("\n")) {
    const x = /^([0-9a-f]{64}) {2}(.+)$/.exec(line);
    if (x) m.set(x[2]!, x[1]!);
  }
  return m;
}

/**
 * `path` against guest folder `dir`, without normalising: `..` must reach {@link GuestFs} to be
 * refused (path.posix.join would clamp `/..` to `/`).
 */
function guestJoin(dir: string, path: string): string {
  return posix.isAbsolute(path) ? path : `${dir.replace(/\/+$/, "")}/${path}`;
}

/** A member's path relative to `-C`'s folder, or null when it names `..` (never extracted). */
function safeMember(path: string): string | null {
  const p = path.replace(/^\/+/, "");
  if (p === "" || p.split("/").includes("..")) return null;
  return p;
}

/**
 * Archive guest path `path` and everything under it; member names are relative to `root` (the
 * host folder of `-C`). `warn` gets each diagnostic with the exit status it implies.
 */
async function archive(
  fs: GuestFs,
  root: string,
  path: string,
  shown: string,
  w: RecordWriter,
  files: TarFile[],
  sums: string[],
  warn: (m: string, status: number) => void,
): Promise<void> {
  let abs: string;
  try {
    abs = await fs.resolve(path, { follow: false });
  } catch (e) {
    if (!(e instanceof GuestPathError)) throw e;
    warn(`tar: ${shown}: ${e.reason}\n`, 2);
    return;
  }
  const name = relative(root, abs).split(sep).join("/") || ".";
  let st: Awaited<ReturnType<typeof lstat>>;
  try {
    st = await lstat(abs);
  } catch (e) {
    // GNU tar: "tar: X: Cannot stat: No such file or directory", and exit status 2 at the end.
    warn(`tar: ${name}: Cannot stat: ${errnoText(e)}\n`, 2);
    return;
  }
  const base = { mode: st.mode & 0o7777, mtime: Math.floor(st.mtimeMs / 1000), uid: st.uid, gid: st.gid };
  if (st.isDirectory()) {
    if (name !== ".") {
      await w.put(encodeTarHeader({ ...base, path: name, type: "directory", size: 0 }));
      files.push({ path: name, type: "directory", size: 0 });
    }
    const names = (await readdir(abs)).sort();
    for (const n of names) {
      const child = `${path.replace(/\/+$/, "")}/${n}`;
      await archive(fs, root, child, name === "." ? n : `${name}/${n}`, w, files, sums, warn);
    }
  } else if (st.isSymbolicLink()) {
    const target = await readlink(abs);
    await w.put(encodeTarHeader({ ...base, path: name, type: "symlink", size: 0, linkname: target }));
    files.push({ path: name, type: "symlink", size: 0 });
  } else if (st.isFile()) {
    await w.put(encodeTarHeader({ ...base, path: name, type: "file", size: st.size }));
    const hash: Hash = createHash("sha256");
    const fh = await open(abs, "r");
    try {
      let left = st.size;
      const buf = new Uint8Array(IO_CHUNK);
      while (left > 0) {
        const { bytesRead } = await fh.read(buf, 0, Math.min(IO_CHUNK, left), st.size - left);
        if (bytesRead === 0) break; // shrank while being read: pad with zeros below
        const chunk = buf.subarray(0, bytesRead);
        hash.update(chunk);
        await w.putData(chunk, false);
        left -= bytesRead;
      }
      if (left > 0) {
        warn(`tar: ${name}: File shrank by ${left} bytes; padding with zeros\n`, 1);
        const zeros = new Uint8Array(IO_CHUNK);
        while (left > 0) {
          const n = Math.min(left, IO_CHUNK);
          hash.update(zeros.subarray(0, n));
          await w.putData(zeros.subarray(0, n), false);
          left -= n;
        }
      }
      await w.pad();
    } finally {
      await fh.close();
    }
    const sha256 = hash.digest("hex");
    sums.push(`${sha256}  ${name}\n`);
    files.push({ path: name, type: "file", size: st.size, sha256 });
  } else {
    warn(`tar: ${name}: ${st.isSocket() ? "socket" : st.isFIFO() ? "fifo" : "special file"} ignored\n`, 0);
  }
}

/** Collects 512-byte blocks into records and writes each as one tape block. */
class RecordWriter {
  private readonly record: Uint8Array;
  private used = 0;
  private pending = 0;
  records = 0;
  bytes = 0;

  constructor(
    private readonly tape: StTape,
    size: number,
  ) {
    this.record = new Uint8Array(size);
  }

  /** Whole blocks (headers, zero blocks). */
  async put(blocks: Uint8Array): Promise<void> {
    await this.putData(blocks, true);
  }

  /** Member data; `pad` rounds it up to a block. */
  async putData(data: Uint8Array, pad = true): Promise<void> {
    let at = 0;
    while (at < data.length) {
      const n = Math.min(data.length - at, this.record.length - this.used);
      this.record.set(data.subarray(at, at + n), this.used);
      this.used += n;
      this.pending += n;
      at += n;
      if (this.used === this.record.length) await this.emit();
    }
    if (pad) await this.pad();
  }

  /** Zero-fill to the next block boundary. */
  async pad(): Promise<void> {
    const rem = this.pending % TAR_BLOCK;
    this.pending = 0;
    if (rem === 0) return;
    await this.putData(new Uint8Array(TAR_BLOCK - rem), false);
    this.pending = 0;
  }

  /** Write the last record, zero-filled (tar always writes whole records). */
  async flush(): Promise<void> {
    if (this.used === 0) return;
    this.record.fill(0, this.used);
    this.used = this.record.length;
    await this.emit();
  }

  private async emit(): Promise<void> {
    await this.tape.write(this.record);
    this.records++;
    this.bytes += this.record.length;
    this.used = 0;
  }
}

/** Reads records from the tape and hands out 512-byte blocks and member data. */
class RecordReader {
  private record: Uint8Array = new Uint8Array(0);
  private at = 0;
  private eof = false;
  records = 0;
  bytes = 0;

  constructor(
    private readonly tape: StTape,
    private readonly size: number,
  ) {}

  private async fill(): Promise<boolean> {
    if (this.at < this.record.length) return true;
    if (this.eof) return false;
    const r = await this.tape.read(this.size);
    if (r === null || r.length === 0) {
      this.eof = true;
      return false;
    }
    this.records++;
    this.bytes += r.length;
    this.record = r;
    this.at = 0;
    return true;
  }

  /** The next 512-byte block, or null at the filemark. */
  async block(): Promise<Uint8Array | null> {
    if (!(await this.fill())) return null;
    if (this.record.length - this.at < TAR_BLOCK) throw new StError("EIO");
    const b = this.record.subarray(this.at, this.at + TAR_BLOCK);
    this.at += TAR_BLOCK;
    return b;
  }

  /** `n` bytes of member data; `padded`: then skip to the next block boundary. */
  async data(n: number, padded = true): Promise<Uint8Array> {
    const out = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      if (!(await this.fill())) throw new StError("EIO"); // archive cut short
      const k = Math.min(n - got, this.record.length - this.at);
      out.set(this.record.subarray(this.at, this.at + k), got);
      this.at += k;
      got += k;
    }
    this.partial = (this.partial + n) % TAR_BLOCK;
    if (padded) await this.skip(0);
    return out;
  }

  /** Bytes of the current member's data already taken from its last block. */
  private partial = 0;

  /** Skip `n` bytes of data, then to the next block boundary (blocks never span records). */
  async skip(n: number): Promise<void> {
    let left = n;
    while (left > 0) {
      if (!(await this.fill())) throw new StError("EIO");
      const k = Math.min(left, this.record.length - this.at);
      this.at += k;
      left -= k;
    }
    const rem = (this.partial + n) % TAR_BLOCK;
    this.partial = 0;
    if (rem !== 0) this.at += TAR_BLOCK - rem;
  }

  /** Read to the filemark, as st does when a file read partway is closed. */
  async drain(): Promise<void> {
    this.at = this.record.length;
    while (await this.fill()) this.at = this.record.length;
  }
}
