/**
 * Soak test: thousands of compiles through one auto-started server from concurrent clients, the way a
 * long build or a week of builds uses it. Reports resident memory (server and workers) over time, and
 * errors and fallbacks, which must both be 0. Not part of the test suites (it takes minutes).
 *
 *   deno run -A scripts/soak.ts [--compiles 2000] [--clients 2] [--ghc ghc] [--jobs 2] [--sample 15]
 *
 * Each client compiles a small project module by module (`-c -fforce-recomp`, so every compile does real
 * work) in a tree of its own, round after round. Clients run strict (GHCPW_STRICT=1), so a fallback to
 * plain ghc shows as a failed compile instead of hiding; the server's own counts of fallbacks and errors
 * are reported too. The server runs in a runtime directory of its own and is stopped at the end.
 *
 * @module
 */

import { parseArgs } from "node:util";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const MAIN = `${ROOT}/main.ts`;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    compiles: { type: "string", default: "2000" },
    clients: { type: "string", default: "2" },
    ghc: { type: "string", default: Deno.env.get("GHCPW_TEST_GHC") || "ghc" },
    jobs: { type: "string", default: "2" },
    sample: { type: "string", default: "15" },
  },
});
const COMPILES = Number(values.compiles);
const CLIENTS = Number(values.clients);
const SAMPLE_MS = Number(values.sample) * 1000;

/** A project of plain modules with imports between them and from containers. */
function project(): { files: Record<string, string>; order: string[] } {
  const files: Record<string, string> = {};
  const order: string[] = [];
  for (let i = 0; i < 12; i++) {
    const name = `Soak${String(i).padStart(2, "0")}`;
    const deps = i === 0 ? [] : [`Soak${String(i - 1).padStart(2, "0")}`];
    files[`${name}.hs`] = `module ${name} (value${i}, table${i}) where

import qualified Data.Map.Strict as Map
${deps.map((d) => `import ${d}`).join("\n")}

data Shape${i} = Circle${i} Double | Rect${i} Double Double deriving (Show, Eq, Ord)

value${i} :: Int
value${i} = ${i === 0 ? "1" : `value${i - 1} + ${i}`}

table${i} :: Map.Map String Int
table${i} = Map.fromList [(show k, k * value${i}) | k <- [1 .. ${10 + i}]]
`;
    order.push(name);
  }
  return { files, order };
}

const decoder = new TextDecoder();

