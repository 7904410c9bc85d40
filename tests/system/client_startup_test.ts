/**
 * `ghcpw ghc` starts once per compiled module, so what it loads is part of every compile's cost: these
 * check that main.ts and the client load only their own small modules — no node: module (node:util's
 * parseArgs waits for a command line the client's simple parser is unsure of), no npm package (LogTape
 * waits for GHCPW_LOG), no server, pool or Bazel code, nor what only the fallback to the real ghc runs.
 */

import { assert, assertEquals } from "../support/assert.ts";
import { GHC, ghc, run } from "../support/helpers.ts";

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");

/**
 * Modules only a server (or the Bazel worker) needs, and running the real ghc, which a client does only when
 * no server can serve it.
 */
const SERVER_ONLY =
  /\/lib\/((server|pool|compile|plugin|bazel|incremental)\/[\w/]+|log\/log_file|ghc\/run|process\/kill)\.ts$/;

interface InfoModule {
  specifier: string;
  dependencies?: { code?: { specifier: string }; isDynamic?: boolean }[];
}

/** Every module loaded before `entry` runs: its static imports, transitively (dynamic ones wait). */
async function staticImports(entry: string): Promise<string[]> {
  const out = await new Deno.Command("deno", { args: ["info", "--json", entry], cwd: ROOT }).output();
  assert(out.success, new TextDecoder().decode(out.stderr));
  const info: { roots: string[]; modules: InfoModule[] } = JSON.parse(new TextDecoder().decode(out.stdout));
  const bySpecifier = new Map(info.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const visit = (specifier: string) => {
    if (seen.has(specifier)) return;
    seen.add(specifier);
    for (const dep of bySpecifier.get(specifier)?.dependencies ?? []) {
      if (dep.code !== undefined && !dep.isDynamic) visit(dep.code.specifier);
    }
  };
  info.roots.forEach(visit);
  return [...seen];
}

Deno.test("main.ts and the client's modules import no npm package, no node: module, no server or fallback code", async () => {
  const loaded = [...await staticImports("main.ts"), ...await staticImports("lib/commands/ghc.ts")];
  assert(loaded.some((s) => s.endsWith("/lib/client/client.ts")), loaded.join("\n"));
  assertEquals(loaded.filter((s) => !s.startsWith("file:") || SERVER_ONLY.test(s)), []);
});

Deno.test("without GHCPW_LOG the client runs where npm packages cannot be loaded at all", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ghcpw-startup-" });
  try {
    const args = ["--numeric-version"];
    // No server answers on this socket, so the client also walks its fallback path.
    const r = await run(
      "deno",
      [
        "run",
        "-A",
        "--no-npm",
        `${ROOT}/main.ts`,
        "ghc",
        "--socket",
        `${dir}/nobody.sock`,
        "--ghc",
        GHC,
        "--",
        ...args,
      ],
      { cwd: dir, env: { GHCPW_LOG: "" } },
    );
    assertEquals(r, await ghc(args, dir));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
