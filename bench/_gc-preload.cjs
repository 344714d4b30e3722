/**
 * Loaded with `node --require` by `bench/run.ts` into the bench process and, as Node runs
 * `--require` preloads in every worker thread too, into each of pvscsi's workers (dom0's backend,
 * the guests): every garbage collection in any thread is announced on the BroadcastChannel
 * `pvscsi-bench-gc` with its thread, the domain it runs (from its workerData), kind and start
 * time (epoch ms), so the goal-table bench can
 * count the GCs of a steady-state run without touching the product's workers. A thread that
 * collects nothing posts nothing. The channel is unref'd: it keeps no thread alive.
 */
const { isMainThread, threadId, workerData } = require("node:worker_threads");
const { PerformanceObserver, performance } = require("node:perf_hooks");

const channel = new BroadcastChannel("pvscsi-bench-gc");
channel.unref();
globalThis.__pvscsiBenchGcPreload = true;
/**
 * Which domain's worker this is: pvscsi's kernel workers get their boot record as workerData,
 * whose `self` is the domain's handle ("Domain-0", a guest's name); other workers are "worker".
 */
const self = isMainThread ? null : workerData?.self;
const role = isMainThread
  ? "main"
  : typeof self?.name === "string"
    ? `${self.name} (dom${self.domid}, vcpu ${workerData.vcpu ?? 0})`
    : "worker";
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    channel.postMessage({
      threadId,
      main: isMainThread,
      role,
      at: performance.timeOrigin + e.startTime,
      duration: e.duration,
      kind: e.detail?.kind ?? 0,
    });
  }
}).observe({ entryTypes: ["gc"] });
