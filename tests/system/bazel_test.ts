/**
 * A real Bazel (Debian's bazel-bootstrap, installed with apt if missing) builds the example in
 * examples/bazel, whose rules compile one module per action and link through ghcpw's worker: in proto
 * and JSON mode, singleplex and multiplex, with a compile error and an edit-then-rebuild. Every worker
 * build must produce what a `--strategy=…=local` build does (ghcpw run one-shot, i.e. the real ghc),
 * and must really have gone through the worker: Bazel counts worker processes, and the worker's own
 * log (which Bazel names) shows the live worker process, its protocol and its mode.
 */

import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { assertSameOutputs, GHC, listFiles, type Run, run, writeTree } from "../support/helpers.ts";
import { ensureDebianPackages } from "../support/apt.ts";
import { killAndWait } from "../../lib/process/kill.ts";
import {
  type BazelProtocol,
  encodeRequest,
  readResponses,
  type WorkRequest,
  workRequest,
  type WorkResponse,
} from "../../lib/bazel/protocol.ts";
import { concat } from "../support/bytes.ts";
import { compiledNames, diagnosticSet } from "../../scripts/output_compare.ts";
import { privateCacheHome } from "../../scripts/bench/server.ts";
import { spawnBazelWorker } from "../../scripts/bench/bazel.ts";

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
const EXAMPLE = `${ROOT}/examples/bazel`;
const MNEMONICS = ["HaskellCompile", "HaskellLink"];
/** Actions of a clean build of //app: five modules and the link. */
const GHC_ACTIONS = 6;

/** Finds bazel, installing Debian's bazel-bootstrap (Bazel 4.2.3, works offline) if it is missing. */
async function ensureBazel(): Promise<string> {
  const which = () => run("sh", ["-c", "command -v bazel"]);
  await ensureDebianPackages("this test (Bazel)", ["bazel-bootstrap"], async () => {
    return (await which()).code === 0;
  });
  return (await which()).stdout.trim();
}

/** Copies a directory tree (files and directories; Bazel's convenience symlinks are skipped). */
async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    if (entry.name.startsWith("bazel-")) continue;
    if (entry.isDirectory) await copyTree(`${from}/${entry.name}`, `${to}/${entry.name}`);
    else if (entry.isFile) {
      await Deno.copyFile(`${from}/${entry.name}`, `${to}/${entry.name}`);
      await Deno.chmod(`${to}/${entry.name}`, (await Deno.stat(`${from}/${entry.name}`)).mode! & 0o777);
    }
  }
}

/** Bazel's count of processes by kind ("6 worker", "6 local", ...) from its closing summary. */
function processCounts(stderr: string): Record<string, number> {
  const summary = stderr.match(/INFO: \d+ process(?:es)?(?:: (.*))?\./)?.[1] ?? "";
  return Object.fromEntries(
    summary.split(", ").filter((s) => s !== "").map((s) => {
      const [n, ...kind] = s.split(" ");
      return [kind.join(" "), Number(n)];
    }),
  );
}

/** Worker processes in Bazel's summary, however Bazel names them (worker, multiplex-worker). */
function workerCount(stderr: string): number {
  return Object.entries(processCounts(stderr))
    .filter(([kind]) => /worker/.test(kind))
    .reduce((n, [, count]) => n + count, 0);
}

interface Mode {
  protocol: "proto" | "json";
  multiplex: boolean;
  /** --worker_sandboxing: the worker runs in a directory of its own, which Bazel fills for each request. */
  sandboxed?: boolean;
}

function modeName(mode: Mode): string {
  return `${mode.sandboxed ? "sandboxed " : ""}${mode.protocol} ${
    mode.multiplex ? "multiplex" : "singleplex"
  }`;
}

