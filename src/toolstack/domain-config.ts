import { dirname, resolve } from "node:path";
import {
  type HostConfigSource,
  parseHostConfig,
  readHostConfigSource,
} from "../targets/inventory/host-config.js";
import { configError } from "../xen/errors.js";
import { parseVscsiSpec, type VscsiSpec } from "./vscsi-spec.js";
import { parseXlConfig, type XlSetting, xlString, xlStringList } from "./xl-config.js";

/** A domain's xl-style configuration, parsed and checked. */
export interface DomainSpec {
  readonly name: string;
  readonly memoryMiB: number;
  readonly vscsi: ReadonlyArray<{ readonly spec: VscsiSpec; readonly where: string }>;
  /**
   * `driver_domain = 1`: the domain's kernel runs scsiback over a physical SCSI inventory of its
   * own (`scsi_host_config`, or the built-in one) instead of scsifront; guests name it with
   * `backend=<name>` in their vscsi entries.
   */
  readonly driverDomain?: { readonly hostConfig: HostConfigSource | null };
  /** `guest_root`: the guest's filesystem, absolute (resolved against the config's folder). */
  readonly guestRoot?: string;
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
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name)) {
    throw configError(
      `${file}:${cfg.get("name")!.line}`,
      `invalid domain name '${name}' (letters, digits, '_', '.', '-')`,
    );
  }
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
    return {
      name,
      memoryMiB,
      vscsi,
      ...(guestRoot !== undefined ? { guestRoot: resolve(baseDir, guestRoot) } : {}),
    };
  }
  if (vscsi.length > 0) {
    throw configError(
      vscsi[0]!.where,
      `a driver domain runs scsiback, not scsifront: give its devices to guests with backend=${name}`,
    );
  }
  let hostConfig: HostConfigSource | null = null;
  if (hostConfigPath !== undefined) {
    hostConfig = readHostConfigSource(hostConfigPath, baseDir, (reason) =>
      configError(
        `${file}:${hostConfigLine}`,
        `scsi_host_config '${hostConfigPath}' cannot be read: ${reason}`,
      ),
    );
    parseHostConfig(hostConfig.text, hostConfig.source, hostConfig.baseDir); // its errors name its lines
  }
  return { name, memoryMiB, vscsi, driverDomain: { hostConfig } };
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
