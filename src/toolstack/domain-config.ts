import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import {
  type HostConfigSource,
  parseHostConfig,
  readHostConfigSource,
} from "../targets/inventory/host-config.js";
import { wasmDomainBacking } from "../wasm/kernel.js";
import { configError } from "../xen/errors.js";
import { type DiskSpec, parseDiskSpec } from "./disk-spec.js";
import { parseVscsiSpec, type VscsiSpec } from "./vscsi-spec.js";
import { parseXlConfig, type XlSetting, xlString, xlStringList } from "./xl-config.js";

/** A domain's xl-style configuration, parsed and checked. */
export interface DomainSpec {
  readonly name: string;
  readonly memoryMiB: number;
  readonly vscsi: ReadonlyArray<{ readonly spec: VscsiSpec; readonly where: string }>;
  /** `disk = [ ... ]`: Xen virtual block devices (xl-disk-configuration syntax), served by blkback. */
  readonly disk?: ReadonlyArray<{ readonly spec: DiskSpec; readonly where: string }>;
  /**
   * `driver_domain = 1`: the domain's kernel runs scsiback over a physical SCSI inventory of its
   * own (`scsi_host_config`, or the built-in one) instead of scsifront; guests name it with
   * `backend=<name>` in their vscsi entries.
   */
  readonly driverDomain?: {
    readonly hostConfig: HostConfigSource | null;
    /**
     * `kernel = "back.wasm"`: the driver domain's kernel is this WebAssembly backend module
     * instead of pvscsi's scsiback; it needs the host in machine-memory mode (docs/wasm.md).
     */
    readonly wasmKernel?: { readonly path: string; readonly bytes: Uint8Array };
  };
  /** `guest_root`: the guest's filesystem, absolute (resolved against the config's folder). */
  readonly guestRoot?: string;
  /**
   * `kernel = "front.wasm"`: the guest's kernel is this WebAssembly module (a driver built with
   * pvscsi's C SDK, sdk/) instead of pvscsi's scsifront; its memory is the domain's memory.
   */
  readonly wasmKernel?: { readonly path: string; readonly bytes: Uint8Array };
  /**
   * `cmdline` (or the older `extra`): the guest kernel's command line. pvscsi's guest kernel reads
   * blkfront's module parameters from it (`xen_blkfront.max_ring_page_order=4`).
   */
  readonly cmdline?: string;
  /**
   * Settings that were ignored, each naming the setting and its line (`file:line: ...`): xl
   * itself ignores a setting it does not know, so a typo like `vscsii` would silently give a
   * guest without disks. `xl create` prints them on stderr.
   */
  readonly warnings: readonly string[];
}

/** The settings this parser reads; anything else is reported by {@link DomainSpec.warnings}. */
export const DOMAIN_CONFIG_KEYS: readonly string[] = [
  "name",
  "memory",
  "vscsi",
  "disk",
  "driver_domain",
  "scsi_host_config",
  "guest_root",
  "kernel",
  "cmdline",
  "extra",
];

/**
 * xl.cfg(5) settings of a real domain that pvscsi does not emulate: a config written for xl may
 * carry them, so they are named as ignored rather than as unknown.
 */
const XL_CFG_IGNORED = new Set([
  "type",
  "builder",
  "vcpus",
  "maxvcpus",
  "maxmem",
  "uuid",
  "ramdisk",
  "root",
  "bootloader",
  "bootloader_args",
  "vif",
  "vfb",
  "vkb",
  "pci",
  "usbctrl",
  "usbdev",
  "channel",
  "on_poweroff",
  "on_reboot",
  "on_watchdog",
  "on_crash",
  "on_soft_reset",
  "cpus",
  "cpu_weight",
  "cap",
  "localtime",
  "seclabel",
]);

/**
 * Domain names: 1-64 characters of letters, digits, `_`, `.` and `-`, starting with a letter or
 * digit, and not all digits — `xl destroy 11` reads a number as a domid, so a guest named "11"
 * could not be named on the command line.
 */
