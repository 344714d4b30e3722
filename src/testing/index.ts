/**
 * `pvscsi/testing`: the in-memory Xen the project's own tests use, for testing your own ring,
 * frontend or backend code in one thread, deterministically: the whole machine in one thread
 * ({@link LocalSystem}), dom0 and a guest on a bare hypervisor ({@link twoDomains}), a fake guest
 * with grant rules for core tests ({@link FakeGuest}), a scsifront/scsiback pair ({@link Pair}),
 * a hand-driven hostile frontend ({@link RawFront}), and the leak check ({@link assertCleanedUp}).
 * @module
 */
export { type LocalGuest, LocalSystem, type LocalSystemOptions } from "../system/index.js";
export { assertCleanedUp, type CleanupSubject, LeakError } from "./assert-cleaned-up.js";
export {
  type FakeGrant,
  FakeGuest,
  GNTST_bad_gntref,
  GNTST_okay,
  GNTST_permission_denied,
} from "./fake-guest.js";
export { Pair, type PairOptions, rw10, sameBytes } from "./pair.js";
export { RawFront, type RawResponse } from "./raw-front.js";
export { type TwoDomains, twoDomains } from "./two-domains.js";
