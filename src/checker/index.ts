/**
 * Protocol checkers: they read only shared state (a ring page, a grant table) and report which
 * rule a driver broke, for which request, as a list. For C drivers running as wasm kernels and
 * for pvscsi's own TypeScript drivers alike.
 * @module
 */
export {
  VscsiifFrontChecker,
  type VscsiifFrontCheckerOptions,
  type VscsiifRule,
  type VscsiifViolation,
} from "./vscsiif-checker.js";
