/**
 * Per-domain limits, so that one guest cannot exhaust the store for everyone. The defaults are
 * xenstored's (`quota_*` in `xenstored_core.c`); the privileged domain is not limited, as in
 * xenstored. `pendingEventsPerConnection` bounds the watch events queued for a connection that
 * does not read them (XSA-349 was an unbounded watch queue): past it, new events are dropped and
 * counted.
 */
export interface XsQuotas {
  /** Nodes a domain may own (xenstored `-E`, 1000). */
  readonly nodesPerDomain: number;
  /** Longest value, in bytes, an unprivileged domain may store (xenstored `-S`, 2048). */
  readonly maxValueSize: number;
  /** Watches a domain may hold (xenstored `-W`, 128). */
  readonly watchesPerDomain: number;
  /** Transactions a domain may have open at once (xenstored `-t`, 10). */
  readonly transactionsPerDomain: number;
  /** Entries in a permission list an unprivileged domain may set (xenstored `-A`, 5). */
  readonly permsPerNode: number;
  /** Watch events queued per connection before new ones are dropped. */
  readonly pendingEventsPerConnection: number;
  /**
   * Nodes an unprivileged domain's transaction may touch, and changes it may log, before its
   * requests fail with `ENOSPC`: a transaction keeps both until it ends, so without a bound a
   * guest could grow them forever (xenstored's transaction-nodes quota, 1024).
   */
  readonly nodesPerTransaction: number;
}

/** xenstored's defaults. */
export const DEFAULT_QUOTAS: XsQuotas = Object.freeze({
  nodesPerDomain: 1000,
  maxValueSize: 2048,
  watchesPerDomain: 128,
  transactionsPerDomain: 10,
  permsPerNode: 5,
  pendingEventsPerConnection: 256,
  nodesPerTransaction: 1024,
});
