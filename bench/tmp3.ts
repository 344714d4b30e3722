import { Host } from "../src/toolstack/host.js";

const host = await Host.start({
  pollMode: true,
  hostConfig: { text: "[disk 0:0:0:0]\nsize = 256M\n", source: "b", baseDir: "/tmp" },
});
await host.create(`name = "g"\nmemory = 64\nvscsi = [ '0:0:0:0,0:0:0:0' ]\n`, "g.cfg");
const r = await host.guestCommand("g", ["iobench", "--runtime=3", "--bs=4k", "/dev/sda"]);
console.log(r.stdout);
await host.shutdown();
