import { put16, put32 } from "../../scsi/cdb.js";
import type { Initiator } from "../../scsi/device.js";
import {
  fieldPointer,
  INSUFFICIENT_REGISTRATION_RESOURCES,
  INVALID_FIELD_IN_CDB,
  INVALID_FIELD_IN_PARAMETER_LIST,
  INVALID_RELEASE_OF_PERSISTENT_RESERVATION,
  PARAMETER_LIST_LENGTH_ERROR,
  REGISTRATIONS_PREEMPTED,
  RESERVATIONS_PREEMPTED,
  RESERVATIONS_RELEASED,
} from "../../scsi/sense.js";
import { CMD_PR_COMMAND, CMD_PR_READ, CMD_PR_WRITE, CMD_RESERVE6_OK } from "./command.js";

/** Persistent reservation types (SPC-4 Table 170). */
export const PR_TYPE_WRITE_EXCLUSIVE = 1;
export const PR_TYPE_EXCLUSIVE_ACCESS = 3;
export const PR_TYPE_WRITE_EXCLUSIVE_REGISTRANTS_ONLY = 5;
export const PR_TYPE_EXCLUSIVE_ACCESS_REGISTRANTS_ONLY = 6;
export const PR_TYPE_WRITE_EXCLUSIVE_ALL_REGISTRANTS = 7;
export const PR_TYPE_EXCLUSIVE_ACCESS_ALL_REGISTRANTS = 8;

/** PERSISTENT RESERVE OUT service actions (SPC-4 Table 168). */
export const PR_OUT_REGISTER = 0;
export const PR_OUT_RESERVE = 1;
export const PR_OUT_RELEASE = 2;
export const PR_OUT_CLEAR = 3;
export const PR_OUT_PREEMPT = 4;
export const PR_OUT_REGISTER_AND_IGNORE_EXISTING_KEY = 6;

/** PERSISTENT RESERVE IN service actions (SPC-4 Table 162). */
export const PR_IN_READ_KEYS = 0;
export const PR_IN_READ_RESERVATION = 1;
export const PR_IN_REPORT_CAPABILITIES = 2;
export const PR_IN_READ_FULL_STATUS = 3;

/** Outcome of a reservation operation: GOOD, RESERVATION CONFLICT, or a packed sense code. */
export const PR_GOOD = 0;
export const PR_CONFLICT = -1;

/** The PERSISTENT RESERVE OUT parameter list is 24 bytes when SPEC_I_PT is 0 (SPC-4 §6.16.3). */
export const PR_OUT_PARAMETER_LIST_LENGTH = 24;

const isAllRegistrants = (t: number): boolean => t === 7 || t === 8;
const isValidType = (t: number): boolean => t === 1 || t === 3 || (t >= 5 && t <= 8);

interface Registration {
  readonly initiatorId: number;
  readonly name: string;
  key: bigint;
}

/**
 * SPC-2 RESERVE(6)/RELEASE(6) and SPC-4 persistent reservations for one logical unit.
 *
 * Registrations survive I_T nexus loss (SPC-4 §5.13.2); a RESERVE(6) reservation does not
 * (SPC-2 §7.21.1). Persistence across power loss (APTPL) is not offered: REPORT CAPABILITIES says
 * PTPL_C = 0 and APTPL = 1 is refused. Transport IDs are SAS-format (protocol 6), as Linux's
 * xen-scsiback reports for a `naa.` target port; the SAS address is derived from the initiator's
 * name (see {@link sasAddressOf}).
 *
 * {@link conflicts} runs on every command and allocates nothing; the PR commands themselves may.
 */
export class Reservations {
  /** Initiator id holding a RESERVE(6) reservation, or -1. */
  reserve6Holder = -1;
  /** Persistent reservation type, 0 when none. */
  prType = 0;
  /** Holder's initiator id; -1 for all-registrants types (every registrant holds it). */
  prHolder = -1;
  /** PRGENERATION (SPC-4 §6.15.2). */
  generation = 0;
  /** Sense-key-specific value for the last sense code returned. */
  sks = 0;
  private readonly regs = new Map<number, Registration>();

  /**
   * @param notify queues a unit attention for one initiator (reservations preempted / released).
   * @param maxRegistrations beyond this REGISTER fails with 05/55/04.
   */
  constructor(
    private readonly notify: (initiatorId: number, code: number) => void,
    readonly maxRegistrations = 64,
  ) {}

