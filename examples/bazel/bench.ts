/**
 * Times clean Bazel builds of a synthetic project (scripts/gen_project.ts) with this example's rules:
 * once with ghc run one-shot per action (--strategy=…=local), then twice through ghcpw's worker (the
 * first starts the worker, the second finds it running, as it is in a Bazel server that has built
 * before). Prints the wall-clock times and the ratios. Needs bazel on PATH.
 *
 *   deno run -A examples/bazel/bench.ts [--modules N] [--th] [--ghc PATH] [--multiplex | --singleplex]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { generateProject, writeProject } from "../../scripts/gen_project.ts";

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
const EXAMPLE = `${ROOT}/examples/bazel`;
const MNEMONICS = ["HaskellCompile", "HaskellLink"];

/** A BUILD file with one haskell_module per module of the project and the program. */
function buildFile(project: ReturnType<typeof generateProject>): string {
  const targets = project.modules.map((m) => {
    const packages = m.kind === "th-lib" || m.kind === "splice"
      ? '["containers", "template-haskell"]'
      : '["containers"]';
    const deps = m.imports.map((i) => `":${i}"`).join(", ");
    return `haskell_module(\n    name = "${m.name}",\n    src = "${m.file.replace(/^src\//, "")}",\n` +
      `    packages = ${packages},\n    deps = [${deps}],\n)\n`;
  });
  return `load("//tools:haskell.bzl", "haskell_binary", "haskell_module")\n\n${targets.join("\n")}\n` +
    `haskell_binary(\n    name = "app",\n    main = ":${project.main}",\n)\n`;
}

async function bazel(ws: string, outputRoot: string, args: string[]): Promise<number> {
  const started = performance.now();
  const out = await new Deno.Command("bazel", {
    args: [`--output_user_root=${outputRoot}`, "--max_idle_secs=120", ...args],
    cwd: ws,
    stdin: "null",
  }).output();
  const seconds = (performance.now() - started) / 1000;
  if (!out.success) {
    throw new Error(`bazel ${args.join(" ")} failed:\n${new TextDecoder().decode(out.stderr)}`);
  }
  return seconds;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      modules: { type: "string", default: "30" },
      th: { type: "boolean" },
      ghc: { type: "string", default: Deno.env.get("GHCPW_GHC") || "ghc" },
      singleplex: { type: "boolean" },
      multiplex: { type: "boolean" },
    },
  });
  const dir = await Deno.makeTempDir({ prefix: "ghcpw-bazel-bench-" });
  const ws = `${dir}/ws`;
  const outputRoot = `${dir}/bazel`;
  try {
    const project = generateProject({ modules: Number(values.modules), th: values.th ?? false });
    await writeProject(ws, project);
    await Deno.writeTextFile(`${ws}/WORKSPACE`, 'workspace(name = "bench")\n');
    await Deno.mkdir(`${ws}/tools`);
    for (const file of ["BUILD", "haskell.bzl", "ghcpw-worker"]) {
      await Deno.copyFile(`${EXAMPLE}/tools/${file}`, `${ws}/tools/${file}`);
    }
    await Deno.chmod(`${ws}/tools/ghcpw-worker`, 0o755);
    await Deno.writeTextFile(`${ws}/src/BUILD`, buildFile(project));

    const version = new TextDecoder().decode(
      (await new Deno.Command("bazel", { args: ["--version"] }).output()).stdout,
    );
    const major = Number(version.match(/(\d+)\.\d+/)?.[1] ?? 0);
    const common = [
      `--define=ghc=${values.ghc}`,
      `--action_env=GHCPW_REPO=${ROOT}`,
      ...(major >= 6 ? ["--noenable_bzlmod"] : []),
    ];
    const strategy = (s: string) => MNEMONICS.map((m) => `--strategy=${m}=${s}`);
    const multiplex = values.singleplex
      ? "--noexperimental_worker_multiplex"
      : "--experimental_worker_multiplex";
    // The server's start and the analysis are the same either way: keep them out of the timings.
    await bazel(ws, outputRoot, ["build", "--nobuild", ...common, "//src:app"]);
    const clean = () => bazel(ws, outputRoot, ["clean"]);
    const timed = async (flags: string[]) => {
      await clean();
      return await bazel(ws, outputRoot, ["build", ...common, ...flags, "//src:app"]);
    };
    const local = await timed(strategy("local"));
    const coldWorker = await timed([...strategy("worker"), multiplex]);
    const warmWorker = await timed([...strategy("worker"), multiplex]);
    const actions = project.modules.length + 1;
    console.log(
      `${version.trim()}, ${actions} ghc actions (${project.modules.length} modules and a link), ` +
        `${values.singleplex ? "singleplex" : "multiplex"} worker, ${navigator.hardwareConcurrency} cores`,
    );
    console.log(`clean build, local strategy:            ${local.toFixed(2)} s`);
    console.log(
      `clean build, worker (started by build): ${coldWorker.toFixed(2)} s  (local/worker ${
        (local / coldWorker).toFixed(2)
      }x)`,
    );
    console.log(
      `clean build, worker (already running):  ${warmWorker.toFixed(2)} s  (local/worker ${
        (local / warmWorker).toFixed(2)
      }x)`,
    );
  } finally {
    await bazel(ws, outputRoot, ["shutdown"]).catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
