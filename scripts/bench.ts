/**
 * The end-to-end benchmark of ghcpw: generates a synthetic project (scripts/gen_project.ts) and, for each
 * flag configuration and job count, builds it three ways from fresh copies of the sources: one cold
 * `ghc -c` process per module in dependency order, the same commands through `ghcpw ghc --` against a
 * freshly started `ghcpw serve -n JOBS`, and `ghc --make -jJOBS`. It prints a table of wall times and
 * ratios, and checks the warm results against the cold ones (interface files byte for byte, compiler
 * output, and the linked program's output), printing every mismatch loudly.
 *
 * Run `deno task bench --help` for the command line.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { generateProject, type ModuleSpec, type Project, writeProject } from "./gen_project.ts";

/** ghcpw's entry point (this checkout's), run with `deno run -A` for the server and every client call. */
export const GHCPW_MAIN = new URL("../main.ts", import.meta.url).pathname;

/** The flag configurations measured when no `--flags` is given. */
export const DEFAULT_FLAGS = ["-O0", "-O0 -dynamic-too", "-fno-code -fwrite-interface", "-O1"];

/** One configuration: the GHC flags of every compile, and whether the project has the TH modules. */
export interface BenchConfig {
  flags: string[];
  th: boolean;
}

/** The benchmark's options, from the command line. */
export interface BenchOptions {
  modules: number;
  ghc: string;
  /** The ghcpw entry point to benchmark (main.ts). */
  ghcpwMain: string;
  jobs: number[];
  configs: BenchConfig[];
  seed: number;
  keep: boolean;
  sharedServer: boolean;
  verbose: boolean;
}

/** A finished process: how long it ran (spawn to exit) and what it printed. */
export interface Timed {
  ms: number;
  code: number;
  stdout: string;
  stderr: string;
}

/** One build: its wall time, each compile's result, and the first failure if any. */
export interface BuildResult {
  wallMs: number;
  steps: Map<string, Timed>;
  failure: string | null;
}

/** A running `ghcpw serve`: its socket and every line it has logged so far. */
export interface RunningServer {
  child: Deno.ChildProcess;
  socket: string;
  log: string[];
  /** Resolves once the server's stderr has been read to the end. */
  drained: Promise<void>;
}

/** The measurements and findings of one configuration at one job count. */
export interface ConfigResult {
  config: BenchConfig;
  jobs: number;
  modules: number;
  cold: BuildResult;
  ghcpw: BuildResult | null;
  make: BuildResult | null;
  mismatches: string[];
  notes: string[];
}

export const BENCH_HELP = `bench.ts: benchmark ghcpw against cold ghc -c and ghc --make

Usage: deno task bench [OPTIONS]
       deno run -A scripts/bench.ts [OPTIONS]

Generates a synthetic project (scripts/gen_project.ts) in a temporary directory
and, for every flag configuration and job count, builds it from fresh copies:
  cold   one 'ghc -c FLAGS' process per module, in dependency order (with
         -jobs 2, two at a time as the module graph allows)
  ghcpw  the same commands through 'ghcpw ghc --' (GHCPW_STRICT=1), against a
         'ghcpw serve -n JOBS' started just before (not warmed up)
  make   'ghc --make -jJOBS -no-link FLAGS'
Then it prints wall times and ratios, and checks that ghcpw's .hi/.dyn_hi files
are byte-identical to the cold ones, that both printed the same diagnostics, and
(where object code is produced) that the linked programs print the same.
Configurations with -dynamic-too (and without -fno-code) include the Template
Haskell modules, which a dynamically linked GHC needs -dynamic-too for.

Options:
  --modules N      ordinary modules in the project (default 30; plus Main, plus
                   3 TH modules where included)
  --ghc PATH       the ghc to benchmark (default: $GHCPW_GHC, else ghc)
  --ghcpw-main PATH
                   the ghcpw main.ts to benchmark (default: this checkout's)
  --jobs LIST      job counts, comma-separated or repeated (default 1,2)
  --flags FLAGS    one configuration's GHC flags, e.g. --flags "-O0"; repeat for
                   several (default: ${DEFAULT_FLAGS.map((f) => `"${f}"`).join(", ")})
  --seed N         the generator's seed (default 1)
  --shared-server  one server per job count for all configurations, instead of a
                   fresh server per configuration
  --keep           keep the temporary directory (its path is printed)
  -v, --verbose    show every compile and the server's log on stderr
  -h, --help       show this help

Exit code: 0 if every build succeeded and every check passed, 1 otherwise.
`;

