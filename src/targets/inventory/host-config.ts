import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { formatHct, formatHctl, parseHct, parseHctl } from "../../scsi/hctl.js";
import { configError, type PvscsiError } from "../../xen/errors.js";
import { MAX_LUN } from "../target.js";
import { bindDrives } from "./changer-drives.js";
import { claimWwn, parseWwn } from "./config-values.js";
import { changerSection, diskSection, iscsiSection, tapeSection } from "./device-sections.js";
import type { CommonConfig, DeviceConfig, HostConfig, IscsiTargetConfig } from "./host-config-types.js";
import { type Section, SectionReader } from "./section-reader.js";

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
 * size = 64M               # bytes, with K/M/G/T/P (powers of 1024), below 8P
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
 * [null 0:0:2:0]           # a disk that reads zeros and discards writes (benchmark sink)
 *
 * [tape 0:0:3:0]           # a stand-alone LTO tape drive (SSC-3)
 * generation = 6           # LTO generation 3..7: the densities it reads and writes (default 6)
 * cartridges = tapes       # cartridge directory (<barcode>.pvtape files), for load
 * load = B00001L6          # cartridge loaded at start-up, created on first use
 * write-protect = no       # the loaded cartridge's write-protect tab
 * capacity = 2500G         # capacity of a cartridge created here (default 2.5 TB, LTO-6)
 * early-warning = 64M      # early-warning zone before the physical end (default capacity/64, 64K..1G)
 *
 * [tape 0:0:4:0]           # a drive of the changer below: no load, the changer loads it
 *
 * [changer 0:0:4:1]        # a medium changer (SMC-3): autoloader or library
 * cartridges = tapes       # required: cartridge directory; the changer's state file goes there too
 * slots = 8                # storage elements
 * import-export = 1        # mail slots (default 0)
 * transports = 1           # robots (default 1)
 * drives = 0:0:4:0         # its data transfer elements: [tape] units of the same host, in order
 * barcodes = A00001L6, A00002L6   # cartridges in the library (comma or space separated);
 *                          # without saved state they fill the slots in this order
 * write-protect = A00002L6 # barcodes whose write-protect tab is set
 * capacity = 2500G         # capacity of a cartridge created on first use
 * early-warning = 64M
 * ```
 *
 * A changer keeps where every cartridge is in `<cartridges>/changer-<h>-<c>-<t>-<l>.json`
 * (see `smc/changer-state.ts`); a drive of a changer gets its cartridges from the changer and
 * takes no `load`. Barcodes are 1-32 of `A-Z a-z 0-9 _ . -` and unique per cartridge directory.
 *
 * An `[iscsi h:c:t:l]` section is a LUN of a remote iSCSI target (docs/iscsi.md): `portal =
 * host[:port]`, `target = <iqn>`, `lun = N`, optional `initiator = <iqn>` (default
 * `iqn.2026-12.org.pvscsi:dom0`) and `per-vhba-initiator = yes` (each guest controller logs in as
 * `<initiator>:<vhba>`, so target ACLs see each one); CHAP: `chap-user` and `chap-secret`, and
 * for mutual CHAP `chap-target-secret` (and optionally `chap-target-user`, the name the target
 * must answer with).
 *
 * An `[iscsi-target h:c:t]` section (same keys but `lun`, plus `shareable`) is a whole remote
 * target: every LUN it reports becomes a unit h:c:t:<LUN>, at start-up and at each rescan
 * (`Inventory.rescan`); no other section may use that h:c:t.
 *
 * Every device section also takes `vendor` (≤ 8 chars), `model` (≤ 16), `rev` (≤ 4), `serial`
 * (≤ 36), `wwn` (16 hex digits, NAA 2, 3 or 5; default derived from kind and h:c:t:l) and
 * `shareable`. Booleans are yes/no, true/false, on/off, 1/0.
 *
 * Errors name the file, the line and what was expected; parsing has no side effects, so a bad
 * file creates nothing.
 */

export { parseSize, parseWwn } from "./config-values.js";
export {
  type CartridgeDefaults,
  type CdromConfig,
  type ChangerConfig,
  type CommonConfig,
  DEFAULT_CARTRIDGE_CAPACITY,
  type DeviceConfig,
  type DeviceKind,
  type DiskConfig,
  type HostConfig,
  type IscsiConfig,
  type IscsiTargetConfig,
  type NullConfig,
  type TapeConfig,
} from "./host-config-types.js";

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
  iscsi: [
    ...COMMON_KEYS,
    "portal",
    "target",
    "lun",
    "initiator",
    "per-vhba-initiator",
    "chap-user",
    "chap-secret",
    "chap-target-user",
    "chap-target-secret",
  ],
  "iscsi-target": [
    "shareable",
    "portal",
    "target",
    "initiator",
    "per-vhba-initiator",
    "chap-user",
    "chap-secret",
    "chap-target-user",
    "chap-target-secret",
  ],
  tape: [...COMMON_KEYS, "generation", "cartridges", "load", "write-protect", "capacity", "early-warning"],
  changer: [
    ...COMMON_KEYS,
    "cartridges",
    "slots",
    "import-export",
    "transports",
    "drives",
    "barcodes",
    "write-protect",
    "capacity",
    "early-warning",
  ],
};

/**
 * A host config as a backend domain's kernel is booted with: its text, its name in errors, and
 * the directory its relative paths start from (parsing happens in the kernel's worker).
 */
export interface HostConfigSource {
  readonly text: string;
  readonly source: string;
  readonly baseDir: string;
}

/**
 * Read the host config file at `path` (relative to `baseDir`) as a {@link HostConfigSource} named
 * `path`; `unreadable` turns the reason it cannot be read into the caller's error.
 */
export function readHostConfigSource(
  path: string,
  baseDir: string,
  unreadable: (reason: string) => PvscsiError,
): HostConfigSource {
  const full = resolve(baseDir, path);
  try {
    return { text: readFileSync(full, "utf8"), source: path, baseDir: dirname(full) };
  } catch (e) {
    throw unreadable((e as Error).message);
  }
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
      if (!(kind in KEYS)) {
        throw configError(
          where,
          `unknown section kind "${kind}": expected host, target, disk, cdrom, null, tape, changer, iscsi or iscsi-target`,
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
  return kind === "host"
    ? "[host 0]"
    : kind === "target" || kind === "iscsi-target"
      ? `[${kind} 0:0:0]`
      : `[${kind} 0:0:0:0]`;
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

/** What building the sections accumulates: the config's parts and what later checks need. */
interface BuildState {
  readonly hosts: Map<number, string>;
  readonly hostLines: Map<number, number>;
  readonly targetWwns: Map<string, string>;
  readonly targetLines: Map<string, number>;
  readonly devices: DeviceConfig[];
  /** Device addresses, with the line that declared each. */
  readonly seen: Map<string, number>;
  /** Where each changer's `drives` and `barcodes` are, for {@link bindDrives}'s errors. */
  readonly changerLines: Map<string, { drives: string; barcodes: string }>;
  /** Where each tape's `load` is. */
  readonly tapeLoadLines: Map<string, string>;
  /** Every WWN in use, and by what. */
  readonly wwns: Map<string, string>;
  readonly iscsiTargets: IscsiTargetConfig[];
  /** h:c:t of each `[iscsi-target]`, with its line. */
  readonly iscsiTargetLines: Map<string, number>;
}

function build(sections: Section[], source: string, baseDir: string): HostConfig {
  const st: BuildState = {
    hosts: new Map(),
    hostLines: new Map(),
    targetWwns: new Map(),
    targetLines: new Map(),
    devices: [],
    seen: new Map(),
    changerLines: new Map(),
    tapeLoadLines: new Map(),
    wwns: new Map(),
    iscsiTargets: [],
    iscsiTargetLines: new Map(),
  };
  for (const s of sections) {
    const r = new SectionReader(s, source, baseDir);
    if (s.kind === "host") hostSection(r, st);
    else if (s.kind === "target") targetSection(r, st);
    else if (s.kind === "iscsi-target") iscsiTargetSection(r, st);
    else deviceSection(r, st);
  }
  // A remote target's LUNs fill its h:c:t; nothing else may sit there.
  for (const d of st.devices) {
    const line = st.iscsiTargetLines.get(formatHct(d.hctl));
    if (line !== undefined)
      throw configError(
        d.where,
        `${formatHctl(d.hctl)} is inside [iscsi-target ${formatHct(d.hctl)}] (line ${line}), whose LUNs are the remote target's`,
      );
  }
  bindDrives(st.devices, st.changerLines, st.tapeLoadLines);
  return {
    source,
    hosts: st.hosts,
    targetWwns: st.targetWwns,
    devices: st.devices,
    iscsiTargets: st.iscsiTargets,
  };
}

