#!/usr/bin/env node
// Builds a JavaScript game's component: `node sdk/js/build.mjs GAME_DIR`.
//
// Reads GAME_DIR/game.toml for `component` (where the component goes), stages the game's
// src/ (its module is src/game.js; it may import other modules in src/), the SDK and an
// entry module that exports the world's functions in a js-build/ folder beside the
// component, and runs componentize-js there against the repository's wit/ folder. Needs
// `npm ci` in sdk/js first (the Makefile's `js-games` does it).
//
// `-d http fetch-event` as on the command line: without them the component imports
// wasi:http, which Stoa refuses.

import { cp, mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { componentize } from "@bytecodealliance/componentize-js";

const sdkDir = dirname(fileURLToPath(import.meta.url));

function usage(message) {
  console.error(`${message}\nusage: node sdk/js/build.mjs GAME_DIR [--wit WIT_DIR]`);
  process.exit(2);
}

// The `component` key of game.toml's top-level table (before any [table] header).
function componentPath(toml, file) {
  for (const line of toml.split("\n")) {
    if (/^\s*\[/.test(line)) break;
    const m = line.match(/^\s*component\s*=\s*"([^"\\]*)"/);
    if (m) return m[1];
  }
  usage(`${file}: no top-level \`component = "..."\``);
}

async function main() {
  const args = process.argv.slice(2);
  let witDir = resolve(sdkDir, "..", "..", "wit");
  const witAt = args.indexOf("--wit");
  if (witAt >= 0) {
    witDir = resolve(args[witAt + 1] ?? usage("--wit needs a folder"));
    args.splice(witAt, 2);
  }
  if (args.length !== 1) usage("expected one GAME_DIR");
  const gameDir = resolve(args[0]);
  const manifest = join(gameDir, "game.toml");
  const out = resolve(gameDir, componentPath(await readFile(manifest, "utf8"), manifest));
  const src = join(gameDir, "src");
  const outDir = dirname(out);

  // componentize-js lets the engine read only the folder it runs in (or the source's), so
  // the build happens in a staging folder holding the game's src/, the SDK and the entry.
  const staging = join(outDir, "js-build");
  await rm(staging, { recursive: true, force: true });
  await mkdir(join(staging, "sdk"), { recursive: true });
  await cp(src, join(staging, "src"), { recursive: true });
  for (const file of ["stoa.js", "world.js"]) await cp(join(sdkDir, file), join(staging, "sdk", file));
  await stat(join(staging, "src", "game.js")).catch(() => usage(`${src}: no game.js (the game's module)`));
  await writeFile(
    join(staging, "entry.js"),
    `// Written by sdk/js/build.mjs: the component's exports. Do not edit.
import * as game from "./src/game.js";
import { bind } from "./sdk/world.js";

const exports = bind(game);
export const liveMethod = (...args) => exports.liveMethod(...args);
export const errorMessage = (...args) => exports.errorMessage(...args);
export const varsForTemplate = (...args) => exports.varsForTemplate(...args);
export const callLiveMethod = (...args) => exports.callLiveMethod(...args);
export const creatingSession = (...args) => exports.creatingSession(...args);
export const isDisplayed = (...args) => exports.isDisplayed(...args);
export const beforeNextPage = (...args) => exports.beforeNextPage(...args);
export const afterAllPlayersArrive = (...args) => exports.afterAllPlayersArrive(...args);
export const getTimeoutSeconds = (...args) => exports.getTimeoutSeconds(...args);
export const botSubmissions = (...args) => exports.botSubmissions(...args);
`,
  );

  const started = Date.now();
  const here = process.cwd();
  process.chdir(staging);
  const { component } = await componentize({
    sourcePath: join(staging, "entry.js"),
    witPath: witDir,
    worldName: "game",
    disableFeatures: ["http", "fetch-event"],
  });
  process.chdir(here);
  // Written aside and renamed, so a failed build never leaves a component that looks new.
  const partial = `${out}.partial`;
  await writeFile(partial, component);
  await rename(partial, out);
  const mb = (component.length / 1e6).toFixed(1);
  console.log(`${relative(process.cwd(), out)}: ${mb} MB in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

main().catch((e) => {
  console.error(`build failed: ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});
