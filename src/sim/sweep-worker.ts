/**
 * A sweep's worker thread: runs its seed range and posts the {@link SweepResult} back.
 * @module
 */
import { parentPort, workerData } from "node:worker_threads";
import type { Scenario } from "./scenario.js";
import { sweepHere } from "./sweep.js";

const { scenario, from, count } = workerData as { scenario: Scenario; from: number; count: number };
parentPort!.postMessage(sweepHere(scenario, from, count));