/** `[iscsi-target h:c:t]`: a remote iSCSI target whose every LUN is a unit at h:c:t:<LUN>. */
function iscsiTargetSection(r: SectionReader, st: BuildState): void {
  const s = r.section;
  const hct = parseHct(s.arg);
  if (!hct) throw configError(r.where, `expected [iscsi-target h:c:t] with numbers 0..65535, got "${s.arg}"`);
  const key = formatHct(hct);
  const prev = st.iscsiTargetLines.get(key) ?? st.targetLines.get(key);
  if (prev !== undefined)
    throw configError(r.where, `target ${key} is declared twice (first at line ${prev})`);
  st.iscsiTargetLines.set(key, s.line);
  const common: CommonConfig = {
    hctl: { ...hct, lun: 0 },
    where: r.where,
    vendor: undefined,
    model: undefined,
    rev: undefined,
    serial: undefined,
    wwn: undefined,
    shareable: r.bool("shareable", false),
  };
  st.iscsiTargets.push({ unit: iscsiSection(r, common) });
}

/** `[host N]`: the adapter's name. */
function hostSection(r: SectionReader, st: BuildState): void {
  const s = r.section;
  if (!/^\d{1,5}$/.test(s.arg) || Number(s.arg) > 0xffff) {
    throw configError(r.where, `expected a host number 0..65535 in [host N], got "${s.arg}"`);
  }
  const h = Number(s.arg);
  if (st.hostLines.has(h))
    throw configError(r.where, `host ${h} is declared twice (first at line ${st.hostLines.get(h)})`);
  st.hostLines.set(h, s.line);
  const name = r.get("name")?.value ?? "pvscsi";
  if (!/^[A-Za-z0-9_.-]{1,32}$/.test(name)) {
    throw configError(
      r.get("name") ? r.at("name") : r.where,
      `name must be 1-32 of [A-Za-z0-9_.-], got ${JSON.stringify(name)}`,
    );
  }
  st.hosts.set(h, name);
}

