/**
 * The incremental benchmark (`deno task bench --scenario incremental`, scripts/bench/incremental.ts) runs
 * end to end on a tiny configuration: every step built three ways, every check passed, one table row per
 * step. Not a measurement (the machine is shared): only that the benchmark works.
 */

import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { GHC, run } from "../support/helpers.ts";

const BENCH = new URL("../../scripts/bench.ts", import.meta.url).pathname;

Deno.test("bench.ts --scenario incremental runs on a small synthetic project", async () => {
  const r = await run("deno", [
    "run",
    "-A",
    BENCH,
    "--scenario",
    "incremental",
    "--project",
    "synthetic",
    "--modules",
    "6",
    "--levels",
    "-O0",
    "--ghc",
    GHC,
  ]);
  assertEquals(r.code, 0, `${r.stdout}\n${r.stderr}`);
  assertMatch(r.stdout, /All checks passed\./);
  const steps = ["from scratch", "no change", "leaf body edit", "mid-graph body edit", "export added"]
    .concat("root export added");
  for (const step of steps) assertMatch(r.stdout, new RegExp(`^\\| ${step} +\\|`, "m"));
  // The no-change step restored every module and compiled none.
  const noChange = r.stdout.match(/^\| no change .*$/m)![0].split("|").map((c) => c.trim());
  assertEquals(noChange[7], "7/0/0");
  assert(Number(noChange[8]) === 7, noChange.join(" | "));
});
