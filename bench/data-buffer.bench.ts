/**
 * Why DataBuffer copies a 4 KiB segment with `set(subarray)` rather than a byte loop: the one
 * allocation on the data path (a transient view) against the cost of copying in JavaScript. Also
 * the 64-byte threshold below which a loop wins.
 */
import { Bench } from "tinybench";
import { DataBuffer } from "../src/scsi/data-buffer.js";
import { printBench } from "./_report.js";

const guest = new Uint8Array(new SharedArrayBuffer(64 * 4096));
const store = new Uint8Array(1 << 20);
const buf = new DataBuffer(32);
buf.reset(true);
for (let i = 0; i < 32; i++) buf.add(guest, i * 4096 * 2, 4096);

function loopCopy(src: Uint8Array, s: number, dst: Uint8Array, d: number, n: number): void {
  for (let i = 0; i < n; i++) dst[d + i] = src[s + i]!;
}

const bench = new Bench({ time: 1000, warmupTime: 200 });
let off = 0;
bench
  .add("4 KiB: set(subarray) (DataBuffer.write)", () => {
    buf.write(0, store, off, 4096);
    off = (off + 4096) & 0xfffff;
  })
  .add("4 KiB: byte loop", () => {
    loopCopy(store, off, guest, 0, 4096);
    off = (off + 4096) & 0xfffff;
  })
  .add("48 B: byte loop", () => loopCopy(store, 100, guest, 0, 48))
  .add("48 B: set(subarray)", () => guest.set(store.subarray(100, 148), 0))
  .add("128 B: byte loop", () => loopCopy(store, 100, guest, 0, 128))
  .add("128 B: set(subarray)", () => guest.set(store.subarray(100, 228), 0))
  .add("4 KiB zero fill of guest memory: TypedArray.fill", () => guest.fill(0, 0, 4096))
  .add("4 KiB zero fill of guest memory: DataBuffer.fill", () => buf.fill(0, 0, 4096));
await bench.run();
printBench("copying into guest memory", bench);
const ops = Object.fromEntries(
  bench.tasks.map((t) => [t.name, t.result.state === "completed" ? t.result.throughput.mean : Number.NaN]),
);
const r = (a: string, b: string) => (ops[a]! / ops[b]!).toFixed(2);
console.log(
  `4 KiB: set(subarray) / byte loop = ${r("4 KiB: set(subarray) (DataBuffer.write)", "4 KiB: byte loop")}x`,
);
console.log(`48 B: byte loop / set(subarray) = ${r("48 B: byte loop", "48 B: set(subarray)")}x`);
console.log(`128 B: byte loop / set(subarray) = ${r("128 B: byte loop", "128 B: set(subarray)")}x`);
console.log(
  `4 KiB zero fill: DataBuffer.fill / TypedArray.fill on shared memory = ${r("4 KiB zero fill of guest memory: DataBuffer.fill", "4 KiB zero fill of guest memory: TypedArray.fill")}x`,
);
