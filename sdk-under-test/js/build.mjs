// Bundles page.js (the official SDK's session entry plus our page-side ops) into one ES
// module, and puts the SDK's core-worker.js beside it, where the bundle looks for it.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "dist");
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(here, "page.js")],
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  outfile: join(out, "bundle.js"),
  logLevel: "warning",
});
copyFileSync(join(here, "node_modules/@prelude.so/js-sdk/dist/inline/core-worker.js"), join(out, "core-worker.js"));
writeFileSync(
  join(out, "index.html"),
  '<!doctype html><meta charset="utf-8"><title>Prelude web SDK under test</title><script type="module" src="/bundle.js"></script>\n',
);
console.error("built", out);