/**
 * Joins `--flags VALUE` into `--flags=VALUE`: parseArgs refuses a separate value that starts with a dash,
 * and GHC flags always do.
 */
export function attachDashValues(args: readonly string[], options: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (options.includes(args[i]) && i + 1 < args.length) out.push(`${args[i]}=${args[++i]}`);
    else out.push(args[i]);
  }
  return out;
}

/** Parses the command line (null for --help); throws with a message naming the bad option. */
export function parseBenchArgs(args: string[]): BenchOptions | null {
  const { values } = parseArgs({
    args: attachDashValues(args, ["--flags"]),
    options: {
      modules: { type: "string" },
      ghc: { type: "string" },
      "ghcpw-main": { type: "string" },
      jobs: { type: "string", multiple: true },
      flags: { type: "string", multiple: true },
      seed: { type: "string" },
      "shared-server": { type: "boolean" },
      keep: { type: "boolean" },
      verbose: { type: "boolean", short: "v" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) return null;
  const whole = (option: string, text: string, min: number) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min) {
      throw new Error(`${option} needs a whole number >= ${min}, got "${text}"`);
    }
    return n;
  };
  const jobs = (values.jobs ?? ["1,2"]).flatMap((j) => j.split(",")).map((j) => whole("--jobs", j.trim(), 1));
  return {
    modules: whole("--modules", values.modules ?? "30", 1),
    ghc: values.ghc ?? (Deno.env.get("GHCPW_GHC") || "ghc"),
    ghcpwMain: values["ghcpw-main"] ?? GHCPW_MAIN,
    jobs: [...new Set(jobs)],
    configs: (values.flags ?? DEFAULT_FLAGS).map(configFor),
    seed: whole("--seed", values.seed ?? "1", 0),
    keep: values.keep ?? false,
    sharedServer: values["shared-server"] ?? false,
    verbose: values.verbose ?? false,
  };
}

/** A configuration from a flags string; TH modules only where one-shot TH works (-dynamic-too, code). */
export function configFor(flags: string): BenchConfig {
  const list = flags.split(/\s+/).filter((f) => f !== "");
  return { flags: list, th: list.includes("-dynamic-too") && !list.includes("-fno-code") };
}

/** Whether a configuration produces object code (so there is a program to link and run). */
function producesCode(config: BenchConfig): boolean {
  return !config.flags.includes("-fno-code");
}

/** The median of some numbers (NaN for none). */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Runs a command to completion, timing it from spawn to exit and collecting its output. */
export async function timeCommand(
  cmd: string,
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<Timed> {
  const started = performance.now();
  const out = await new Deno.Command(cmd, { args, cwd, env, stdin: "null", stdout: "piped", stderr: "piped" })
    .output();
  const ms = performance.now() - started;
  const decoder = new TextDecoder();
  return { ms, code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** How a build runs one GHC invocation: with the real ghc, or through the ghcpw client. */
export type GhcRunner = (args: string[], cwd: string) => Promise<Timed>;

/** Runs the real ghc. */
export function coldRunner(ghc: string): GhcRunner {
  return (args, cwd) => timeCommand(ghc, args, cwd);
}

/** Runs `ghcpw ghc --` against the given socket, strictly (no silent fallback to ghc). */
export function ghcpwRunner(ghcpwMain: string, ghc: string, socket: string): GhcRunner {
  return (args, cwd) =>
    timeCommand(
      Deno.execPath(),
      ["run", "-A", ghcpwMain, "ghc", "--socket", socket, "--ghc", ghc, "--", ...args],
      cwd,
      { GHCPW_STRICT: "1" },
    );
}

/**
 * Runs `task` for every name in `order`, at most `jobs` at a time, starting a name only once all its
 * `deps` have finished (ready names in `order`'s order). After a result `ok` rejects, starts nothing new.
 */
export async function runDag<T>(
  order: readonly string[],
  deps: ReadonlyMap<string, readonly string[]>,
  jobs: number,
  task: (name: string) => Promise<T>,
  ok: (result: T) => boolean,
): Promise<Map<string, T>> {
  const waiting = new Map(order.map((name) => [name, new Set(deps.get(name) ?? [])]));
  const results = new Map<string, T>();
  const running = new Set<Promise<void>>();
  let failed = false;
  const start = (name: string) => {
    waiting.delete(name);
    const run: Promise<void> = task(name).then((result) => {
      results.set(name, result);
      if (!ok(result)) failed = true;
      for (const left of waiting.values()) left.delete(name);
    }).finally(() => running.delete(run));
    running.add(run);
  };
  for (;;) {
    if (!failed) {
      for (const name of order) {
        if (running.size >= jobs) break;
        if (waiting.get(name)?.size === 0) start(name);
      }
    }
    if (running.size === 0) return results;
    await Promise.race(running);
  }
}

/** The one-shot arguments compiling one module: outputs and imported interfaces under `out/`. */
export function oneShotArgs(config: BenchConfig, spec: ModuleSpec): string[] {
  return ["-c", ...config.flags, "-iout", "-odir", "out", "-hidir", "out", spec.file];
}

/** Writes a progress line to stderr (overwriting the previous one on a terminal when `transient`). */
function progress(text: string, transient = false): void {
  const encoder = new TextEncoder();
  if (Deno.stderr.isTerminal()) {
    Deno.stderr.writeSync(encoder.encode(`\r\x1b[K${text}${transient ? "" : "\n"}`));
  } else if (!transient) {
    Deno.stderr.writeSync(encoder.encode(`${text}\n`));
  }
}

/** Builds the project in `dir` module by module with `runner`, `jobs` compiles at a time. */
export async function buildOneShot(
  dir: string,
  project: Project,
  config: BenchConfig,
  jobs: number,
  runner: GhcRunner,
  label: string,
  verbose: boolean,
): Promise<BuildResult> {
  const specs = new Map(project.modules.map((m) => [m.name, m]));
  const deps = new Map(project.modules.map((m) => [m.name, m.imports]));
  let done = 0;
  const started = performance.now();
  const steps = await runDag(project.order, deps, jobs, async (name) => {
    const result = await runner(oneShotArgs(config, specs.get(name)!), dir);
    done++;
    const line = `  ${label}: ${done}/${project.order.length} ${name} ${result.ms.toFixed(0)} ms`;
    // Every compile with -v, else a line overwritten in place on a terminal, or every tenth in a log.
    if (verbose || (!Deno.stderr.isTerminal() && done % 10 === 0)) progress(line);
    else progress(line, true);
    return result;
  }, (r) => r.code === 0);
  const wallMs = performance.now() - started;
  progress(`  ${label}: ${steps.size} compiles in ${(wallMs / 1000).toFixed(2)} s`);
  const bad = [...steps].find(([, r]) => r.code !== 0);
  const failure = bad
    ? `${label}: compiling ${bad[0]} exited with ${bad[1].code}:\n${bad[1].stdout}${bad[1].stderr}`
    : steps.size < project.order.length
    ? `${label}: only ${steps.size} of ${project.order.length} modules were compiled`
    : null;
  return { wallMs, steps, failure };
}

/** Builds the project in `dir` with one `ghc --make -jJOBS -no-link` (no link, like the one-shot builds). */
export async function buildMake(
  dir: string,
  project: Project,
  config: BenchConfig,
  jobs: number,
  ghc: string,
): Promise<BuildResult> {
  const main = project.modules.find((m) => m.name === project.main)!;
  const args = ["--make", `-j${jobs}`, "-no-link", ...config.flags, "-isrc", "-odir", "out", "-hidir", "out"];
  const result = await timeCommand(ghc, [...args, main.file], dir);
  progress(`  ghc --make -j${jobs}: ${(result.ms / 1000).toFixed(2)} s`);
  return {
    wallMs: result.ms,
    steps: new Map([["--make", result]]),
    failure: result.code === 0 ? null : `ghc --make exited with ${result.code}:\n${result.stderr}`,
  };
}

/**
 * Starts `ghcpw serve` on `socket` with `jobs` workers and resolves once it says "Serving GHC"; its log
 * (at debug level, so deferrals to plain ghc are visible) is kept in memory.
 */
export async function startServer(
  ghcpwMain: string,
  ghc: string,
  socket: string,
  jobs: number,
  verbose: boolean,
): Promise<RunningServer> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ghcpwMain, "serve", "--socket", socket, "-n", String(jobs), "--ghc", ghc, "-v"],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const log: string[] = [];
  const ready = Promise.withResolvers<void>();
  const drained = (async () => {
    let pending = "";
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      pending += chunk;
      let newline;
      while ((newline = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        log.push(line);
        if (verbose) progress(`    server: ${line}`);
        if (line.includes("Serving GHC")) ready.resolve();
      }
    }
    if (pending !== "") log.push(pending);
    ready.reject(new Error(`ghcpw serve exited before it was ready:\n${log.join("\n")}`));
  })();
  const timeout = setTimeout(() => ready.reject(new Error("ghcpw serve was not ready after 300 s")), 300_000);
  try {
    await ready.promise;
  } catch (e) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await child.status;
    throw e;
  } finally {
    clearTimeout(timeout);
  }
  return { child, socket, log, drained };
}

/** Stops a server with SIGTERM (it finishes running compiles), or SIGKILL if it takes over 20 s. */
export async function stopServer(server: RunningServer): Promise<void> {
  try {
    server.child.kill("SIGTERM");
  } catch {
    return; // already exited
  }
  const timer = setTimeout(() => {
    try {
      server.child.kill("SIGKILL");
    } catch {
      // exited meanwhile
    }
  }, 20_000);
  await server.child.status;
  clearTimeout(timer);
  await server.drained.catch(() => {});
}

/** Server log lines that mean ghcpw did not serve a request on a warm worker, or something went wrong. */
export function serverProblems(lines: readonly string[]): string[] {
  return lines.filter((line) =>
    line.includes("Worker deferred to ghc") || line.includes("Running ghc directly") ||
    /\[(WRN|ERR|FTL)\]/.test(line)
  );
}

/** Every file under `dir` (relative paths) whose name ends with one of `suffixes`. */
export async function listFiles(dir: string, suffixes: readonly string[], prefix = ""): Promise<string[]> {
  const found: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(`${dir}/${prefix}`));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  for (const entry of entries) {
    const rel = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory) found.push(...await listFiles(dir, suffixes, rel));
    else if (suffixes.some((s) => entry.name.endsWith(s))) found.push(rel);
  }
  return found.sort();
}