async function ghcpw(args: string[], env: Record<string, string>, cwd?: string) {
  const out = await new Deno.Command("deno", { args: ["run", "-A", MAIN, ...args], env, cwd, stdin: "null" })
    .output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

// deno-lint-ignore no-explicit-any
type Status = any;

async function status(env: Record<string, string>): Promise<Status | null> {
  const r = await ghcpw(["status", "--json"], env);
  if (r.code !== 0) return null;
  return JSON.parse(r.stdout)[0] ?? null;
}

const mib = (bytes: number | null | undefined) => bytes == null ? "?" : (bytes / 2 ** 20).toFixed(0);

async function main(): Promise<number> {
  const root = await Deno.makeTempDir({ prefix: "ghcpw-soak-" });
  await Deno.mkdir(`${root}/rt`, { mode: 0o700 });
  const env = {
    ...Deno.env.toObject(),
    XDG_RUNTIME_DIR: `${root}/rt`,
    XDG_STATE_HOME: `${root}/state`,
    GHCPW_JOBS: values.jobs!,
    GHCPW_STRICT: "1",
  };
  const { files, order } = project();
  for (let c = 0; c < CLIENTS; c++) {
    for (const [path, text] of Object.entries(files)) {
      await Deno.mkdir(`${root}/client${c}`, { recursive: true });
      await Deno.writeTextFile(`${root}/client${c}/${path}`, text);
    }
  }
  console.log(
    `soak: ${COMPILES} compiles from ${CLIENTS} clients, ${values.jobs} workers, ghc ${values.ghc}`,
  );
  console.log(`soak: working in ${root}`);

  let done = 0;
  let errors = 0;
  let fallbacks = 0;
  const failures: string[] = [];
  const latencies: number[] = [];
  const samples: string[] = [];
  const serverRss: number[] = [];
  const started = performance.now();
  let stop = false;

  const sampler = (async () => {
    const row = async () => {
      const s = await status(env);
      const workers = (s?.workers ?? []) as { rssBytes: number | null }[];
      const workerRss = workers.reduce((n, w) => n + (w.rssBytes ?? 0), 0);
      if (typeof s?.rssBytes === "number") serverRss.push(s.rssBytes);
      const line = [
        ((performance.now() - started) / 1000).toFixed(0).padStart(6),
        String(done).padStart(8),
        mib(s?.rssBytes).padStart(10),
        mib(s?.heapUsedBytes).padStart(9),
        mib(workerRss).padStart(11),
        workers.map((w) => mib(w.rssBytes)).join("/").padStart(16),
        String(s?.totals?.workersStarted ?? "?").padStart(8),
      ].join(" ");
      samples.push(line);
      console.log(line);
    };
    console.log(
      ["time s", "compiles", "server MiB", "heap MiB", "workers MiB", "each MiB", "started"].map((h, i) =>
        h.padStart([6, 8, 10, 9, 11, 16, 8][i])
      )
        .join(" "),
    );
    while (!stop) {
      await row();
      const until = performance.now() + SAMPLE_MS;
      while (!stop && performance.now() < until) await new Promise((r) => setTimeout(r, 200));
    }
    await row();
  })();

  const client = async (c: number) => {
    const cwd = `${root}/client${c}`;
    for (let i = 0; done < COMPILES; i++) {
      const module = order[i % order.length];
      done++;
      const t0 = performance.now();
      const r = await ghcpw(
        ["ghc", "--ghc", values.ghc!, "--", "-c", "-fforce-recomp", `${module}.hs`],
        env,
        cwd,
      );
      latencies.push(performance.now() - t0);
      if (r.code === 2 && /GHCPW_STRICT/.test(r.stderr)) {
        fallbacks++;
        failures.push(`fallback on ${module}: ${r.stderr.trim()}`);
      } else if (r.code !== 0 || r.stderr !== "" || r.stdout !== "") {
        errors++;
        failures.push(`exit ${r.code} on ${module}: ${r.stderr.trim()}`);
      }
    }
  };
  // The first client starts the server (auto-start); the others join as it runs.
  await Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)));
  stop = true;
  await sampler;

  const final = await status(env);
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))].toFixed(0);
  console.log("");
  console.log(`compiles:          ${done} in ${seconds.toFixed(0)} s (${(done / seconds).toFixed(1)}/s)`);
  console.log(`client latency:    p50 ${pct(0.5)} ms, p90 ${pct(0.9)} ms, p99 ${pct(0.99)} ms`);
  console.log(`client errors:     ${errors}`);
  console.log(`client fallbacks:  ${fallbacks}`);
  console.log(`server totals:     ${JSON.stringify(final?.totals ?? null)}`);
  console.log(`server recycles:   ${JSON.stringify(final?.pool?.recycled ?? null)}`);
  console.log(
    `server memory:     ${mib(serverRss[0])} MiB first sample, ${mib(Math.max(...serverRss))} MiB peak, ` +
      `${mib(final?.rssBytes)} MiB at end`,
  );
  for (const f of failures.slice(0, 10)) console.log(`  ${f}`);

  await ghcpw(["stop"], env);
  await Deno.remove(root, { recursive: true }).catch(() => {});
  const serverFallbacks = final?.totals?.fallbacks ?? 0;
  const serverErrors = final?.totals?.errors ?? 0;
  return errors + fallbacks + serverFallbacks + serverErrors === 0 && final !== null ? 0 : 1;
}

Deno.exit(await main());
