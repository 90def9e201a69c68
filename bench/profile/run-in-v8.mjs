// Runs the request loop of PROFILE.wasm (bench/profile built for
// wasm32-wasip1) in Node's V8. The proxy-wasm host functions the filter
// imports are stubbed: the loop never calls them.
//   node --cpu-prof run-in-v8.mjs PROFILE.wasm DIR ITERATIONS
import { readFile } from "node:fs/promises";
import { WASI } from "node:wasi";

const [wasmPath, dir, iterations] = process.argv.slice(2);
const wasi = new WASI({ version: "preview1", preopens: { ".": dir }, args: [], env: {} });
const module = await WebAssembly.compile(await readFile(wasmPath));
const env = {};
for (const entry of WebAssembly.Module.imports(module)) {
  if (entry.module === "env" && entry.kind === "function") {
    env[entry.name] = () => 0;
  }
}
const instance = await WebAssembly.instantiate(module, { wasi_snapshot_preview1: wasi.wasiImport, env });
wasi.initialize(instance);
// A warm-up run lets V8 tier the hot functions up first.
instance.exports.profile_run(Math.max(1, Math.floor(Number(iterations) / 10)));
const ns = instance.exports.profile_run(Number(iterations));
console.log(`${ns} ns per request in V8`);