  /** Number of registered I_T nexuses. */
  get registrationCount(): number {
    return this.regs.size;
  }

  /** Whether a command with `flags` from `id` meets a RESERVATION CONFLICT (no PREVENT detail). */
  conflicts(id: number, flags: number): boolean {
    if (this.reserve6Holder >= 0 && this.reserve6Holder !== id && (flags & CMD_RESERVE6_OK) === 0)
      return true;
    if (this.prType === 0 || (flags & (CMD_PR_READ | CMD_PR_WRITE)) === 0) return false;
    if (this.prHolder === id) return false;
    const t = this.prType;
    // Registrants-only and all-registrants types admit every registered I_T nexus.
    if (t >= 5 && this.regs.has(id)) return false;
    if ((flags & CMD_PR_WRITE) !== 0) return true;
    return t === PR_TYPE_EXCLUSIVE_ACCESS || t === 6 || t === 8;
  }

  /**
   * Whether a PERSISTENT RESERVE IN/OUT meets a RESERVATION CONFLICT because a RESERVE(6) is held:
   * SPC-2 §5.5.1 (and SPC-4 §5.13.3) make that so for every I_T nexus, the holder's included —
   * the two reservation methods never mix on one logical unit. `_id` is kept for symmetry with
   * {@link conflicts}.
   */
  prCommandConflicts(_id: number, flags: number): boolean {
    return (flags & CMD_PR_COMMAND) !== 0 && this.reserve6Holder >= 0;
  }

  /** Whether `id` holds the persistent reservation. */
  isHolder(id: number): boolean {
    if (this.prType === 0) return false;
    return isAllRegistrants(this.prType) ? this.regs.has(id) : this.prHolder === id;
  }

  /** RESERVE(6) (SPC-2 §7.21). */
  reserve6(id: number): number {
    if (this.prType !== 0 || this.regs.size > 0) return PR_CONFLICT;
    if (this.reserve6Holder >= 0 && this.reserve6Holder !== id) return PR_CONFLICT;
    this.reserve6Holder = id;
    return PR_GOOD;
  }

  /** RELEASE(6): releases only the issuer's own reservation; otherwise GOOD and no change (SPC-2 §7.17). */
  release6(id: number): number {
    if (this.reserve6Holder === id) this.reserve6Holder = -1;
    return PR_GOOD;
  }

  /** The I_T nexus went away or the logical unit was reset: its RESERVE(6) goes. */
  dropReserve6(id: number | null): void {
    if (id === null || this.reserve6Holder === id) this.reserve6Holder = -1;
  }