export const DOMAIN_NAME_RULES =
  "1-64 characters of letters, digits, '_', '.' and '-', starting with a letter or digit, and not only digits (a number means a domid)";

/** Check a domain name against {@link DOMAIN_NAME_RULES}; the error echoes at most 40 characters of it. */
export function checkDomainName(name: string, where: string): void {
  if (/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name) && !/^\d+$/.test(name)) return;
  const shown = name.length > 40 ? `${name.slice(0, 40)}...` : name;
  throw configError(
    where,
    `invalid domain name ${JSON.stringify(shown)}${name.length > 40 ? ` (${name.length} characters)` : ""}: ${DOMAIN_NAME_RULES}`,
  );
}

/** Warnings for the settings of `cfg` this parser does not read. */
function unknownSettings(cfg: Map<string, XlSetting>, file: string): string[] {
  const out: string[] = [];
  for (const s of [...cfg.values()].sort((a, b) => a.line - b.line)) {
    if (DOMAIN_CONFIG_KEYS.includes(s.name)) continue;
    if (XL_CFG_IGNORED.has(s.name)) {
      out.push(`${file}:${s.line}: '${s.name}' is an xl.cfg setting pvscsi does not emulate; ignored`);
      continue;
    }
    const near = DOMAIN_CONFIG_KEYS.find((k) => editDistance(k, s.name) <= 2);
    out.push(
      `${file}:${s.line}: unknown setting '${s.name}' ignored${near ? ` (did you mean '${near}'?)` : ""}; known: ${DOMAIN_CONFIG_KEYS.join(", ")}`,
    );
  }
  return out;
}

/** Levenshtein distance, for "did you mean" (names are short). */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++)
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/** Memory a guest gets without a `memory` line (MiB). */
export const DEFAULT_GUEST_MEMORY_MIB = 32;

/**
 * Parse and check an xl domain configuration (no side effects; a driver domain's
 * `scsi_host_config` is read, relative to `baseDir`, and checked too), as `xl create` does
 * with `parse_config_data` before it builds anything.
 */
export function parseDomainConfig(text: string, file: string, baseDir = dirname(resolve(file))): DomainSpec {
  const cfg = parseXlConfig(text, file);
  const name = xlString(cfg, "name", file);
  if (name === undefined) throw configError(file, "'name' is required (e.g. name = \"guest1\")");
  checkDomainName(name, `${file}:${cfg.get("name")!.line}`);
  const warnings = unknownSettings(cfg, file);
  const memoryMiB = parseMemory(cfg, file);
  const vscsi = xlStringList(cfg, "vscsi", file).map((e) => {
    const where = `${file}:${e.line}`;
    return { spec: parseVscsiSpec(e.value, where), where };
  });
  const driver = xlBoolean(cfg, "driver_domain", file);
  const hostConfigPath = xlString(cfg, "scsi_host_config", file);
  const hostConfigLine = cfg.get("scsi_host_config")?.line;
  if (!driver) {
    if (hostConfigPath !== undefined) {
      throw configError(
        `${file}:${hostConfigLine}`,
        "'scsi_host_config' is the SCSI inventory of a driver domain; add driver_domain = 1",
      );
    }
    const guestRoot = xlString(cfg, "guest_root", file);
    const disk = xlStringList(cfg, "disk", file).map((e) => {
      const where = `${file}:${e.line}`;
      return { spec: parseDiskSpec(e.value, where), where };
    });
    const wasmKernel = parseWasmKernel(cfg, file, baseDir, memoryMiB, warnings);
    // libxl: `cmdline` if given, else `root` and `extra` (pvscsi has no root device to name).
    const cmdline = xlString(cfg, "cmdline", file) ?? xlString(cfg, "extra", file);
    return {
      name,
      memoryMiB,
      vscsi,
      ...(disk.length > 0 ? { disk } : {}),
      warnings,
      ...(guestRoot !== undefined ? { guestRoot: resolve(baseDir, guestRoot) } : {}),
      ...(wasmKernel !== undefined ? { wasmKernel } : {}),
      ...(cmdline !== undefined ? { cmdline } : {}),
    };
  }
  if (vscsi.length > 0) {
    throw configError(
      vscsi[0]!.where,
      `a driver domain runs scsiback, not scsifront: give its devices to guests with backend=${name}`,
    );
  }
  let hostConfig: HostConfigSource | null = null;
  const wasmKernel = parseWasmKernel(cfg, file, baseDir, memoryMiB, warnings);
  if (wasmKernel !== undefined && hostConfigPath !== undefined) {
    throw configError(
      `${file}:${hostConfigLine}`,
      "a driver domain whose kernel is a wasm module serves its own LUNs: drop 'scsi_host_config'",
    );
  }
  if (hostConfigPath !== undefined) {
    hostConfig = readHostConfigSource(hostConfigPath, baseDir, (reason) =>
      configError(
        `${file}:${hostConfigLine}`,
        `scsi_host_config '${hostConfigPath}' cannot be read: ${reason}`,
      ),
    );
    parseHostConfig(hostConfig.text, hostConfig.source, hostConfig.baseDir); // its errors name its lines
  }
  return {
    name,
    memoryMiB,
    vscsi,
    driverDomain: { hostConfig, ...(wasmKernel !== undefined ? { wasmKernel } : {}) },
    warnings,
  };
}

