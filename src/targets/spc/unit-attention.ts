/**
 * The unit attention conditions pending for one I_T nexus on one logical unit (SAM-5 §5.14,
 * SPC-4 §5.14), reported oldest first. A fixed ring of packed sense codes: queuing and reporting
 * allocate nothing.
 *
 * A condition already pending is not queued twice. When the ring is full the newest condition
 * is dropped, except a POWER ON/RESET condition, which replaces everything: a reset makes older
 * conditions moot (QEMU `scsi-bus.c scsi_ua_precedence` ranks it first for the same reason).
 */
export class UnitAttentionQueue {
  /** How many conditions one nexus can have pending. */
  static readonly CAPACITY = 8;
  private readonly codes = new Int32Array(UnitAttentionQueue.CAPACITY);
  private head = 0;
  /** Number of pending conditions. */
  count = 0;

  /** Queue `code` (a packed 06/xx/yy sense code). */
  push(code: number): void {
    if ((code & 0xffff00) === 0x062900) this.clear();
    for (let i = 0; i < this.count; i++) {
      if (this.codes[(this.head + i) % UnitAttentionQueue.CAPACITY] === code) return;
    }
    if (this.count === UnitAttentionQueue.CAPACITY) return;
    this.codes[(this.head + this.count) % UnitAttentionQueue.CAPACITY] = code;
    this.count++;
  }

  /** The oldest pending condition, or -1. */
  peek(): number {
    return this.count === 0 ? -1 : this.codes[this.head]!;
  }

  /** Remove and return the oldest pending condition, or -1. */
  shift(): number {
    if (this.count === 0) return -1;
    const c = this.codes[this.head]!;
    this.head = (this.head + 1) % UnitAttentionQueue.CAPACITY;
    this.count--;
    return c;
  }

  /** Remove every pending `code` (REPORT LUNS clears REPORTED LUNS DATA HAS CHANGED). */
  remove(code: number): void {
    let kept = 0;
    for (let i = 0; i < this.count; i++) {
      const c = this.codes[(this.head + i) % UnitAttentionQueue.CAPACITY]!;
      if (c !== code) this.codes[(this.head + kept++) % UnitAttentionQueue.CAPACITY] = c;
    }
    this.count = kept;
  }

  /** Drop every pending condition. */
  clear(): void {
    this.head = 0;
    this.count = 0;
  }
}
