import { readFile } from "node:fs/promises";
import { dirname, isAbsolute, resolve } from "node:path";
import { configError } from "../../errors.js";
import { MAX_LUN } from "../target.js";
import { formatHct, formatHctl, type Hctl, parseHct, parseHctl } from "./hctl.js";

/**
 * The host config file: dom0's emulated SCSI subsystem, one section per host, target or
 * logical unit. INI-like, so it needs no parser dependency:
 *
 * ```ini
 * # comments start with '#' or ';' (also after a value, following whitespace)
 * [host 0]                 # optional: the adapter's name in /proc/scsi (default "pvscsi")
 * name = pvscsi
 *
 * [target 0:0:0]           # optional: the target port's WWN (default derived from h:c:t)
 * wwn = 3a1b2c3d4e5f6071
 *
 * [disk 0:0:0:0]           # a RAM disk
 * size = 64M               # bytes, with K/M/G/T (powers of 1024)
 * block-size = 512         # 512 or 4096
 * thin = yes               # UNMAP, WRITE SAME with UNMAP, GET LBA STATUS
 *
 * [disk 0:0:0:1]           # a file-backed disk
 * file = images/data.img   # relative to this file's folder
 * size = 1G                # optional for an existing image; required with create
 * create = yes             # make a sparse image when missing
 * write-cache = no         # WCE=0: every write is fsync'd before GOOD
 * read-only = no
 * shareable = yes          # may be given to several running guests at once
 *
 * [cdrom 0:0:1:0]
 * file = /srv/iso/install.iso   # optional: no medium without it
 *
 * [null 0:0:2:0]           # benchmark sink (not SCSI-correct)
 * ```
 *
 * Every device section also takes `vendor` (≤ 8 chars), `model` (≤ 16), `rev` (≤ 4), `serial`
 * (≤ 36), `wwn` (16 hex digits, NAA 2, 3 or 5; default derived from kind and h:c:t:l) and
 * `shareable`. Booleans are yes/no, true/false, on/off, 1/0.
 *
 * Planned (parsed as errors for now): `[tape h:c:t:l]` with `cartridges = <directory>`, and
 * `[changer h:c:t:l]` with `slots`, `import-export`, `transports`, `barcodes = VOL001L6 …` and
 * `drives = h:c:t:l …` naming tape drives of the same host as its data-transfer elements.
 *
 * Errors name the file, the line and what was expected; parsing has no side effects, so a bad
 * file creates nothing.
 */

/** Peripheral kinds a config can declare now. */
export type DeviceKind = "disk" | "cdrom" | "null";

interface CommonConfig {
  readonly hctl: Hctl;
  /** `file:line` of the section header. */
  readonly where: string;
  readonly vendor: string | undefined;
  readonly model: string | undefined;
  readonly rev: string | undefined;
  readonly serial: string | undefined;
  readonly wwn: string | undefined;
  readonly shareable: boolean;
}

/** A `[disk …]` section. */
export interface DiskConfig extends CommonConfig {
  readonly kind: "disk";
  /** Absolute image path, or null for a RAM disk. */
  readonly file: string | null;
  readonly create: boolean;
  /** Bytes; undefined only for an existing image whose size is taken from the file. */
  readonly size: number | undefined;
  readonly blockSize: 512 | 4096;
  readonly thin: boolean;
  readonly readOnly: boolean;
  readonly writeCache: boolean;
}

/** A `[cdrom …]` section. */
export interface CdromConfig extends CommonConfig {
  readonly kind: "cdrom";
  /** Absolute ISO path, or null for an empty drive. */
  readonly file: string | null;
}

/** A `[null …]` section. */
export interface NullConfig extends CommonConfig {
  readonly kind: "null";
}

/** One logical unit of the config. */
export type DeviceConfig = DiskConfig | CdromConfig | NullConfig;

/** A parsed, validated host config. */
export interface HostConfig {
  /** Where it came from (a path, or "<built-in>"). */
  readonly source: string;
  /** Host adapter names by host number. */
  readonly hosts: ReadonlyMap<number, string>;
  /** Target port WWNs set explicitly, by "h:c:t". */
  readonly targetWwns: ReadonlyMap<string, string>;
  /** Devices, in file order. */
  readonly devices: readonly DeviceConfig[];
}

