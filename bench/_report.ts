import type { Bench } from "tinybench";

/** Print a tinybench run as a table: ops/s, mean latency, relative margin of error, samples. */
export function printBench(title: string, bench: Bench): void {
  process.stdout.write(`${title}\n`);
  const rows = bench.tasks.map((t) => {
    const r = t.result;
    if (r.state !== "completed")
      return { task: t.name, "ops/s": "-", "mean (ns)": "-", "±%": "-", samples: 0 };
    return {
      task: t.name,
      "ops/s": Math.round(r.throughput.mean).toLocaleString("en-US"),
      "mean (ns)": Math.round(r.latency.mean * 1e6).toLocaleString("en-US"),
      "±%": r.latency.rme.toFixed(2),
      samples: r.latency.samplesCount,
    };
  });
  console.table(rows);
}
