import { isAbsolute, resolve } from "node:path";
import { configError } from "../../xen/errors.js";
import { parseBool, parseSize } from "./config-values.js";
import { type CartridgeDefaults, DEFAULT_CARTRIDGE_CAPACITY } from "./host-config-types.js";

/** One `[kind arg]` section of a host config and its `key = value` lines. */
export interface Section {
  readonly kind: string;
  readonly arg: string;
  readonly line: number;
  readonly values: Map<string, { value: string; line: number }>;
}

/** A section's values read as typed settings, each error naming the line of its key. */
export class SectionReader {
  /** `file:line` of the section header. */
  readonly where: string;

  constructor(
    readonly section: Section,
    private readonly source: string,
    private readonly baseDir: string,
  ) {
    this.where = `${source}:${section.line}`;
  }

  /** The raw value of `key`, if set. */
  get(key: string): { value: string; line: number } | undefined {
    return this.section.values.get(key);
  }

  /** `file:line` of `key` (which must be set). */
  at(key: string): string {
    return `${this.source}:${this.get(key)!.line}`;
  }

  /** A string of 1..`max` printable ASCII characters (the INQUIRY fields). */
  str(key: string, max: number): string | undefined {
    const v = this.get(key);
    if (!v) return undefined;
    if (v.value.length < 1 || v.value.length > max || !/^[\x20-\x7e]+$/.test(v.value)) {
      throw configError(
        this.at(key),
        `${key} must be 1-${max} printable ASCII characters, got ${JSON.stringify(v.value)}`,
      );
    }
    return v.value;
  }

  /** A yes/no setting. */
  bool(key: string, dflt: boolean): boolean {
    const v = this.get(key);
    if (!v) return dflt;
    const b = parseBool(v.value);
    if (b === null)
      throw configError(this.at(key), `${key} must be yes or no, got ${JSON.stringify(v.value)}`);
    return b;
  }

  /** A path, relative ones resolved against the config's folder; null when not set. */
  path(key: string): string | null {
    const v = this.get(key);
    if (!v) return null;
    if (v.value === "") throw configError(this.at(key), `${key} must be a path`);
    return isAbsolute(v.value) ? v.value : resolve(this.baseDir, v.value);
  }

  /** A whole number in `min..max`. */
  integer(key: string, dflt: number, min: number, max: number): number {
    const v = this.get(key);
    if (!v) return dflt;
    if (!/^\d+$/.test(v.value) || Number(v.value) < min || Number(v.value) > max)
      throw configError(
        this.at(key),
        `${key} must be a whole number from ${min} to ${max}, got ${JSON.stringify(v.value)}`,
      );
    return Number(v.value);
  }

  /** `capacity` and `early-warning` of cartridges created on first use. */
  cartridgeDefaults(): CartridgeDefaults {
    const cv = this.get("capacity");
    const capacity = cv ? parseSize(cv.value, this.at("capacity")) : DEFAULT_CARTRIDGE_CAPACITY;
    if (capacity < 1 << 20)
      throw configError(this.at("capacity"), `capacity must be at least 1M, got ${cv!.value}`);
    const ev = this.get("early-warning");
    let zone: number | undefined;
    if (ev) {
      zone = parseSize(ev.value, this.at("early-warning"));
      if (zone >= capacity)
        throw configError(
          this.at("early-warning"),
          `early-warning ${zone} must be smaller than the capacity ${capacity}`,
        );
    }
    return { capacity, earlyWarningZone: zone };
  }
}
