/**
 * A real Bazel (Debian's bazel-bootstrap, installed with apt if missing) builds the example in
 * examples/bazel, whose rules compile one module per action and link through ghcpw's worker: in proto
 * and JSON mode, singleplex and multiplex, with a compile error and an edit-then-rebuild. Every worker
 * build must produce what a `--strategy=…=local` build does (ghcpw run one-shot, i.e. the real ghc),
 * and must really have gone through the worker: Bazel counts worker processes, and the worker's own
 * log (which Bazel names) shows the live worker process, its protocol and its mode.
 */

import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { assertSameOutputs, GHC, listFiles, type Run, run } from "../support/helpers.ts";
import { killAndWait } from "../../lib/process/kill.ts";
import { decodeResponse, MessageSplitter, type WorkResponse } from "../../lib/bazel/protocol.ts";

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
const EXAMPLE = `${ROOT}/examples/bazel`;
const MNEMONICS = ["HaskellCompile", "HaskellLink"];
/** Actions of a clean build of //app: five modules and the link. */
const GHC_ACTIONS = 6;

/** Finds bazel, installing Debian's bazel-bootstrap (Bazel 4.2.3, works offline) if it is missing. */
async function ensureBazel(): Promise<string> {
  const found = await run("sh", ["-c", "command -v bazel"]);
  if (found.code === 0) return found.stdout.trim();
  const install = await run("sh", [
    "-c",
    // A mirror's Release file may be past its Valid-Until (sid's is short-lived); its packages still are fine.
    "apt-get -o Acquire::Check-Valid-Until=false update -qq && " +
    "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bazel-bootstrap",
  ]);
  const again = await run("sh", ["-c", "command -v bazel"]);
  if (again.code !== 0) {
    throw new Error(
      "Bazel is needed for this test and could not be installed with " +
        `'apt-get install bazel-bootstrap' (exit ${install.code}):\n${install.stdout}${install.stderr}`,
    );
  }
  return again.stdout.trim();
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
    const logs = [...r.stderr.matchAll(/Created new .*?(\S+) (?:multiplex-)?worker .*?logging to (\S+)/g)];
    assertEquals(logs.map((m) => m[1]).sort(), MNEMONICS, `one new worker per mnemonic:\n${r.stderr}`);
    for (const [, , logFile] of logs) {
      const log = await Deno.readTextFile(logFile);
      assertMatch(log, new RegExp(`Bazel worker, pid \\d+, in \\S+ \\(${mode.protocol} protocol\\)`));
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
      const name = `${mode.protocol} ${mode.multiplex ? "multiplex" : "singleplex"}`;
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
      await assertSameBuild(warm, await snapshot());
    });
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

Deno.test("ghcpw bazel --persistent_worker with a real GHC: only responses on stdout, multiplex, cancel", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ghcpw-bazel-worker-" });
  const child = new Deno.Command("deno", {
    // No --protocol: detected from the first request.
    args: ["run", "-A", `${ROOT}/main.ts`, "bazel", "--ghc", GHC, "--persistent_worker"],
    cwd: dir,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const stdin = child.stdin.getWriter();
  const send = (requests: object[]) =>
    stdin.write(new TextEncoder().encode(requests.map((r) => JSON.stringify(r)).join("")));
  // Every byte on stdout must belong to a response.
  const splitter = new MessageSplitter("json");
  const responses: WorkResponse[] = [];
  const stdout = child.stdout.getReader();
  const until = async (n: number) => {
    while (responses.length < n) {
      const { value, done } = await stdout.read();
      if (done) throw new Error(`worker closed stdout after ${responses.length} responses:\n${await stderr}`);
      splitter.push(value);
      for (let m = splitter.next(); m !== null; m = splitter.next()) {
        responses.push(decodeResponse("json", m));
      }
    }
  };
  try {
    await Deno.writeTextFile(`${dir}/A.hs`, "module A where\n\na :: Int\na = 1\n");
    await Deno.writeTextFile(`${dir}/B.hs`, 'module B where\n\nb :: Int\nb = "b"\n');
    await Deno.writeTextFile(
      `${dir}/Slow.hs`,
      "{-# LANGUAGE TemplateHaskell #-}\nmodule Slow where\n\nimport Control.Concurrent (threadDelay)\n" +
        "import Language.Haskell.TH\n\nslow :: Int\n" +
        'slow = $(runIO (putStrLn "sleeping" >> threadDelay 60000000) >> litE (integerL 1))\n',
    );
    await send([
      { arguments: ["-c", "Slow.hs"], requestId: 1 },
      { arguments: ["-c", "A.hs"], requestId: 2 },
      { arguments: ["-c", "B.hs"], requestId: 3 },
    ]);
    await until(2);
    const byId = new Map(responses.map((r) => [r.requestId, r]));
    assertEquals(byId.get(2)?.exitCode, 0);
    assertEquals(byId.get(3)?.exitCode, 1);
    assertMatch(byId.get(3)!.output, /B\.hs:4:5: error:/);

    const cancelled = Date.now();
    await send([{ requestId: 1, cancel: true }, { requestId: 1, cancel: true }]);
    await until(3);
    assertEquals(responses[2].requestId, 1);
    assertEquals(responses[2].wasCancelled, true);
    assert(Date.now() - cancelled < 20_000, "the cancelled compile was not stopped");

    // The pool replaced the GHC it stopped: the worker still serves.
    await send([{ arguments: ["-c", "A.hs"], requestId: 4 }]);
    await until(4);
    assertEquals([responses[3].requestId, responses[3].exitCode], [4, 0]);
    await stdin.close();
    assertEquals((await child.status).code, 0);
    assertEquals(await stdout.read(), { done: true, value: undefined });
    assertEquals(splitter.pending, false, "stdout held bytes that are not a response");
    assertMatch(await stderr, /Bazel worker, pid \d+/);
  } finally {
    await killAndWait(child);
    await stderr.catch(() => "");
    await Deno.remove(dir, { recursive: true });
  }
});