  /**
   * PERSISTENT RESERVE OUT (SPC-4 §5.13, §6.16). `cdb` is the 10-byte CDB, `params` the parameter
   * list (already checked to be `paramLength` long). Returns {@link PR_GOOD}, {@link PR_CONFLICT}
   * or a sense code with {@link sks} set.
   */
  out(initiator: Initiator, cdb: Uint8Array, params: Uint8Array, paramLength: number): number {
    this.sks = 0;
    const sa = cdb[1]! & 0x1f;
    const scope = cdb[2]! >>> 4;
    const type = cdb[2]! & 0x0f;
    if (paramLength !== PR_OUT_PARAMETER_LIST_LENGTH) {
      // SPEC_I_PT is not supported, so the list is always 24 bytes (SPC-4 §6.16.3).
      this.sks = fieldPointer(true, 5);
      return PARAMETER_LIST_LENGTH_ERROR;
    }
    const key = readKey(params, 0);
    const saKey = readKey(params, 8);
    const flags = params[20]!;
    if (flags & 0x08) {
      this.sks = fieldPointer(false, 20, 3); // SPEC_I_PT: SIP_C = 0
      return INVALID_FIELD_IN_PARAMETER_LIST;
    }
    if (flags & 0x04) {
      this.sks = fieldPointer(false, 20, 2); // ALL_TG_PT: ATP_C = 0
      return INVALID_FIELD_IN_PARAMETER_LIST;
    }
    if (flags & 0x01) {
      this.sks = fieldPointer(false, 20, 0); // APTPL: PTPL_C = 0
      return INVALID_FIELD_IN_PARAMETER_LIST;
    }
    const id = initiator.id;
    const mine = this.regs.get(id);
    if (sa === PR_OUT_REGISTER || sa === PR_OUT_REGISTER_AND_IGNORE_EXISTING_KEY) {
      if (sa === PR_OUT_REGISTER && (mine ? mine.key !== key : key !== 0n)) return PR_CONFLICT;
      if (saKey === 0n) {
        if (mine) this.unregister(id);
        return PR_GOOD;
      }
      if (mine) mine.key = saKey;
      else {
        if (this.regs.size >= this.maxRegistrations) return INSUFFICIENT_REGISTRATION_RESOURCES;
        this.regs.set(id, { initiatorId: id, name: initiator.name, key: saKey });
      }
      this.generation = (this.generation + 1) >>> 0;
      return PR_GOOD;
    }
    if (sa !== PR_OUT_RESERVE && sa !== PR_OUT_RELEASE && sa !== PR_OUT_CLEAR && sa !== PR_OUT_PREEMPT) {
      this.sks = fieldPointer(true, 1, 4);
      return INVALID_FIELD_IN_CDB;
    }
    if (sa !== PR_OUT_CLEAR) {
      if (scope !== 0) {
        this.sks = fieldPointer(true, 2, 7);
        return INVALID_FIELD_IN_CDB;
      }
      if (!isValidType(type) && !(sa === PR_OUT_PREEMPT && this.prType === 0)) {
        this.sks = fieldPointer(true, 2, 3);
        return INVALID_FIELD_IN_CDB;
      }
    }
    if (!mine || mine.key !== key) return PR_CONFLICT;
    switch (sa) {
      case PR_OUT_RESERVE:
        if (this.prType === 0) {
          this.prType = type;
          this.prHolder = isAllRegistrants(type) ? -1 : id;
          return PR_GOOD;
        }
        return this.isHolder(id) && this.prType === type ? PR_GOOD : PR_CONFLICT;
      case PR_OUT_RELEASE: {
        if (this.prType === 0 || !this.isHolder(id)) return PR_GOOD;
        if (this.prType !== type) return INVALID_RELEASE_OF_PERSISTENT_RESERVATION;
        const t = this.prType;
        this.prType = 0;
        this.prHolder = -1;
        if (t >= 5) this.notifyOthers(id, RESERVATIONS_RELEASED);
        return PR_GOOD;
      }
      case PR_OUT_CLEAR:
        this.notifyOthers(id, RESERVATIONS_PREEMPTED);
        this.regs.clear();
        this.prType = 0;
        this.prHolder = -1;
        this.generation = (this.generation + 1) >>> 0;
        return PR_GOOD;
      default:
        return this.preempt(id, type, saKey);
    }
  }

  /** PREEMPT (SPC-4 §5.13.11.4). The issuer's own registration is never removed. */
  private preempt(id: number, type: number, saKey: bigint): number {
    const holderKey =
      this.prType !== 0 && !isAllRegistrants(this.prType) ? this.regs.get(this.prHolder)?.key : undefined;
    const takesReservation =
      this.prType !== 0 && (isAllRegistrants(this.prType) ? saKey === 0n : saKey === holderKey);
    if (!takesReservation && saKey === 0n) {
      this.sks = fieldPointer(false, 8);
      return INVALID_FIELD_IN_PARAMETER_LIST;
    }
    const victims: number[] = [];
    for (const r of this.regs.values()) {
      if (r.initiatorId === id) continue;
      if (takesReservation && isAllRegistrants(this.prType) ? true : r.key === saKey)
        victims.push(r.initiatorId);
    }
    if (!takesReservation && victims.length === 0) return PR_CONFLICT;
    for (const v of victims) {
      this.regs.delete(v);
      this.notify(v, REGISTRATIONS_PREEMPTED);
    }
    if (takesReservation) {
      this.prType = type;
      this.prHolder = isAllRegistrants(type) ? -1 : id;
    }
    this.generation = (this.generation + 1) >>> 0;
    return PR_GOOD;
  }

  private unregister(id: number): void {
    this.regs.delete(id);
    this.generation = (this.generation + 1) >>> 0;
    if (this.prType === 0) return;
    if (isAllRegistrants(this.prType)) {
      // An all-registrants reservation lasts until the last registrant goes (SPC-4 §5.13.11.2.3).
      if (this.regs.size === 0) this.prType = 0;
      return;
    }
    if (this.prHolder === id) {
      const t = this.prType;
      this.prType = 0;
      this.prHolder = -1;
      if (t >= 5) this.notifyOthers(id, RESERVATIONS_RELEASED);
    }
  }