/**
 * Compares the interface files under two output directories byte for byte; returns how many were
 * compared and a description of each difference (missing on either side, or different bytes).
 */
export async function compareInterfaces(
  expectedDir: string,
  actualDir: string,
): Promise<{ compared: number; differences: string[] }> {
  const suffixes = [".hi", ".dyn_hi"];
  const expected = await listFiles(expectedDir, suffixes);
  const actual = new Set(await listFiles(actualDir, suffixes));
  const differences: string[] = [];
  for (const file of expected) {
    if (!actual.delete(file)) {
      differences.push(`${file}: missing`);
      continue;
    }
    const [a, b] = await Promise.all([
      Deno.readFile(`${expectedDir}/${file}`),
      Deno.readFile(`${actualDir}/${file}`),
    ]);
    if (a.length !== b.length || a.some((byte, i) => byte !== b[i])) {
      differences.push(`${file}: contents differ (${a.length} vs ${b.length} bytes)`);
    }
  }
  for (const extra of actual) differences.push(`${extra}: not produced by the cold build`);
  return { compared: expected.length, differences };
}

/** Compares what each module's compile printed in two builds; returns the modules whose output differs. */
export function compareDiagnostics(expected: BuildResult, actual: BuildResult): string[] {
  const differences: string[] = [];
  for (const [name, cold] of expected.steps) {
    const warm = actual.steps.get(name);
    if (warm === undefined) continue;
    if (warm.stdout !== cold.stdout || warm.stderr !== cold.stderr) {
      differences.push(
        `${name}: output differs\n--- cold:\n${cold.stdout}${cold.stderr}` +
          `--- ghcpw:\n${warm.stdout}${warm.stderr}`,
      );
    }
  }
  return differences;
}