const COMMON_KEYS = ["vendor", "model", "rev", "serial", "wwn", "shareable"];
const KEYS: Record<string, readonly string[]> = {
  host: ["name"],
  target: ["wwn"],
  disk: [
    ...COMMON_KEYS,
    "backing",
    "file",
    "create",
    "size",
    "block-size",
    "thin",
    "read-only",
    "write-cache",
  ],
  cdrom: [...COMMON_KEYS, "file"],
  null: COMMON_KEYS,
};

interface Section {
  readonly kind: string;
  readonly arg: string;
  readonly line: number;
  readonly values: Map<string, { value: string; line: number }>;
}

/** Read and parse a host config file. */
export async function loadHostConfig(path: string): Promise<HostConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw configError(path, `cannot read the host config: ${(e as Error).message}`);
  }
  return parseHostConfig(text, path, dirname(resolve(path)));
}

/**
 * Parse host config `text` from `source` (named in errors); relative image paths resolve
 * against `baseDir`.
 */
export function parseHostConfig(text: string, source: string, baseDir = process.cwd()): HostConfig {
  const sections: Section[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const where = `${source}:${lineNo}`;
    const line = stripComment(lines[i]!, where).trim();
    if (line === "") continue;
    if (line.startsWith("[")) {
      const m = /^\[\s*([a-z][a-z-]*)(?:\s+([^\]\s]+))?\s*\]$/.exec(line);
      if (!m)
        throw configError(
          where,
          `expected a section header such as "[disk 0:0:0:0]", got ${JSON.stringify(line)}`,
        );
      const kind = m[1]!;
      if (kind === "tape" || kind === "changer") {
        throw configError(
          where,
          `${kind} devices are not supported yet (disk, cdrom and null are); remove the [${kind}] section`,
        );
      }
      if (!(kind in KEYS)) {
        throw configError(
          where,
          `unknown section kind "${kind}": expected host, target, disk, cdrom or null`,
        );
      }
      if (m[2] === undefined)
        throw configError(where, `[${kind}] needs an address, e.g. ${exampleAddress(kind)}`);
      sections.push({ kind, arg: m[2], line: lineNo, values: new Map() });
      continue;
    }
    const kv = /^([a-z][a-z0-9-]*)\s*=\s*(.*)$/.exec(line);
    if (!kv) {
      throw configError(
        where,
        `expected "key = value", a [section] header, a comment or a blank line, got ${JSON.stringify(line)}`,
      );
    }
    const section = sections[sections.length - 1];
    if (!section)
      throw configError(
        where,
        `"${kv[1]}" is outside any section: start with a header such as [disk 0:0:0:0]`,
      );
    const key = kv[1]!;
    const allowed = KEYS[section.kind]!;
    if (!allowed.includes(key)) {
      throw configError(
        where,
        `unknown key "${key}" in [${section.kind}]: expected one of ${allowed.join(", ")}`,
      );
    }
    const prev = section.values.get(key);
    if (prev) throw configError(where, `"${key}" is set twice in this section (first at line ${prev.line})`);
    section.values.set(key, { value: unquote(kv[2]!, where), line: lineNo });
  }
  return build(sections, source, baseDir);
}

function exampleAddress(kind: string): string {
  return kind === "host" ? "[host 0]" : kind === "target" ? "[target 0:0:0]" : `[${kind} 0:0:0:0]`;
}

function stripComment(line: string, where: string): string {
  const t = line.trimStart();
  if (t.startsWith("#") || t.startsWith(";")) return "";
  // A comment after a value starts at whitespace + '#' or ';', outside double quotes.
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '"') quoted = !quoted;
    else if (!quoted && (c === "#" || c === ";") && i > 0 && /\s/.test(line[i - 1]!)) return line.slice(0, i);
  }
  if (quoted) throw configError(where, "unterminated double quote");
  return line;
}