/**
 * `kernel = "<file>.wasm"`: read and check the module now (its memory import, `__heap_base`), so
 * a module built without the SDK's link flags is refused naming the line. Any other kernel (a
 * real vmlinuz) is ignored with a warning: pvscsi runs its own scsifront then.
 */
function parseWasmKernel(
  cfg: Map<string, XlSetting>,
  file: string,
  baseDir: string,
  memoryMiB: number,
  warnings: string[],
): { path: string; bytes: Uint8Array } | undefined {
  const value = xlString(cfg, "kernel", file);
  if (value === undefined) return undefined;
  const where = `${file}:${cfg.get("kernel")!.line}`;
  if (!value.endsWith(".wasm")) {
    warnings.push(`${where}: 'kernel' runs only WebAssembly modules (.wasm) in pvscsi; ignored`);
    return undefined;
  }
  const path = resolve(baseDir, value);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(path));
  } catch (e) {
    throw configError(where, `kernel '${value}' cannot be read: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
  try {
    wasmDomainBacking(bytes, memoryMiB * 256, false);
  } catch (e) {
    throw configError(where, `kernel '${value}': ${e instanceof Error ? e.message : e}`);
  }
  return { path, bytes };
}

/** `memory = <MiB>`, between 4 and 1024; {@link DEFAULT_GUEST_MEMORY_MIB} when absent. */
function parseMemory(cfg: Map<string, XlSetting>, file: string): number {
  const mem = cfg.get("memory");
  if (!mem) return DEFAULT_GUEST_MEMORY_MIB;
  if (
    mem.value.kind !== "number" ||
    !/^\d+$/.test(mem.value.text) ||
    Number(mem.value.text) < 4 ||
    Number(mem.value.text) > 1024
  ) {
    throw configError(`${file}:${mem.line}`, "'memory' must be a number of MiB between 4 and 1024");
  }
  return Number(mem.value.text);
}

/** An xl boolean (`driver_domain = 1`): 0 or 1, as libxlu's defbool reads it. */
function xlBoolean(cfg: Map<string, XlSetting>, name: string, file: string): boolean {
  const s = cfg.get(name);
  if (!s) return false;
  if (s.value.kind !== "number" || (s.value.text !== "0" && s.value.text !== "1"))
    throw configError(`${file}:${s.line}`, `'${name}' must be 0 or 1`);
  return s.value.text === "1";
}
