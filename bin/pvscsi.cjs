#!/usr/bin/env node
// The `pvscsi` command. Plain CommonJS with no syntax newer than ES2015, on purpose: on a Node.js
// older than package.json's `engines` it must still parse and say, in one line, which version it
// needs, instead of failing with a SyntaxError inside the real CLI (dist/cli/main.js).
"use strict";
const REQUIRED = [20, 15];

function tooOld(version) {
  const parts = String(version).split(".").map(Number);
  return parts[0] < REQUIRED[0] || (parts[0] === REQUIRED[0] && parts[1] < REQUIRED[1]);
}

function start() {
  // Bare module names: the `node:` prefix is itself unknown to old releases.
  // biome-ignore lint/style/useNodejsImportProtocol: must load on Node.js releases without `node:`
  const path = require("path");
  // biome-ignore lint/style/useNodejsImportProtocol: must load on Node.js releases without `node:`
  const url = require("url");
  const main = url.pathToFileURL(path.join(__dirname, "..", "dist", "cli", "main.js")).href;
  // Built by Function so that a Node.js without import() reaches the version check, not a SyntaxError.
  const load = new Function("specifier", "return import(specifier)");
  load(main).then(
    (cli) => cli.runCli(process.argv.slice(2)),
    (e) => {
      process.stderr.write(`pvscsi: cannot load ${main} (run \`npm run build\`): ${e.message}\n`);
      process.exitCode = 1;
    },
  );
}

if (tooOld(process.versions.node)) {
  process.stderr.write(`pvscsi: needs Node.js >= ${REQUIRED.join(".")} (this is ${process.versions.node})\n`);
  process.exitCode = 1;
} else {
  start();
}