Deno.test("Bazel builds the example through ghcpw's worker, as the local strategy does", async (t) => {
  const bazel = await ensureBazel();
  const version = (await run(bazel, ["--version"])).stdout.trim();
  const major = Number(version.match(/(\d+)\.\d+/)?.[1] ?? 0);
  const root = await Deno.makeTempDir({ prefix: "ghcpw-bazel-" });
  const ws = `${root}/ws`;
  await copyTree(EXAMPLE, ws);
  const startup = [`--output_user_root=${root}/bazel`, "--max_idle_secs=300"];
  const common = [
    `--define=ghc=${GHC}`,
    // The wrapper runs ghcpw from this checkout, not from the copy's location.
    `--action_env=GHCPW_REPO=${ROOT}`,
    // Bazel gives actions PATH only: the worker's deno should use the cache this test's deno uses.
    ...(Deno.env.get("DENO_DIR") ? [`--action_env=DENO_DIR=${Deno.env.get("DENO_DIR")}`] : []),
    "--worker_verbose",
    // Bazel 6 and later would look for modules in a registry on the network, and no longer need (nor
    // know) the flag that allows JSON workers. Debian's Bazel 4.2.3 reports no version: major 0.
    ...(major >= 6 ? ["--noenable_bzlmod"] : ["--experimental_worker_allow_json_protocol"]),
  ];
  const bazelRun = (args: string[]) => run(bazel, [...startup, ...args], { cwd: ws });
  const build = (strategy: "local" | Mode): Promise<Run> => {
    const flags = strategy === "local" ? MNEMONICS.map((m) => `--strategy=${m}=local`) : [
      ...MNEMONICS.map((m) => `--strategy=${m}=worker`),
      `--define=ghcpw_protocol=${strategy.protocol}`,
      strategy.multiplex ? "--experimental_worker_multiplex" : "--noexperimental_worker_multiplex",
      strategy.sandboxed ? "--worker_sandboxing" : "--noworker_sandboxing",
    ];
    return bazelRun(["build", ...common, ...flags, "//app"]);
  };
  const clean = async () => assertEquals((await bazelRun(["clean"])).code, 0);
  let snapshots = 0;
  /** Copies what the build produced (interfaces, objects, the program) out of Bazel's output tree. */
  const snapshot = async (): Promise<string> => {
    const dir = `${root}/snapshot-${snapshots++}`;
    await copyTree(`${ws}/bazel-bin/app/_ghc`, `${dir}/_ghc`);
    await Deno.copyFile(`${ws}/bazel-bin/app/app`, `${dir}/app`);
    await Deno.chmod(`${dir}/app`, 0o755);
    return dir;
  };
  /** Asserts that two snapshots hold the same files, byte-identical interfaces and the same program. */
  const assertSameBuild = async (actual: string, expected: string) => {
    await assertSameOutputs(expected, actual, [".hi", ".dyn_hi"]);
    assertEquals(await run(`${actual}/app`, []), await run(`${expected}/app`, []));
  };
  const assertBuilt = (r: Run, what: string) => assertEquals(r.code, 0, `${what} failed:\n${r.stderr}`);
  const editArea = (text: string) => Deno.writeTextFile(`${ws}/app/Shapes/Area.hs`, text);
  const area = await Deno.readTextFile(`${EXAMPLE}/app/Shapes/Area.hs`);

  /** Asserts that the build's actions ran in ghcpw workers of the given mode, alive after the build. */
  const assertWorkerUsed = async (r: Run, mode: Mode) => {
    assertEquals(workerCount(r.stderr), GHC_ACTIONS, `expected every ghc action in a worker:\n${r.stderr}`);
    assertEquals(processCounts(r.stderr).local, undefined, r.stderr);
    const logs = [
      ...r.stderr.matchAll(
        /Created new (?:(sandboxed|non-sandboxed) )?(\S+) (?:multiplex-)?worker .*?logging to (\S+)/g,
      ),
    ];
    assertEquals(logs.map((m) => m[2]).sort(), MNEMONICS, `one new worker per mnemonic:\n${r.stderr}`);
    for (const [, sandboxed, , logFile] of logs) {
      assertEquals(sandboxed === "sandboxed", mode.sandboxed ?? false, `sandboxed worker:\n${r.stderr}`);
      const log = await Deno.readTextFile(logFile);
      const cwd = log.match(new RegExp(`Bazel worker, pid \\d+, in (\\S+) \\(${mode.protocol} protocol\\)`))
        ?.[1];
      assert(cwd !== undefined, `no ${mode.protocol} worker in ${logFile}:\n${log}`);
      // A sandboxed worker works in a directory of its own, not in Bazel's execroot.
      assertMatch(
        cwd,
        mode.sandboxed ? /\/bazel-workers\/[^/]+\/ghcpw_example$/ : /\/execroot\/ghcpw_example$/,
      );
      assertMatch(log, new RegExp(`Serving with GHC .*, ${mode.multiplex ? "multiplex" : "singleplex"}`));
      const pid = log.match(/Bazel worker, pid (\d+)/)![1];
      const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`).catch(() => "");
      assert(cmdline.includes("--persistent_worker"), `worker ${pid} is not running (log ${logFile})`);
    }
  };

  try {
    let local = "";
    await t.step(`local strategy (${version}, GHC ${GHC})`, async () => {
      const r = await build("local");
      assertBuilt(r, "the local build");
      assertEquals(processCounts(r.stderr).local, GHC_ACTIONS, r.stderr);
      // GHC's stdout (a splice prints) is the action's stdout, which Bazel prints on its own stdout.
      assertMatch(r.stdout + r.stderr, /TH: computing the answer/);
      local = await snapshot();
      assertMatch((await run(`${local}/app`, [])).stdout, /^42\n\[1,4,9,16,25\]\n/);
    });

    const modes: Mode[] = [
      { protocol: "proto", multiplex: false },
      { protocol: "proto", multiplex: true },
      { protocol: "json", multiplex: false },
      { protocol: "json", multiplex: true },
    ];
    for (const mode of modes) {
      const name = modeName(mode);
      await t.step(`${name} worker: same outputs as local, then a compile error`, async () => {
        await clean();
        const r = await build(mode);
        assertBuilt(r, `the ${name} build`);
        await assertWorkerUsed(r, mode);
        // GHC's output from a Template Haskell splice comes back in the response, and Bazel shows it.
        assertMatch(r.stdout + r.stderr, /TH: computing the answer/);
        await assertSameBuild(await snapshot(), local);

        await editArea(area.replace("answerBase = 41", 'answerBase = "41"'));
        const broken = await build(mode);
        assert(broken.code !== 0, "a build with a type error must fail");
        assertMatch(broken.stderr, /app\/Shapes\/Area\.hs:\d+:\d+: error:/);
        assertMatch(broken.stderr, /Couldn't match/);
        await editArea(area);
      });
    }

    /** The local build of the edit below. */
    let edited = "";
    await t.step("edit then rebuild: only what depends on the edit, same as local", async () => {
      const mode = modes[modes.length - 1];
      // The error of the last step is fixed by a new answer, which a splice in Tables computes from.
      await editArea(area.replace("answerBase = 41", "answerBase = 1046"));
      const r = await build(mode);
      assertBuilt(r, "the rebuild");
      const rebuilt = workerCount(r.stderr);
      assert(rebuilt > 0 && rebuilt < GHC_ACTIONS, `expected a partial rebuild in the worker:\n${r.stderr}`);
      const warm = await snapshot();
      assertMatch((await run(`${warm}/app`, [])).stdout, /^1047\n/);

      await clean();
      assertBuilt(await build("local"), "the local build of the edit");
      edited = await snapshot();
      await assertSameBuild(warm, edited);
    });

    const sandboxedModes: Mode[] = [
      { protocol: "proto", multiplex: false, sandboxed: true },
      // Bazel 4 gives a sandboxed multiplex worker a directory of its own too (no per-request sandboxes);
      // later Bazels (Debian sid's) run multiplex workers unsandboxed unless multiplex sandboxing is on,
      // which the replay tests of sandbox_dir cover.
      ...(/^bazel 4\./.test(version) ? [{ protocol: "json", multiplex: true, sandboxed: true } as Mode] : []),
    ];
    for (const mode of sandboxedModes) {
      const name = modeName(mode);
      await t.step(
        `${name} worker: same outputs as local, and after an edit, a rebuild as local's`,
        async () => {
          await editArea(area.replace("answerBase = 41", "answerBase = 1046"));
          await clean();
          const r = await build(mode);
          assertBuilt(r, `the ${name} build`);
          await assertWorkerUsed(r, mode);
          await assertSameBuild(await snapshot(), edited);

          // Back to the original source: a partial rebuild in the same sandboxed workers.
          await editArea(area);
          const again = await build(mode);
          assertBuilt(again, `the ${name} rebuild`);
          const rebuilt = workerCount(again.stderr);
          assert(
            rebuilt > 0 && rebuilt < GHC_ACTIONS,
            `expected a partial rebuild in the worker:\n${again.stderr}`,
          );
          assertEquals(processCounts(again.stderr).local, undefined, again.stderr);
          await assertSameBuild(await snapshot(), local);
        },
      );
    }
  } finally {
    await bazelRun(["shutdown"]);
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
});