/** The object file of a module under `out/`, as one-shot and --make builds with -odir out name it. */
export function objectFile(name: string): string {
  return `out/${name.replaceAll(".", "/")}.o`;
}

/** Links the project's objects in `dir` into `dir/prog` with `runner`, then runs the program. */
export async function linkAndRun(
  dir: string,
  project: Project,
  config: BenchConfig,
  runner: GhcRunner,
): Promise<{ link: Timed; run: Timed | null }> {
  const packages = ["-package", "containers", ...(config.th ? ["-package", "template-haskell"] : [])];
  const link = await runner(["-o", "prog", ...packages, ...project.order.map(objectFile)], dir);
  if (link.code !== 0) return { link, run: null };
  return { link, run: await timeCommand(`${dir}/prog`, [], dir) };
}

/** A short directory name for a configuration, e.g. `O0_dynamic-too`. */
function slug(config: BenchConfig): string {
  return config.flags.map((f) => f.replace(/^-+/, "")).join("_") || "default";
}

/** Things to clean up if the benchmark is interrupted. */
const live = { servers: new Set<RunningServer>(), tmp: null as string | null, keep: false };

/** Stops every server still running and removes the temporary directory (unless --keep). */
async function cleanUp(): Promise<void> {
  await Promise.all([...live.servers].map(stopServer));
  live.servers.clear();
  if (live.tmp !== null && !live.keep) await Deno.remove(live.tmp, { recursive: true }).catch(() => {});
}

