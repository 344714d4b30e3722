// Entry point of a worker started from TypeScript sources (tests, tsx): register tsx's loader in
// this thread, then import the real worker module, whose URL spawnWorker passed as argv[2].
import { register } from "tsx/esm/api";

register();
const target = process.argv[2];
process.argv.splice(2, 1);
await import(target);