function unquote(v: string, where: string): string {
  const s = v.trim();
  if (s.startsWith('"')) {
    if (s.length < 2 || !s.endsWith('"')) throw configError(where, `expected a closing double quote in ${s}`);
    return s.slice(1, -1);
  }
  return s;
}

function build(sections: Section[], source: string, baseDir: string): HostConfig {
  const hosts = new Map<number, string>();
  const hostLines = new Map<number, number>();
  const targetWwns = new Map<string, string>();
  const targetLines = new Map<string, number>();
  const devices: DeviceConfig[] = [];
  const seen = new Map<string, number>();
  const wwns = new Map<string, string>();
  for (const s of sections) {
    const where = `${source}:${s.line}`;
    const get = (key: string) => s.values.get(key);
    const at = (key: string) => `${source}:${get(key)!.line}`;
    if (s.kind === "host") {
      if (!/^\d{1,5}$/.test(s.arg) || Number(s.arg) > 0xffff) {
        throw configError(where, `expected a host number 0..65535 in [host N], got "${s.arg}"`);
      }
      const h = Number(s.arg);
      if (hostLines.has(h))
        throw configError(where, `host ${h} is declared twice (first at line ${hostLines.get(h)})`);
      hostLines.set(h, s.line);
      const name = get("name")?.value ?? "pvscsi";
      if (!/^[A-Za-z0-9_.-]{1,32}$/.test(name)) {
        throw configError(
          get("name") ? at("name") : where,
          `name must be 1-32 of [A-Za-z0-9_.-], got ${JSON.stringify(name)}`,
        );
      }
      hosts.set(h, name);
      continue;
    }
    if (s.kind === "target") {
      const hct = parseHct(s.arg);
      if (!hct) throw configError(where, `expected [target h:c:t] with numbers 0..65535, got "${s.arg}"`);
      const key = formatHct(hct);
      if (targetLines.has(key))
        throw configError(where, `target ${key} is declared twice (first at line ${targetLines.get(key)})`);
      targetLines.set(key, s.line);
      const w = get("wwn");
      if (!w) throw configError(where, `[target ${key}] needs "wwn = <16 hex digits>"`);
      const wwn = parseWwn(w.value, at("wwn"));
      claimWwn(wwns, wwn, `target ${key}`, at("wwn"));
      targetWwns.set(key, wwn);
      continue;
    }
    const hctl = parseHctl(s.arg, MAX_LUN);
    if (!hctl) {
      throw configError(
        where,
        `expected [${s.kind} h:c:t:l] with h, c, t 0..65535 and LUN 0..${MAX_LUN}, got "${s.arg}"`,
      );
    }
    const addr = formatHctl(hctl);
    if (seen.has(addr))
      throw configError(where, `${addr} is declared twice (first at line ${seen.get(addr)})`);
    seen.set(addr, s.line);
    const str = (key: string, max: number): string | undefined => {
      const v = get(key);
      if (!v) return undefined;
      if (v.value.length < 1 || v.value.length > max || !/^[\x20-\x7e]+$/.test(v.value)) {
        throw configError(
          at(key),
          `${key} must be 1-${max} printable ASCII characters, got ${JSON.stringify(v.value)}`,
        );
      }
      return v.value;
    };
    const bool = (key: string, dflt: boolean): boolean => {
      const v = get(key);
      if (!v) return dflt;
      const b = parseBool(v.value);
      if (b === null) throw configError(at(key), `${key} must be yes or no, got ${JSON.stringify(v.value)}`);
      return b;
    };
    const path = (key: string): string | null => {
      const v = get(key);
      if (!v) return null;
      if (v.value === "") throw configError(at(key), `${key} must be a path`);
      return isAbsolute(v.value) ? v.value : resolve(baseDir, v.value);
    };
    let wwn: string | undefined;
    if (get("wwn")) {
      wwn = parseWwn(get("wwn")!.value, at("wwn"));
      claimWwn(wwns, wwn, addr, at("wwn"));
    }
    const common = {
      hctl,
      where,
      vendor: str("vendor", 8),
      model: str("model", 16),
      rev: str("rev", 4),
      serial: str("serial", 36),
      wwn,
      shareable: bool("shareable", false),
    };
    if (s.kind === "null") {
      devices.push({ kind: "null", ...common });
    } else if (s.kind === "cdrom") {
      devices.push({ kind: "cdrom", ...common, file: path("file") });
    } else {
      const backing = get("backing")?.value ?? (get("file") ? "file" : "ram");
      if (backing !== "ram" && backing !== "file") {
        throw configError(at("backing"), `backing must be ram or file, got ${JSON.stringify(backing)}`);
      }
      const file = path("file");
      if (backing === "file" && file === null)
        throw configError(where, `a file-backed disk needs "file = <image path>"`);
      if (backing === "ram" && file !== null)
        throw configError(at("file"), `a RAM disk takes no file (set backing = file)`);
      const create = bool("create", false);
      if (backing === "ram" && get("create"))
        throw configError(at("create"), "create applies to file-backed disks only");
      const bsv = get("block-size");
      const blockSize = bsv ? Number(bsv.value) : 512;
      if (blockSize !== 512 && blockSize !== 4096) {
        throw configError(
          at("block-size"),
          `block-size must be 512 or 4096, got ${JSON.stringify(bsv!.value)}`,
        );
      }
      let size: number | undefined;
      const sv = get("size");
      if (sv) {
        size = parseSize(sv.value, at("size"));
        if (size % blockSize !== 0) {
          throw configError(at("size"), `size ${size} is not a whole number of ${blockSize}-byte blocks`);
        }
      } else if (backing === "ram") {
        throw configError(where, `a RAM disk needs "size = <bytes>" (e.g. 64M)`);
      } else if (create) {
        throw configError(where, `"create = yes" needs "size = <bytes>" for the new image`);
      }
      devices.push({
        kind: "disk",
        ...common,
        file,
        create,
        size,
        blockSize,
        thin: bool("thin", false),
        readOnly: bool("read-only", false),
        writeCache: bool("write-cache", true),
      });
    }
  }
  return { source, hosts, targetWwns, devices };
}