/** Serves one configuration with a server: the given shared one, or a fresh one stopped afterwards. */
async function withServer<T>(
  shared: RunningServer | null,
  start: () => Promise<RunningServer>,
  use: (server: RunningServer) => Promise<T>,
): Promise<T> {
  const server = shared ?? await start();
  try {
    return await use(server);
  } finally {
    if (shared === null) {
      await stopServer(server);
      live.servers.delete(server);
    }
  }
}

/** Measures one configuration at one job count: the three builds, then the checks. */
export async function benchConfig(
  tmp: string,
  options: BenchOptions,
  config: BenchConfig,
  jobs: number,
  server: () => Promise<RunningServer>,
  shared: RunningServer | null,
): Promise<ConfigResult> {
  const project = generateProject({ modules: options.modules, th: config.th, seed: options.seed });
  const base = `${tmp}/j${jobs}/${slug(config)}`;
  const dirs = { cold: `${base}/cold`, ghcpw: `${base}/ghcpw`, make: `${base}/make` };
  for (const dir of Object.values(dirs)) await writeProject(dir, project);
  const result: ConfigResult = {
    config,
    jobs,
    modules: project.modules.length,
    cold: await buildOneShot(
      dirs.cold,
      project,
      config,
      jobs,
      coldRunner(options.ghc),
      "cold ghc -c",
      options.verbose,
    ),
    ghcpw: null,
    make: null,
    mismatches: [],
    notes: [],
  };
  if (result.cold.failure !== null) {
    result.mismatches.push(
      `the cold build failed, so ghcpw and --make were not run: ${result.cold.failure}`,
    );
    return result;
  }
  const linked = producesCode(config) ? [] as { method: string; run: Timed | null; link: Timed }[] : null;
  if (linked) {
    linked.push({ method: "cold", ...await linkAndRun(dirs.cold, project, config, coldRunner(options.ghc)) });
  }

  try {
    await withServer(shared, server, async (running) => {
      const firstLine = running.log.length;
      const ghcpw = await buildOneShot(
        dirs.ghcpw,
        project,
        config,
        jobs,
        ghcpwRunner(options.ghcpwMain, options.ghc, running.socket),
        `ghcpw ghc (-n ${jobs})`,
        options.verbose,
      );
      result.ghcpw = ghcpw;
      if (ghcpw.failure !== null) result.mismatches.push(`ghcpw build failed: ${ghcpw.failure}`);
      if (linked && ghcpw.failure === null) {
        linked.push({
          method: "ghcpw",
          ...await linkAndRun(
            dirs.ghcpw,
            project,
            config,
            ghcpwRunner(options.ghcpwMain, options.ghc, running.socket),
          ),
        });
      }
      // Give the server a moment to log the last request before reading its log.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const lines = running.log.slice(firstLine);
      const requests = lines.filter((line) => line.includes("Request from client")).length;
      const expected = project.order.length + (linked && ghcpw.failure === null ? 1 : 0);
      if (requests === 0) {
        result.notes.push("the server's log shows no 'Request from client' lines (log format changed?)");
      } else if (requests !== expected) {
        result.mismatches.push(`the server logged ${requests} requests, expected ${expected}`);
      }
      for (const line of serverProblems(lines)) result.mismatches.push(`server log: ${line}`);
    });
  } catch (e) {
    result.mismatches.push(`ghcpw serve: ${e instanceof Error ? e.message : e}`);
  }

  result.make = await buildMake(dirs.make, project, config, jobs, options.ghc);
  if (result.make.failure !== null) result.mismatches.push(result.make.failure);
  else if (linked) {
    linked.push({
      method: "--make",
      ...await linkAndRun(dirs.make, project, config, coldRunner(options.ghc)),
    });
  }

  if (result.ghcpw?.failure === null) {
    const { compared, differences } = await compareInterfaces(dirs.cold, dirs.ghcpw);
    result.notes.push(
      `${compared - differences.length}/${compared} interface files of ghcpw byte-identical to cold`,
    );
    for (const d of differences) result.mismatches.push(`.hi ghcpw vs cold: ${d}`);
    for (const d of compareDiagnostics(result.cold, result.ghcpw)) {
      result.mismatches.push(`diagnostics: ${d}`);
    }
  }
  if (result.make.failure === null) {
    const { compared, differences } = await compareInterfaces(dirs.cold, dirs.make);
    result.notes.push(
      `(for information) ${
        compared - differences.length
      }/${compared} interface files of --make equal to cold`,
    );
  }
  if (linked) {
    const [reference, ...others] = linked;
    for (const { method, link, run } of linked) {
      if (link.code !== 0) result.mismatches.push(`linking the ${method} objects failed:\n${link.stderr}`);
      else if (run!.code !== 0) {
        result.mismatches.push(`the ${method} program exited with ${run!.code}:\n${run!.stderr}`);
      }
    }
    for (const other of others) {
      if (reference.run !== null && other.run !== null && other.run.stdout !== reference.run.stdout) {
        result.mismatches.push(`the ${other.method} program prints differently from the cold one`);
      }
    }
    const ok = linked.filter((l) => l.run !== null && l.run.stdout === reference.run?.stdout);
    result.notes.push(
      `linked programs (${
        linked.map((l) => l.method).join(", ")
      }): ${ok.length}/${linked.length} print the ` +
        `cold program's ${reference.run?.stdout.trimEnd().split("\n").length ?? 0} lines`,
    );
  }
  return result;
}