  private notifyOthers(id: number, code: number): void {
    for (const r of this.regs.values()) if (r.initiatorId !== id) this.notify(r.initiatorId, code);
  }

  /** PERSISTENT RESERVE IN READ KEYS (SPC-4 §6.15.2); returns the full length. */
  readKeys(b: Uint8Array): number {
    put32(b, 0, this.generation);
    let n = 8;
    for (const r of this.regs.values()) {
      writeKey(b, n, r.key);
      n += 8;
    }
    put32(b, 4, n - 8);
    return n;
  }

  /** READ RESERVATION (SPC-4 §6.15.3). All-registrants reservations report key 0. */
  readReservation(b: Uint8Array): number {
    put32(b, 0, this.generation);
    if (this.prType === 0) {
      put32(b, 4, 0);
      return 8;
    }
    put32(b, 4, 16);
    b.fill(0, 8, 24);
    if (!isAllRegistrants(this.prType)) writeKey(b, 8, this.regs.get(this.prHolder)?.key ?? 0n);
    b[21] = this.prType; // SCOPE 0 (LU_SCOPE)
    return 24;
  }

  /** REPORT CAPABILITIES (SPC-4 §6.15.4). */
  reportCapabilities(b: Uint8Array): number {
    b.fill(0, 0, 8);
    put16(b, 0, 8);
    b[2] = 0; // RLR_C 0, CRH 0, SIP_C 0, ATP_C 0, PTPL_C 0
    b[3] = 0x80; // TMV: the type mask is valid
    b[4] = 0x80 | 0x40 | 0x20 | 0x08 | 0x02; // WR_EX_AR, EX_AC_RO, WR_EX_RO, EX_AC, WR_EX
    b[5] = 0x01; // EX_AC_AR
    return 8;
  }

  /** READ FULL STATUS (SPC-4 §6.15.5): one descriptor with a 24-byte SAS TransportID per registrant. */
  readFullStatus(b: Uint8Array): number {
    put32(b, 0, this.generation);
    let n = 8;
    for (const r of this.regs.values()) {
      b.fill(0, n, n + 24 + 24);
      writeKey(b, n, r.key);
      if (this.isHolder(r.initiatorId)) {
        b[n + 12] = 0x01; // R_HOLDER
        b[n + 13] = this.prType; // SCOPE 0
      }
      put16(b, n + 18, 1); // RELATIVE TARGET PORT IDENTIFIER
      put32(b, n + 20, 24); // ADDITIONAL DESCRIPTOR LENGTH
      writeSasTransportId(b, n + 24, r.name);
      n += 48;
    }
    put32(b, 4, n - 8);
    return n;
  }

  /** Largest READ FULL STATUS / READ KEYS response, for sizing scratch buffers. */
  get maxResponseLength(): number {
    return 8 + this.maxRegistrations * 48;
  }
}

function readKey(b: Uint8Array, at: number): bigint {
  let k = 0n;
  for (let i = 0; i < 8; i++) k = (k << 8n) | BigInt(b[at + i] ?? 0);
  return k;
}

function writeKey(b: Uint8Array, at: number, k: bigint): void {
  for (let i = 7; i >= 0; i--) {
    b[at + i] = Number(k & 0xffn);
    k >>= 8n;
  }
}

/**
 * The SAS address pvscsi reports for an initiator port: an NAA 3 (locally assigned) identifier
 * whose low 60 bits are the FNV-1a-64 hash of the initiator's name, so it is stable across runs.
 */
export function sasAddressOf(name: string): bigint {
  let h = 0xcbf29ce484222325n;
  for (let i = 0; i < name.length; i++) {
    h ^= BigInt(name.charCodeAt(i) & 0xff);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return (3n << 60n) | (h & 0x0fffffffffffffffn);
}

/** SAS TransportID (SPC-4 §7.6.4.5 / SAS): protocol 6, 8-byte SAS address at byte 4, 24 bytes. */
function writeSasTransportId(b: Uint8Array, at: number, name: string): void {
  b.fill(0, at, at + 24);
  b[at] = 0x06;
  writeKey(b, at + 4, sasAddressOf(name));
}
