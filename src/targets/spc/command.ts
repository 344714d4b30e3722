import { put16, put32 } from "../../scsi/cdb.js";
import type { ScsiTask } from "../../scsi/device.js";

/**
 * A command a device implements: how to find it (opcode, service action), its CDB usage data
 * (REPORT SUPPORTED OPERATION CODES, SPC-4 §6.35, and the reserved-bit check), how the common
 * SPC checks treat it (`flags`), and the handler that runs it.
 */
export interface ScsiCommand {
  readonly opcode: number;
  /** Service action in CDB byte 1 bits 4-0, or -1 for an opcode without service actions. */
  readonly serviceAction: number;
  readonly name: string;
  /**
   * CDB USAGE DATA: byte 0 is the opcode, then for each CDB byte the bits the device examines
   * (SPC-4 §6.35.3). Its length is the command's CDB length; the last byte is the CONTROL byte.
   */
  readonly usage: Uint8Array;
  readonly flags: number;
  readonly run: (task: ScsiTask) => Handled;
}

/**
 * What a command handler returns: proof that its task has been completed, or handed to I/O that
 * will complete it. Only the completion helpers produce it, so with `noImplicitReturns` every path
 * of a handler must end in one (a shared frozen object: returning it allocates nothing).
 */
export type Handled = { readonly handled: true };
/** The one {@link Handled} value. */
export const HANDLED: Handled = Object.freeze({ handled: true });

/** The command moves data to the initiator (the data buffer must be writable). */
export const CMD_DATA_IN = 1 << 0;
/** The command reads a data-out buffer. */
export const CMD_DATA_OUT = 1 << 1;
/**
 * The command neither reports nor consumes a unit attention (SAM-5 §5.14: INQUIRY, REPORT LUNS,
 * REQUEST SENSE; MMC-6 §4.1.6.1 adds GET CONFIGURATION and GET EVENT STATUS NOTIFICATION).
 */
export const CMD_UA_EXEMPT = 1 << 2;
/** The command needs the logical unit ready (medium present, started, image sound). */
export const CMD_NEEDS_READY = 1 << 3;
/**
 * Reads the medium: allowed under Write Exclusive persistent reservations held by another I_T
 * nexus, conflicts under Exclusive Access ones (SBC-3 Table 13, SPC-4 Table 66).
 */
export const CMD_PR_READ = 1 << 4;
/** Changes the medium or device state: conflicts under every persistent reservation type. */
export const CMD_PR_WRITE = 1 << 5;
/**
 * Allowed while another I_T nexus holds a RESERVE(6) reservation (SPC-2 §5.5.1: INQUIRY, REPORT
 * LUNS, REQUEST SENSE, RELEASE, PREVENT ALLOW with PREVENT=0 checked by the handler).
 */
export const CMD_RESERVE6_OK = 1 << 6;
/** The command is a PERSISTENT RESERVE IN/OUT: conflicts with any RESERVE(6) (SPC-4 §5.13.3). */
export const CMD_PR_COMMAND = 1 << 7;

/** Build CDB usage data from a list of bytes. */
export function usage(...bytes: number[]): Uint8Array {
  return Uint8Array.from(bytes);
}

/**
 * A device's commands, indexed by opcode (and by service action for opcodes that have them):
 * lookup is two array loads. Built once per device.
 */
export class CommandTable {
  private readonly plain: Array<ScsiCommand | undefined> = new Array(256).fill(undefined);
  private readonly withSa: Array<Array<ScsiCommand | undefined> | undefined> = new Array(256).fill(undefined);
  private sorted: ScsiCommand[] = [];

  /** Register `cmd`; a duplicate is a programming error. */
  add(cmd: ScsiCommand): this {
    if (cmd.serviceAction < 0) {
      if (this.plain[cmd.opcode] || this.withSa[cmd.opcode])
        throw new Error(`duplicate opcode ${cmd.opcode}`);
      this.plain[cmd.opcode] = cmd;
    } else {
      if (this.plain[cmd.opcode]) throw new Error(`opcode ${cmd.opcode} has no service actions`);
      let sa = this.withSa[cmd.opcode];
      if (!sa) {
        sa = new Array(32).fill(undefined);
        this.withSa[cmd.opcode] = sa;
      }
      if (sa[cmd.serviceAction])
        throw new Error(`duplicate service action ${cmd.opcode}/${cmd.serviceAction}`);
      sa[cmd.serviceAction] = cmd;
    }
    this.sorted.push(cmd);
    this.sorted.sort((a, b) => a.opcode - b.opcode || a.serviceAction - b.serviceAction);
    return this;
  }