/** `[target h:c:t]`: the target port's WWN. */
function targetSection(r: SectionReader, st: BuildState): void {
  const s = r.section;
  const hct = parseHct(s.arg);
  if (!hct) throw configError(r.where, `expected [target h:c:t] with numbers 0..65535, got "${s.arg}"`);
  const key = formatHct(hct);
  if (st.targetLines.has(key))
    throw configError(r.where, `target ${key} is declared twice (first at line ${st.targetLines.get(key)})`);
  st.targetLines.set(key, s.line);
  const w = r.get("wwn");
  if (!w) throw configError(r.where, `[target ${key}] needs "wwn = <16 hex digits>"`);
  const wwn = parseWwn(w.value, r.at("wwn"));
  claimWwn(st.wwns, wwn, `target ${key}`, r.at("wwn"));
  st.targetWwns.set(key, wwn);
}

/** A device section (`[disk|cdrom|null|tape|changer h:c:t:l]`): its address, common fields, then its kind's. */
function deviceSection(r: SectionReader, st: BuildState): void {
  const s = r.section;
  const hctl = parseHctl(s.arg, MAX_LUN);
  if (!hctl) {
    throw configError(
      r.where,
      `expected [${s.kind} h:c:t:l] with h, c, t 0..65535 and LUN 0..${MAX_LUN}, got "${s.arg}"`,
    );
  }
  const addr = formatHctl(hctl);
  if (st.seen.has(addr))
    throw configError(r.where, `${addr} is declared twice (first at line ${st.seen.get(addr)})`);
  st.seen.set(addr, s.line);
  if (s.kind === "tape" && r.get("load")) st.tapeLoadLines.set(addr, r.at("load"));
  let wwn: string | undefined;
  if (r.get("wwn")) {
    wwn = parseWwn(r.get("wwn")!.value, r.at("wwn"));
    claimWwn(st.wwns, wwn, addr, r.at("wwn"));
  }
  const common: CommonConfig = {
    hctl,
    where: r.where,
    vendor: r.str("vendor", 8),
    model: r.str("model", 16),
    rev: r.str("rev", 4),
    serial: r.str("serial", 36),
    wwn,
    shareable: r.bool("shareable", false),
  };
  if (s.kind === "null") {
    st.devices.push({ kind: "null", ...common });
  } else if (s.kind === "tape") {
    st.devices.push(tapeSection(r, common));
  } else if (s.kind === "changer") {
    st.devices.push(changerSection(r, common));
    st.changerLines.set(addr, {
      drives: r.get("drives") ? r.at("drives") : r.where,
      barcodes: r.get("barcodes") ? r.at("barcodes") : r.where,
    });
  } else if (s.kind === "cdrom") {
    st.devices.push({ kind: "cdrom", ...common, file: r.path("file") });
  } else if (s.kind === "iscsi") {
    st.devices.push(iscsiSection(r, common));
  } else {
    st.devices.push(diskSection(r, common));
  }
}
