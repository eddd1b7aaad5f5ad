// Builds the audited crypto (crypto.js: @noble/hashes, @noble/curves) into the verifier page.
//   node web-src/build.mjs            rewrites the bundle between the markers in por/web/verifier.html
//   node web-src/build.mjs --check    exits 1 when the committed page differs from a fresh build
// Versions come from package-lock.json (npm ci); the output is byte-for-byte reproducible.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const page = join(here, "..", "por", "web", "verifier.html");
const BEGIN = "<!-- noble:begin (built by web-src/build.mjs: do not edit) -->";
const END = "<!-- noble:end -->";

const version = (name) => JSON.parse(readFileSync(join(here, "node_modules", ...name.split("/"), "package.json"), "utf8")).version;
const result = await esbuild.build({
  entryPoints: [join(here, "crypto.js")], bundle: true, write: false, format: "iife", globalName: "porCrypto",
  minify: true, target: "es2020", charset: "ascii", legalComments: "none", platform: "browser",
});
const code = result.outputFiles[0].text.trim();
if (/<\/script|<!--/i.test(code)) throw new Error("the bundle holds </script or <!--: it cannot be inlined");
const banner = `/* @noble/hashes ${version("@noble/hashes")} and @noble/curves ${version("@noble/curves")} (MIT, Paul Miller, audited), `
  + `bundled by esbuild ${version("esbuild")} from web-src/crypto.js and web-src/package-lock.json */`;
const block = `${BEGIN}\n<script>\n${banner}\n${code}\n</script>\n${END}`;

const text = readFileSync(page, "utf8");
const start = text.indexOf(BEGIN), stop = text.indexOf(END);
if (start < 0 || stop < start || text.indexOf(BEGIN, start + 1) >= 0) throw new Error(`${page}: expected one ${BEGIN} ... ${END} block`);
const built = text.slice(0, start) + block + text.slice(stop + END.length);
if (process.argv.includes("--check")) {
  if (built !== text) { console.error(`${page} differs from a fresh build: run node web-src/build.mjs`); process.exit(1); }
  console.log(`${page}: the committed bundle is a fresh build`);
} else {
  writeFileSync(page, built);
  console.log(`${page}: bundle ${code.length} bytes`);
}
