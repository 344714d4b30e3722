import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Worker-thread tests spawn their own workers; forks keep each file's Atomics waits isolated.
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
