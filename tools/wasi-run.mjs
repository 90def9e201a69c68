// Runs a wasm32-wasip1 program under Node's WASI (V8, as in Envoy).
// Usage: node tools/wasi-run.mjs program.wasm [args...]
// The current directory is preopened under its own absolute path, so a
// program built with paths from CARGO_MANIFEST_DIR can read its files.
// Programs that link the filter library also import the proxy-wasm host
// functions; those are bound to functions that throw, since nothing run
// here may call into a proxy.
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
const imports = wasi.getImportObject();
for (const { module: name, name: field, kind } of WebAssembly.Module.imports(module)) {
  if (kind !== "function" || name in imports && field in imports[name]) continue;
  imports[name] ??= {};
  imports[name][field] = () => {
    throw new Error(`${name}.${field} is only available inside a proxy`);
  };
}
const instance = await WebAssembly.instantiate(module, imports);
// A binary that links the filter library also exports the reactor entry
// `_initialize`, which Node's WASI refuses next to `_start`; run the command.
const { _start, memory } = instance.exports;
exit(wasi.start({ exports: { _start, memory } }) ?? 0);
