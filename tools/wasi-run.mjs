// Runs a wasm32-wasip1 program under Node's WASI (V8, as in Envoy).
// Usage: node tools/wasi-run.mjs program.wasm [args...]
// The current directory is preopened under its own absolute path, so a
// program built with paths from CARGO_MANIFEST_DIR can read its files.
import { readFile } from "node:fs/promises";
import { argv, cwd, env, exit } from "node:process";
import { WASI } from "node:wasi";

const [program, ...args] = argv.slice(2);
if (!program) {
  console.error("usage: node tools/wasi-run.mjs program.wasm [args...]");
  exit(2);
}
const here = cwd();
const wasi = new WASI({
  version: "preview1",
  args: [program, ...args],
  env,
  preopens: { [here]: here, ".": here },
  returnOnExit: true,
});
const module = await WebAssembly.compile(await readFile(program));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
exit(wasi.start(instance) ?? 0);
