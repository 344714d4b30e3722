import { Worker, type WorkerOptions } from "node:worker_threads";

/**
 * Start a worker thread from a module next to the caller, whether pvscsi runs from its
 * TypeScript sources (tests, `tsx`) or from the compiled `dist/`. `callerUrl` is the caller's
 * `import.meta.url`; `name` is the module's base name without extension. Under TypeScript the
 * worker starts through `tsx-bootstrap.mjs`, which registers tsx's loader first.
 *
 * @example const w = spawnWorker(import.meta.url, "./backend-worker", { workerData });
 */
export function spawnWorker(callerUrl: string, name: string, options: WorkerOptions = {}): Worker {
  if (!callerUrl.endsWith(".ts")) return new Worker(new URL(`${name}.js`, callerUrl), options);
  // Node 20 does not apply `--import` loaders to a worker's entry module, so a small JS entry
  // registers tsx in the worker and then imports the TypeScript module.
  const target = new URL(`${name}.ts`, callerUrl).href;
  return new Worker(new URL("./tsx-bootstrap.mjs", import.meta.url), {
    ...options,
    argv: [target, ...(options.argv ?? [])],
  });
}