/** Estimates the client's per-request overhead: `ghcpw ghc -- --numeric-version` against plain ghc. */
export async function measureOverhead(
  ghcpwMain: string,
  ghc: string,
  socket: string,
  runs = 9,
): Promise<{ ghc: number; ghcpw: number }> {
  const plain: number[] = [];
  const client: number[] = [];
  for (let i = 0; i < runs; i++) {
    plain.push((await coldRunner(ghc)(["--numeric-version"], "/")).ms);
    client.push((await ghcpwRunner(ghcpwMain, ghc, socket)(["--numeric-version"], "/")).ms);
  }
  return { ghc: median(plain), ghcpw: median(client) };
}

/** Seconds with two decimals. */
function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

/** A ratio such as `3.1x`. */
function ratio(a: number, b: number): string {
  return Number.isFinite(a / b) ? `${(a / b).toFixed(2)}x` : "-";
}

/** The median compile time of a one-shot build. */
function medianStep(build: BuildResult): number {
  return median([...build.steps.values()].map((s) => s.ms));
}

/** Lays out rows as a Markdown table with padded columns. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  return [line(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.map(line)].join("\n");
}

/** The results table: wall times per method, medians per module, ratios, and the check verdicts. */
export function resultsTable(results: readonly ConfigResult[]): string {
  const header = [
    "flags",
    "-j",
    "modules",
    "cold ghc -c: total / median",
    "ghcpw: total / median",
    "cold/ghcpw: total (median)",
    "ghc --make",
    "ghcpw/--make",
    "checks",
  ];
  const rows = results.map((r) => {
    const g = r.ghcpw?.failure === null ? r.ghcpw : null;
    const m = r.make?.failure === null ? r.make : null;
    return [
      r.config.flags.join(" ") + (r.config.th ? " (TH)" : ""),
      String(r.jobs),
      String(r.modules),
      r.cold.failure === null ? `${seconds(r.cold.wallMs)} / ${medianStep(r.cold).toFixed(0)} ms` : "FAILED",
      g ? `${seconds(g.wallMs)} / ${medianStep(g).toFixed(0)} ms` : r.ghcpw ? "FAILED" : "not run",
      g ? `${ratio(r.cold.wallMs, g.wallMs)} (${ratio(medianStep(r.cold), medianStep(g))})` : "-",
      m ? seconds(m.wallMs) : r.make ? "FAILED" : "not run",
      g && m ? ratio(g.wallMs, m.wallMs) : "-",
      r.mismatches.length === 0 ? "ok" : `${r.mismatches.length} MISMATCH`,
    ];
  });
  return formatTable(header, rows);
}

