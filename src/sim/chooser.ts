/**
 * Where a run's choices come from: drawn from the seeded {@link Prng} (and recorded), or replayed
 * from a recorded sequence. A run is a pure function of its scenario and its choice sequence; the
 * seed only generates the sequence. Shrinking edits the sequence: a replayed value is taken
 * modulo the number of options it now chooses among, and an exhausted sequence answers 0.
 * @module
 */
import { Prng } from "./prng.js";

/** The simulator's choice source. */
export class Chooser {
  /** Every choice made so far, in order (a replay file stores these). */
  readonly taken: number[] = [];
  private readonly prng: Prng | null;
  private at = 0;

  private constructor(
    seed: number | null,
    private readonly script: readonly number[] | null,
  ) {
    this.prng = seed === null ? null : new Prng(seed);
  }

  /** Choices drawn from a PRNG seeded with `seed`. */
  static seeded(seed: number): Chooser {
    return new Chooser(seed, null);
  }

  /** Choices replayed from `script`. */
  static replay(script: readonly number[]): Chooser {
    return new Chooser(null, script);
  }

  /** A choice in `[0, n)`. */
  pick(n: number): number {
    let v: number;
    if (this.prng !== null) v = this.prng.below(n);
    else v = this.at < this.script!.length ? this.script![this.at]! % n : 0;
    this.at++;
    this.taken.push(v);
    return v;
  }
}