function parseBool(v: string): boolean | null {
  const s = v.toLowerCase();
  if (s === "yes" || s === "true" || s === "on" || s === "1") return true;
  if (s === "no" || s === "false" || s === "off" || s === "0") return false;
  return null;
}

/** A size in bytes: digits with an optional K, M, G or T suffix (powers of 1024). */
export function parseSize(v: string, where: string): number {
  const m = /^(\d+)\s*([KMGT]?)(?:i?B)?$/i.exec(v.trim());
  if (!m)
    throw configError(
      where,
      `size must be a number of bytes with an optional K/M/G/T suffix, got ${JSON.stringify(v)}`,
    );
  const mult = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }[m[2]!.toUpperCase()]!;
  const n = Number(m[1]) * mult;
  if (!Number.isSafeInteger(n) || n <= 0)
    throw configError(where, `size must be between 1 byte and 8 PiB, got ${v}`);
  return n;
}

/**
 * A WWN as an 8-byte NAA designator: 16 hex digits whose first digit (the NAA field, SPC-4
 * §7.8.6.6) is 2 (IEEE extended), 3 (locally assigned) or 5 (IEEE registered). NAA 6 needs 16
 * bytes and does not fit.
 */
export function parseWwn(v: string, where: string): string {
  const s = v
    .trim()
    .toLowerCase()
    .replace(/^naa\./, "")
    .replace(/^0x/, "");
  if (!/^[0-9a-f]{16}$/.test(s))
    throw configError(where, `wwn must be 16 hex digits, got ${JSON.stringify(v)}`);
  if (!"235".includes(s[0]!)) {
    throw configError(
      where,
      `wwn must start with NAA 2, 3 or 5 (an 8-byte designator), got ${JSON.stringify(v)}`,
    );
  }
  return s;
}

function claimWwn(wwns: Map<string, string>, wwn: string, owner: string, where: string): void {
  const prev = wwns.get(wwn);
  if (prev) throw configError(where, `wwn ${wwn} is already used by ${prev}`);
  wwns.set(wwn, owner);
}