/** The 1-minute load average (from /proc/loadavg), to show how busy the machine was; "?" if unknown. */
export function loadAverage(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ")[0];
  } catch {
    return "?";
  }
}

/** Runs the whole benchmark and prints the report; resolves to the exit code. */
export async function runBench(options: BenchOptions): Promise<number> {
  const version = await timeCommand(options.ghc, ["--numeric-version"], "/");
  if (version.code !== 0) throw new Error(`${options.ghc} --numeric-version failed: ${version.stderr}`);
  const tmp = await Deno.makeTempDir({ prefix: "ghcpw-bench-" });
  live.tmp = tmp;
  live.keep = options.keep;
  progress(
    `ghcpw bench: GHC ${version.stdout.trim()} (${options.ghc}), ${options.modules} modules, in ${tmp}`,
  );
  const loadBefore = loadAverage();
  const results: ConfigResult[] = [];
  let overhead: { ghc: number; ghcpw: number } | null = null;
  let overheadTried = false;
  let serverCount = 0;
  const start = async (jobs: number) => {
    const socket = `${tmp}/s${serverCount++}.sock`;
    const started = performance.now();
    const server = await startServer(options.ghcpwMain, options.ghc, socket, jobs, options.verbose);
    live.servers.add(server);
    progress(`  ghcpw serve -n ${jobs}: ready in ${seconds(performance.now() - started)}`);
    return server;
  };
  for (const jobs of options.jobs) {
    const shared = options.sharedServer ? await start(jobs) : null;
    for (const config of options.configs) {
      progress(`[${config.flags.join(" ")}${config.th ? " with TH" : ""}, -j${jobs}]`);
      const result = await benchConfig(tmp, options, config, jobs, () => start(jobs), shared);
      results.push(result);
      for (const m of result.mismatches) progress(`  MISMATCH: ${m}`);
      if (!overheadTried && result.ghcpw?.failure === null) {
        overheadTried = true;
        try {
          overhead = await withServer(
            shared,
            () => start(1),
            (server) => measureOverhead(options.ghcpwMain, options.ghc, server.socket),
          );
        } catch (e) {
          progress(`  could not measure the per-request overhead: ${e instanceof Error ? e.message : e}`);
        }
      }
    }
    if (shared !== null) {
      await stopServer(shared);
      live.servers.delete(shared);
    }
  }

  const cores = navigator.hardwareConcurrency;
  console.log(
    `\nghcpw benchmark: GHC ${version.stdout.trim()} (${options.ghc}), ${options.modules} ordinary modules ` +
      `+ Main (+ 3 TH modules where marked), seed ${options.seed}, ${cores} CPU cores\n` +
      `ghcpw: ${options.ghcpwMain}; load average ${loadBefore} at the start, ${loadAverage()} at the end\n`,
  );
  console.log(resultsTable(results));
  console.log(`
cold   = one 'ghc -c FLAGS' process per module, in dependency order, -j at a time
ghcpw  = the same commands through 'ghcpw ghc --' (a deno client per module),
         against a ${
    options.sharedServer ? "server shared by all configurations" : "fresh 'ghcpw serve -n J' per row"
  }
--make = one 'ghc --make -jJ -no-link FLAGS'; totals are wall times, medians per module`);
  if (overhead !== null) {
    console.log(
      `\nPer-request overhead (median of 9): 'ghcpw ghc -- --numeric-version' ${
        overhead.ghcpw.toFixed(0)
      } ms, ` +
        `'ghc --numeric-version' ${overhead.ghc.toFixed(0)} ms: about ${
          (overhead.ghcpw - overhead.ghc).toFixed(0)
        } ms ` +
        `of client start-up and round trip per request.`,
    );
  }
  console.log("\nChecks:");
  for (const r of results) {
    const name = `[${r.config.flags.join(" ")}${r.config.th ? " with TH" : ""}, -j${r.jobs}]`;
    for (const note of r.notes) console.log(`  ${name} ${note}`);
    for (const m of r.mismatches) console.log(`  ${name} MISMATCH: ${m}`);
  }
  const mismatches = results.reduce((n, r) => n + r.mismatches.length, 0);
  console.log(mismatches === 0 ? "\nAll checks passed." : `\n!!! ${mismatches} MISMATCH(ES): see above !!!`);
  if (options.keep) console.log(`\nKept ${tmp}`);
  return mismatches === 0 ? 0 : 1;
}

if (import.meta.main) {
  let code: number;
  const interrupted = () => {
    progress("\nInterrupted: stopping servers and cleaning up");
    cleanUp().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", interrupted);
  Deno.addSignalListener("SIGTERM", interrupted);
  try {
    const options = parseBenchArgs(Deno.args);
    if (options === null) {
      console.log(BENCH_HELP);
      code = 0;
    } else {
      code = await runBench(options);
    }
  } catch (e) {
    console.error(`bench.ts: ${e instanceof Error ? e.message : e}`);
    code = 2;
  } finally {
    await cleanUp();
  }
  Deno.exit(code);
}