  /** Remove a command (a device type that overrides an SPC default). */
  remove(opcode: number, serviceAction = -1): this {
    if (serviceAction < 0) this.plain[opcode] = undefined;
    else {
      const sa = this.withSa[opcode];
      if (sa) sa[serviceAction] = undefined;
      if (sa?.every((c) => c === undefined)) this.withSa[opcode] = undefined;
    }
    this.sorted = this.sorted.filter((c) => !(c.opcode === opcode && c.serviceAction === serviceAction));
    return this;
  }

  /**
   * The command for `cdb`: `undefined` when the opcode is not supported, `null` when the
   * opcode is but the service action is not.
   */
  lookup(cdb: Uint8Array): ScsiCommand | undefined | null {
    const op = cdb[0] ?? 0;
    const p = this.plain[op];
    if (p) return p;
    const sa = this.withSa[op];
    if (!sa) return undefined;
    return sa[(cdb[1] ?? 0) & 0x1f] ?? null;
  }

  /** Whether `opcode` has service actions. */
  hasServiceActions(opcode: number): boolean {
    return this.withSa[opcode & 0xff] !== undefined;
  }

  /** The command for (opcode, service action), if supported. */
  find(opcode: number, serviceAction: number): ScsiCommand | undefined {
    if (serviceAction < 0) return this.plain[opcode & 0xff];
    return this.withSa[opcode & 0xff]?.[serviceAction & 0x1f];
  }

  /** Every command, by opcode then service action. */
  all(): readonly ScsiCommand[] {
    return this.sorted;
  }
}

/** Length of a command timeouts descriptor (SPC-4 §6.35.4). */
export const TIMEOUTS_DESCRIPTOR_LENGTH = 12;

/** Write a command timeouts descriptor: no nominal or recommended timeout is specified (0). */
export function putTimeoutsDescriptor(b: Uint8Array, at: number): number {
  put16(b, at, 0x000a);
  b[at + 2] = 0;
  b[at + 3] = 0;
  put32(b, at + 4, 0);
  put32(b, at + 8, 0);
  return TIMEOUTS_DESCRIPTOR_LENGTH;
}

/**
 * REPORT SUPPORTED OPERATION CODES, REPORTING OPTIONS 000b (SPC-4 §6.35.2): a 4-byte header and
 * one 8-byte command descriptor (plus a 12-byte timeouts descriptor when `rctd`) per command.
 * Returns the full length (the caller truncates to the allocation length).
 */
export function writeAllCommands(b: Uint8Array, table: CommandTable, rctd: boolean): number {
  let n = 4;
  for (const c of table.all()) {
    b[n] = c.opcode;
    b[n + 1] = 0;
    put16(b, n + 2, Math.max(c.serviceAction, 0));
    b[n + 4] = 0;
    b[n + 5] = (rctd ? 0x02 : 0) | (c.serviceAction < 0 ? 0 : 0x01); // CTDP | SERVACTV
    put16(b, n + 6, c.usage.length);
    n += 8;
    if (rctd) n += putTimeoutsDescriptor(b, n);
  }
  put32(b, 0, n - 4);
  return n;
}

/**
 * REPORT SUPPORTED OPERATION CODES for one command (options 001b/010b): SUPPORT 011b with its
 * CDB usage data, or 001b (not supported) with none.
 */
export function writeOneCommand(b: Uint8Array, cmd: ScsiCommand | undefined, rctd: boolean): number {
  b[0] = 0;
  if (!cmd) {
    b[1] = 0x01;
    put16(b, 2, 0);
    return 4;
  }
  b[1] = (rctd ? 0x80 : 0) | 0x03;
  put16(b, 2, cmd.usage.length);
  b.set(cmd.usage, 4);
  let n = 4 + cmd.usage.length;
  if (rctd) n += putTimeoutsDescriptor(b, n);
  return n;
}
