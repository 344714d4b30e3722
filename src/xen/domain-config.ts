import { DOMID_FIRST_RESERVED } from "./domid.js";
import { invalidArgument } from "./errors.js";
import { EVTCHN_2L_NR_CHANNELS } from "./evtchn-constants.js";
import { MAX_VCPUS, PORTS_PER_WORD } from "./evtchn-layout.js";
import { GRANT_ENTRIES_PER_FRAME } from "./grant-layout.js";

/** What the toolstack asks for when it creates a domain. */
export interface DomainConfig {
  /** Domain id; 0 is dom0. Omitted: the next free id from 1 up, as Xen's allocator does. */
  readonly domid?: number;
  /** A name for logs and reports (xl's `name`). */
  readonly name: string;
  /** Pages of memory (4096 bytes each). */
  readonly frames: number;
  /** Grant-table frames (512 v1 entries each); default {@link DEFAULT_GRANT_FRAMES}. */
  readonly grantFrames?: number;
  /** Event-channel ports, a multiple of 32 up to 4096; default {@link EVTCHN_2L_NR_CHANNELS}. */
  readonly maxPorts?: number;
  /** Vcpus: each is one delivery target for events (one waiting thread); default 1. */
  readonly vcpus?: number;
  /** How many grants this domain may have mapped at once (Xen's maptrack); default {@link DEFAULT_MAPTRACK_ENTRIES}. */
  readonly maptrackEntries?: number;
}

/**
 * Default grant-table size: 8 frames, 4096 entries. A scsifront with 16 requests of up to 128
 * indirect segments plus their descriptor pages needs about 2100 refs, with room for the ring and
 * xenstore; Linux's own default allows 64 frames.
 */
export const DEFAULT_GRANT_FRAMES = 8;
/**
 * Default maptrack size: 16384 mappings. scsiback maps up to 154 grants per request (128 data
 * pages, 26 indirect pages) and a ring holds 16 requests, so one device needs up to 2464; this
 * leaves room for several devices and the rings.
 */
export const DEFAULT_MAPTRACK_ENTRIES = 16384;
/** Largest memory a domain may have, in frames (2 GiB, within a SharedArrayBuffer's limits). */
export const MAX_DOMAIN_FRAMES = 1 << 19;
/** Largest grant table, in frames (Xen's default `max_grant_frames` is 64). */
export const MAX_GRANT_FRAMES = 64;
/** Largest maptrack (Xen's default: 1024 frames of 256 entries). */
export const MAX_MAPTRACK_ENTRIES = 1 << 18;

/** A {@link DomainConfig} with every default applied and every value checked. */
export interface ResolvedDomainConfig {
  readonly domid: number | undefined;
  readonly name: string;
  readonly frames: number;
  readonly grantEntries: number;
  readonly maxPorts: number;
  readonly vcpus: number;
  readonly maptrackEntries: number;
}

/** Apply defaults and validate, naming the offending option. */
export function resolveDomainConfig(config: DomainConfig): ResolvedDomainConfig {
  const { domid, name } = config;
  if (domid !== undefined && !isIntIn(domid, 0, DOMID_FIRST_RESERVED - 1)) {
    throw invalidArgument("DomainConfig.domid", `an integer in [0, ${DOMID_FIRST_RESERVED - 1}]`, domid);
  }
  if (typeof name !== "string" || name.length === 0) {
    throw invalidArgument("DomainConfig.name", "a non-empty string", name);
  }
  const frames = config.frames;
  if (!isIntIn(frames, 1, MAX_DOMAIN_FRAMES)) {
    throw invalidArgument("DomainConfig.frames", `an integer in [1, ${MAX_DOMAIN_FRAMES}]`, frames);
  }
  const grantFrames = config.grantFrames ?? DEFAULT_GRANT_FRAMES;
  if (!isIntIn(grantFrames, 1, MAX_GRANT_FRAMES)) {
    throw invalidArgument("DomainConfig.grantFrames", `an integer in [1, ${MAX_GRANT_FRAMES}]`, grantFrames);
  }
  const maxPorts = config.maxPorts ?? EVTCHN_2L_NR_CHANNELS;
  if (!isIntIn(maxPorts, PORTS_PER_WORD, EVTCHN_2L_NR_CHANNELS) || maxPorts % PORTS_PER_WORD !== 0) {
    throw invalidArgument(
      "DomainConfig.maxPorts",
      `a multiple of ${PORTS_PER_WORD} in [${PORTS_PER_WORD}, ${EVTCHN_2L_NR_CHANNELS}]`,
      maxPorts,
    );
  }
  const vcpus = config.vcpus ?? 1;
  if (!isIntIn(vcpus, 1, MAX_VCPUS)) {
    throw invalidArgument("DomainConfig.vcpus", `an integer in [1, ${MAX_VCPUS}]`, vcpus);
  }
  const maptrackEntries = config.maptrackEntries ?? DEFAULT_MAPTRACK_ENTRIES;
  if (!isIntIn(maptrackEntries, 1, MAX_MAPTRACK_ENTRIES)) {
    throw invalidArgument(
      "DomainConfig.maptrackEntries",
      `an integer in [1, ${MAX_MAPTRACK_ENTRIES}]`,
      maptrackEntries,
    );
  }
  const grantEntries = grantFrames * GRANT_ENTRIES_PER_FRAME;
  return { domid, name, frames, grantEntries, maxPorts, vcpus, maptrackEntries };
}

function isIntIn(v: unknown, lo: number, hi: number): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= lo && v <= hi;
}
