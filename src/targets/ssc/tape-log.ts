import { put16, put64 } from "../../scsi/cdb.js";

/** Log pages a tape drive reports (SPC-4 and SSC-3 log pages), in ascending order. */
export const TAPE_LOG_PAGES = [0x00, 0x02, 0x03, 0x0c, 0x2e] as const;

/** Log page codes. */
export const LOG_SUPPORTED_PAGES = 0x00;
export const LOG_WRITE_ERRORS = 0x02;
export const LOG_READ_ERRORS = 0x03;
export const LOG_SEQUENTIAL_ACCESS = 0x0c;
export const LOG_TAPE_ALERT = 0x2e;

/** TapeAlert flags pvscsi raises (SSC-3 Annex A / TapeAlert specification). */
export const TAPE_ALERT_READ_FAILURE = 4; // "media": a read could not be recovered
export const TAPE_ALERT_WRITE_FAILURE = 5;
export const TAPE_ALERT_WRITE_PROTECT = 9;

/** Counters behind the write, read and sequential-access pages, since power-on or LOG SELECT. */
export class TapeCounters {
  bytesFromInitiator = 0;
  bytesWrittenToMedium = 0;
  bytesReadFromMedium = 0;
  bytesToInitiator = 0;
  uncorrectedReadErrors = 0;
  uncorrectedWriteErrors = 0;
  /** TapeAlert flags 1..64 (index = flag); reading the page clears them (SSC-3 TapeAlert log page). */
  readonly alerts = new Uint8Array(65);

  reset(): void {
    this.bytesFromInitiator = 0;
    this.bytesWrittenToMedium = 0;
    this.bytesReadFromMedium = 0;
    this.bytesToInitiator = 0;
    this.uncorrectedReadErrors = 0;
    this.uncorrectedWriteErrors = 0;
    this.alerts.fill(0);
  }
}

/** Highest parameter code of each page (for the PARAMETER POINTER check). */
export function lastParameterCode(page: number): number {
  switch (page) {
    case LOG_WRITE_ERRORS:
    case LOG_READ_ERRORS:
      return 0x0006;
    case LOG_SEQUENTIAL_ACCESS:
      return 0x0100;
    case LOG_TAPE_ALERT:
      return 0x0040;
    default:
      return 0;
  }
}

/**
 * Write log page `page` for page control `pc` starting at parameter code `pointer` into `b`;
 * returns its length. Counters are reported for PC 01b (cumulative values); the threshold and
 * default pages (PC 00b, 10b, 11b) carry zeros. TapeAlert flags are cleared once reported.
 */
export function writeLogPage(
  b: Uint8Array,
  page: number,
  pc: number,
  pointer: number,
  c: TapeCounters,
): number {
  b[0] = page;
  b[1] = 0;
  let n = 4;
  const live = pc === 1;
  const counter = (code: number, value: number) => {
    if (code < pointer) return;
    put16(b, n, code);
    b[n + 2] = 0x00; // bounded data counter (SPC-4 parameter control byte)
    b[n + 3] = 8;
    put64(b, n + 4, live ? value : 0);
    n += 12;
  };
  if (page === LOG_SUPPORTED_PAGES) {
    for (const p of TAPE_LOG_PAGES) b[n++] = p;
  } else if (page === LOG_WRITE_ERRORS || page === LOG_READ_ERRORS) {
    // SPC-4 error counter pages: corrected without/with delay, rewrites/rereads, total corrected, times the
    // algorithm ran, bytes processed, total uncorrected.
    const write = page === LOG_WRITE_ERRORS;
    for (let code = 0; code <= 4; code++) counter(code, 0);
    counter(5, write ? c.bytesWrittenToMedium : c.bytesReadFromMedium);
    counter(6, write ? c.uncorrectedWriteErrors : c.uncorrectedReadErrors);
  } else if (page === LOG_SEQUENTIAL_ACCESS) {
    // SSC-3 Sequential-Access Device log page: bytes in from the initiator, to the medium, from the medium, out to the
    // initiator (no compression, so in = to and from = out), then the cleaning-required flag.
    counter(0, c.bytesFromInitiator);
    counter(1, c.bytesWrittenToMedium);
    counter(2, c.bytesReadFromMedium);
    counter(3, c.bytesToInitiator);
    if (pointer <= 0x0100) {
      put16(b, n, 0x0100);
      b[n + 2] = 0x03; // binary list
      b[n + 3] = 1;
      b[n + 4] = 0;
      n += 5;
    }
  } else if (page === LOG_TAPE_ALERT) {
    for (let flag = 1; flag <= 64; flag++) {
      if (flag < pointer) continue;
      put16(b, n, flag);
      b[n + 2] = 0x03; // binary format list (SSC-3 Table TapeAlert)
      b[n + 3] = 1;
      b[n + 4] = live ? c.alerts[flag]! : 0;
      n += 5;
    }
    if (live) c.alerts.fill(0);
  }
  put16(b, 2, n - 4);
  return n;
}