Deno.test("ghcpw bazel runs one-shot on a flagfile, as Bazel's non-worker strategies run it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ghcpw-bazel-oneshot-" });
  try {
    await Deno.writeTextFile(`${dir}/A.hs`, "module A where\n\na :: Int\na = 1\n");
    await Deno.writeTextFile(`${dir}/B.hs`, 'module B where\n\nb :: Int\nb = "b"\n');
    await Deno.mkdir(`${dir}/out`);
    await Deno.writeTextFile(`${dir}/a.params`, "-c\n-odir\nout\n-hidir\nout\nA.hs\n");
    await Deno.writeTextFile(`${dir}/b.params`, "-c\n-odir\nout\n-hidir\nout\nB.hs\n");
    const main = `${ROOT}/main.ts`;
    const ok = await run("deno", ["run", "-A", main, "bazel", "--ghc", GHC, "@a.params"], { cwd: dir });
    assertEquals(ok.code, 0, ok.stderr);
    assertEquals(await listFiles(`${dir}/out`), ["A.hi", "A.o"]);
    const failed = await run("deno", ["run", "-A", main, "bazel", "--ghc", GHC, "@b.params"], { cwd: dir });
    assertEquals(failed.code, 1);
    assertMatch(failed.stderr, /B\.hs:4:5: error:/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A `ghcpw bazel --persistent_worker` process, fed requests the way Bazel feeds them. */
interface WorkerProcess {
  /** Writes the requests, encoded in the worker's protocol, in one piece (Bazel 4.2.3's JSON: back to back). */
  send(requests: WorkRequest[]): Promise<void>;
  /** Waits until `n` responses in all have arrived; all of them, in order of arrival. */
  responses(n: number): Promise<WorkResponse[]>;
  /** Closes stdin and checks a clean exit with nothing but responses on stdout; resolves to stderr. */
  finish(): Promise<string>;
  /** Kills the worker if it still runs (for `finally`). */
  kill(): Promise<void>;
}

/**
 * Starts the worker in `cwd` (`--protocol` not given: it must detect the protocol), `env` added to its
 * environment.
 */
function startWorker(cwd: string, protocol: BazelProtocol, env: Record<string, string> = {}): WorkerProcess {
  const child = spawnBazelWorker(`${ROOT}/main.ts`, GHC, cwd, [], env);
  const stderr = new Response(child.stderr).text();
  const stdin = child.stdin.getWriter();
  // Throws if stdout holds bytes that are not a response.
  const stdout = readResponses(child.stdout, protocol);
  const received: WorkResponse[] = [];
  return {
    send: (requests) => stdin.write(concat(...requests.map((r) => encodeRequest(protocol, r)))),
    async responses(n) {
      while (received.length < n) {
        const { value, done } = await stdout.next();
        if (done) {
          throw new Error(`worker closed stdout after ${received.length} responses:\n${await stderr}`);
        }
        received.push(value);
      }
      return [...received];
    },
    async finish() {
      await stdin.close();
      assertEquals((await child.status).code, 0, await stderr);
      assertEquals(await stdout.next(), { done: true, value: undefined });
      return await stderr;
    },
    async kill() {
      await killAndWait(child);
      await stderr.catch(() => "");
    },
  };
}

Deno.test("ghcpw bazel --persistent_worker with a real GHC: only responses on stdout, multiplex, cancel", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ghcpw-bazel-worker-" });
  const worker = startWorker(dir, "json");
  try {
    await Deno.writeTextFile(`${dir}/A.hs`, "module A where\n\na :: Int\na = 1\n");
    await Deno.writeTextFile(`${dir}/B.hs`, 'module B where\n\nb :: Int\nb = "b"\n');
    await Deno.writeTextFile(
      `${dir}/Slow.hs`,
      "{-# LANGUAGE TemplateHaskell #-}\nmodule Slow where\n\nimport Control.Concurrent (threadDelay)\n" +
        "import Language.Haskell.TH\n\nslow :: Int\n" +
        'slow = $(runIO (putStrLn "sleeping" >> threadDelay 60000000) >> litE (integerL 1))\n',
    );
    await worker.send([
      workRequest({ arguments: ["-c", "Slow.hs"], requestId: 1 }),
      workRequest({ arguments: ["-c", "A.hs"], requestId: 2 }),
      workRequest({ arguments: ["-c", "B.hs"], requestId: 3 }),
    ]);
    const byId = new Map((await worker.responses(2)).map((r) => [r.requestId, r]));
    assertEquals(byId.get(2)?.exitCode, 0);
    assertEquals(byId.get(3)?.exitCode, 1);
    assertMatch(byId.get(3)!.output, /B\.hs:4:5: error:/);

    const cancelled = Date.now();
    await worker.send([
      workRequest({ requestId: 1, cancel: true }),
      workRequest({ requestId: 1, cancel: true }),
    ]);
    const responses = await worker.responses(3);
    assertEquals(responses[2].requestId, 1);
    assertEquals(responses[2].wasCancelled, true);
    assert(Date.now() - cancelled < 20_000, "the cancelled compile was not stopped");

    // The pool replaced the GHC it stopped: the worker still serves.
    await worker.send([workRequest({ arguments: ["-c", "A.hs"], requestId: 4 })]);
    const last = (await worker.responses(4))[3];
    assertEquals([last.requestId, last.exitCode], [4, 0]);
    assertMatch(await worker.finish(), /Bazel worker, pid \d+/);
  } finally {
    await worker.kill();
    await Deno.remove(dir, { recursive: true });
  }
});

/** The sources every sandbox of the sandbox test holds: two modules of a library, and one with a type error. */
const SANDBOX_SOURCES: Record<string, string> = {
  "src/Shapes/Types.hs": "module Shapes.Types where\n\ndata Shape = Square Int | Rect Int Int\n",
  "src/Shapes/Area.hs": "module Shapes.Area (area) where\n\nimport Shapes.Types\n\narea :: Shape -> Int\n" +
    "area (Square s) = s * s\narea (Rect w h) = w * h\n",
  "src/Broken.hs": 'module Broken where\n\nbroken :: Int\nbroken = "not an Int"\n',
  // GHC's response-file syntax (quotes), relative to the sandbox.
  "args/area.rsp": "-c -odir out -hidir out -iout\n'src/Shapes/Area.hs'\n",
};

for (const protocol of ["proto", "json"] as const) {
  Deno.test(`${protocol}: requests with a sandbox directory run there, as plain ghc does; verbose ones are logged`, async () => {
    const root = await Deno.makeTempDir({ prefix: "ghcpw-bazel-sandbox-" });
    // The worker's directory, as Bazel's execroot: relative sandboxes are below it.
    const execroot = `${root}/execroot`;
    const sandboxes = {
      first: "__sandbox/1/_main",
      absolute: `${root}/elsewhere/_main`,
      second: "__sandbox/2/_main",
    };
    const dirOf = (sandbox: string) => sandbox.startsWith("/") ? sandbox : `${execroot}/${sandbox}`;
    for (const sandbox of Object.values(sandboxes)) {
      await writeTree(dirOf(sandbox), SANDBOX_SOURCES);
      await Deno.mkdir(`${dirOf(sandbox)}/out`);
    }
    const typesArgs = ["-c", "-odir", "out", "-hidir", "out", "src/Shapes/Types.hs"];
    /** Each sandbox's requests in order; `expanded` is what plain ghc (9.0 reads no response files) runs. */
    const plan: { id: number; sandbox: string; verbosity: number; argv: string[]; expanded?: string[] }[][] =
      [
        [
          { id: 1, sandbox: sandboxes.first, verbosity: 10, argv: typesArgs },
          {
            id: 2,
            sandbox: sandboxes.absolute,
            verbosity: 0,
            argv: ["--make", "-outputdir", "out", "-isrc", "src/Shapes/Area.hs"],
          },
          { id: 3, sandbox: sandboxes.second, verbosity: 10, argv: ["-c", "-odir", "out", "src/Broken.hs"] },
        ],
        // After Types is compiled in the first sandbox: Area finds its interface there.
        [{
          id: 4,
          sandbox: sandboxes.first,
          verbosity: 10,
          argv: ["@args/area.rsp"],
          expanded: ["-c", "-odir", "out", "-hidir", "out", "-iout", "src/Shapes/Area.hs"],
        }],
      ];
    const worker = startWorker(execroot, protocol);
    try {
      let answered = 0;
      const results = new Map<number, WorkResponse>();
      for (const batch of plan) {
        await worker.send(batch.map((r) =>
          workRequest({
            arguments: r.argv,
            requestId: r.id,
            verbosity: r.verbosity,
            sandboxDir: r.sandbox,
            inputs: [{ path: "src/Shapes/Types.hs", digest: new Uint8Array([1, 2, 3]) }],
          })
        ));
        answered += batch.length;
        for (const r of await worker.responses(answered)) results.set(r.requestId, r);
      }
      const log = await worker.finish();
      // Every output is in its sandbox: the worker's own directory holds nothing else.
      assertEquals([...Deno.readDirSync(execroot)].map((e) => e.name), ["__sandbox"]);

      // Plain ghc, run in each sandbox on the same arguments after the worker's outputs are moved away.
      for (const [name, sandbox] of Object.entries(sandboxes)) {
        const dir = dirOf(sandbox);
        await Deno.rename(`${dir}/out`, `${root}/worker-${name}`);
        await Deno.mkdir(`${dir}/out`);
        for (const request of plan.flat().filter((r) => r.sandbox === sandbox)) {
          const cold = await run(GHC, request.expanded ?? request.argv, { cwd: dir });
          const warm = results.get(request.id)!;
          assertEquals(
            { exitCode: warm.exitCode, output: warm.output },
            { exitCode: cold.code, output: cold.stdout + cold.stderr },
            `request ${request.id} in ${sandbox}`,
          );
        }
        await assertSameOutputs(`${dir}/out`, `${root}/worker-${name}`, [".hi"]);
      }
      assertEquals(results.get(3)!.exitCode, 1);
      assertMatch(results.get(3)!.output, /^\n?src\/Broken\.hs:4:10: error:/);
      assertEquals(await listFiles(`${root}/worker-first`), [
        "Shapes/Area.hi",
        "Shapes/Area.o",
        "Shapes/Types.hi",
        "Shapes/Types.o",
      ]);

      // --worker_verbose (verbosity 10): each request's arguments, sandbox, directory and time; else nothing.
      const first = `${execroot}/${sandboxes.first}`;
      for (const [id, argv] of [[1, typesArgs], [4, ["@args/area.rsp"]]] as const) {
        assert(
          log.includes(
            `Request ${id}: arguments ${JSON.stringify(argv)}, sandbox "${sandboxes.first}", ` +
              `working in ${first}, 1 input(s)`,
          ),
          log,
        );
        assertMatch(log, new RegExp(`Request ${id}: exit 0 in \\d+ ms`));
      }
      assertMatch(log, /Request 3: exit 1 in \d+ ms/);
      assert(!log.includes("Request 2:"), `a request of verbosity 0 is not logged by default:\n${log}`);
    } finally {
      await worker.kill();
      await Deno.remove(root, { recursive: true });
    }
  });
}

/** A library target for the incremental test: a chain of modules, one with warnings. */
const LIBRARY_SOURCES: Record<string, string> = {
  "src/Base.hs": "module Base (base) where\n\nbase :: Int\nbase = 1\n",
  "src/Middle.hs":
    "module Middle (middle) where\n\nimport Base\nimport Data.List (sort)\n\nmiddle = base + 1\n",
  "src/Leaf.hs": "module Leaf (leaf) where\n\nimport Middle\n\nleaf :: Int\nleaf = middle * 2\n",
  "src/Top.hs": "module Top (top) where\n\nimport Base\nimport Leaf\n\ntop :: Int\ntop = leaf + base\n",
};

Deno.test("ghcpw bazel --persistent_worker: a --make request repeated after an edit restores what did not change", async () => {
  const root = await Deno.makeTempDir({ prefix: "ghcpw-bazel-incremental-" });
  // A cache of the test's own (the plugin build is shared), so only this test's builds are in it.
  const cache = await privateCacheHome(`${root}/cache`);
  const execroot = `${root}/execroot`;
  const cold = `${root}/cold`;
  await writeTree(execroot, LIBRARY_SOURCES);
  await writeTree(cold, LIBRARY_SOURCES);
  // rules_haskell's shape: one --make per library, every module named, outputs in a directory of its own.
  const args = ["--make", "-Wall", "-no-link", "-outputdir", "out", ...Object.keys(LIBRARY_SOURCES)];
  // Incremental builds are the worker's default: nothing in its options or environment asks for them.
  const worker = startWorker(execroot, "proto", { XDG_CACHE_HOME: cache });
  try {
    const edits: Record<string, string>[] = [
      {},
      {},
      { "src/Leaf.hs": LIBRARY_SOURCES["src/Leaf.hs"].replace("middle * 2", "middle * 3") },
    ];
    for (const [i, edit] of edits.entries()) {
      await writeTree(execroot, edit);
      await writeTree(cold, edit);
      // Bazel deletes an action's outputs before running it.
      for (const tree of [execroot, cold]) {
        await Deno.remove(`${tree}/out`, { recursive: true }).catch(() => {});
      }
      await worker.send([workRequest({ arguments: args, requestId: 0 })]);
      const response = (await worker.responses(i + 1))[i];
      const expected = await run(GHC, args, { cwd: cold });
      const expectedOutput = expected.stdout + expected.stderr;
      assertEquals(response.exitCode, expected.code, response.output);
      assertEquals(diagnosticSet(response.output), diagnosticSet(expectedOutput), `build ${i}`);
      await assertSameOutputs(`${cold}/out`, `${execroot}/out`, [".hi"]);
      const compiled = compiledNames(response.output);
      assertEquals(compiledNames(expectedOutput).length, 4);
      // The first build compiles everything; then only what changed (GHC prints what it compiles).
      assertEquals(compiled, [[...compiledNames(expectedOutput)], [], ["Leaf"]][i], response.output);
    }
    await worker.finish();
  } finally {
    await worker.kill();
    await Deno.remove(root, { recursive: true });
  }
});
