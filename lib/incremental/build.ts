/**
 * Incremental `--make` builds: before GHC runs, put back the saved outputs of every module whose source
 * is unchanged since they were made; let GHC's own recompilation check decide what to compile; replay
 * the saved warnings of the modules it did not compile; and save the outputs of a successful build for
 * the next one. A target whose outputs the build tool deletes (Bazel) then rebuilds like a developer's
 * tree. See README, "Incremental builds".
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { resolve } from "node:path";
import { type Diagnostic, mentions, parseDiagnostics, replayText, warningsOf } from "./diagnostics.ts";
import { sha256 } from "./hash.ts";
import {
  describeKeyChange,
  keyEnvironment,
  type KeyParts,
  packageStateOf,
  packageStatePaths,
  targetKey,
} from "./key.ts";
import { type MakeArgs, readMakeArgs } from "./make_args.ts";
import { type Manifest, MANIFEST_VERSION, type ModuleRecord, type OutputFile } from "./manifest.ts";
import { readModuleHeader } from "./module_header.ts";
import { type FoundOutput, restoreOutputs, scanOutputs } from "./outputs.ts";
import { type CurrentSource, describeSkipped, planRestore } from "./plan.ts";
import { type MakeRun, rebuildStale } from "./stale.ts";
import type { Store } from "./store.ts";
import type { OutputSink } from "../output.ts";
import type { ModuleSource } from "../pool/worker.ts";

const log = getLogger(["ghcpw", "incremental"]);
const encoder = new TextEncoder();

/** The variable that turns incremental builds on (1) or off (0) for one invocation. */
export const INCREMENTAL_ENV = "GHCPW_INCREMENTAL";

/** What one run of GHC for a build gave (with, from a worker, the modules whose interfaces it kept stale). */
export interface GhcRun extends MakeRun {
  /**
   * The modules that ran code of the user's while compiled (Template Haskell, quasi-quotes, annotations),
   * by name, as the worker saw them; null where nobody could tell (the real ghc ran it).
   */
  ranCode: ReadonlySet<string> | null;
  /**
   * After a successful build by a worker, each home module's name and the source GHC read it from (as
   * GHC was given it); absent where nobody could tell.
   */
  moduleSources?: readonly ModuleSource[];
}

/** Counters for `ghcpw status`. */
export interface IncrementalStats {
  /** `--make` builds considered. */
  builds: number;
  /** Builds that restored at least one module. */
  hits: number;
  modulesRestored: number;
  /** Restored modules GHC compiled anyway, and modules it compiled that were not restored. */
  modulesRecompiled: number;
  warningsReplayed: number;
  saves: number;
  saveFailures: number;
  /**
   * Builds with modules restored that failed, or whose interfaces could not be shown fresh
   * (lib/incremental/stale.ts), and so were done again as clean builds.
   */
  redoneClean: number;
}

/** An invocation as an incremental build sees it. */
export interface MakeInvocation {
  /** ghc's arguments as a worker receives them (response files expanded, mode flags out). */
  args: readonly string[];
  cwd: string;
  env: Readonly<Record<string, string>>;
  stderrIsTerminal: boolean;
  /** GHC's stdout and stderr are one stream (sent as stdout), so its diagnostics are found there. */
  mergedOutput?: boolean;
  /** The client's file-creation mask, which restored outputs get as GHC's own would. */
  umask: number;
}

/** The GHC whose builds are cached. */
export interface CachedGhc {
  ghc: string;
  version: string;
  libdir: string;
  /**
   * What its workers keep between requests (`--share`, as written): with names kept, objects differ from a
   * fresh ghc's in local symbol names, which a server asked for byte-identical objects must not restore.
   */
  share: string;
}

/** A module source as read before the build. */
interface ReadSource extends CurrentSource {
  mtimeMs: number;
}

/** A build as read before it waits for its target. */
interface KeyedBuild extends MakeInvocation {
  make: MakeArgs;
  sources: ReadSource[];
  parts: KeyParts;
  key: string;
  /** Its working and output directories, hashed: what two builds must not write at once. */
  target: string;
}

/** Incremental builds for one GHC, through one store. */
export class IncrementalBuilds {
  readonly stats: IncrementalStats = {
    builds: 0,
    hits: 0,
    modulesRestored: 0,
    modulesRecompiled: 0,
    warningsReplayed: 0,
    saves: 0,
    saveFailures: 0,
    redoneClean: 0,
  };
  #identity: Promise<string> | null = null;
  /** Saves and evictions one at a time, so eviction never counts a half-saved entry of this process. */
  #saving: Promise<void> = Promise.resolve();
  /** By target (working and output directories): the end of the last build queued to write there. */
  #writing = new Map<string, Promise<void>>();

  /** `enabled`: the default for invocations that do not set GHCPW_INCREMENTAL. */
  constructor(readonly store: Store, readonly ghc: CachedGhc, readonly enabled: boolean) {}

  /**
   * Runs a `--make` build (`run`, writing to the sink it is given) incrementally when it can; any other
   * invocation, or one it cannot serve safely, runs unchanged. Resolves to GHC's exit code.
   */
  async build(
    invocation: MakeInvocation,
    sink: OutputSink,
    run: (sink: OutputSink) => Promise<GhcRun>,
  ): Promise<number> {
    const wanted = invocation.env[INCREMENTAL_ENV];
    if (wanted === "0" || (!this.enabled && wanted !== "1")) return (await run(sink)).code;
    const make = readMakeArgs(invocation.args);
    if (make.refusal !== null) {
      log.debug("Not incremental: {reason}", { reason: make.refusal });
      return (await run(sink)).code;
    }
    this.stats.builds++;
    const { cwd } = invocation;
    const sources = await readSources(cwd, make.sources);
    if (sources === null) return (await run(sink)).code;
    const statePaths = await packageStatePaths(
      cwd,
      this.ghc.libdir,
      make.packageDbs,
      make.packageEnv,
      invocation.env,
    );
    const parts: KeyParts = {
      ghc: await this.#ghcIdentity(),
      args: make.keyArgs,
      cwd,
      env: keyEnvironment(invocation.env),
      colour: invocation.stderrIsTerminal,
      packageState: await Promise.all(statePaths.map(async (p) => [p, await packageStateOf(p)] as const)),
    };
    const key = targetKey(parts);
    // Builds that write the same directories run one after the other, as one build tool would run them:
    // two GHCs writing the same files at once would break each other (plain ghc as much as this).
    const target = sha256(JSON.stringify([cwd, make.outputDirs.map((d) => resolve(cwd, d))]));
    const turn = this.#writing.get(target) ?? Promise.resolve();
    let done!: () => void;
    const mine = turn.then(() => new Promise<void>((r) => done = r));
    this.#writing.set(target, mine);
    await turn;
    try {
      return await this.#build({ ...invocation, make, sources, parts, key, target }, sink, run);
    } finally {
      done();
      if (this.#writing.get(target) === mine) this.#writing.delete(target);
    }
  }

  /**
   * {@linkcode build} once the target is this build's alone; with `restoring` false, as a clean build
   * (nothing restored), saved as any other.
   */
  async #build(
    b: KeyedBuild,
    sink: OutputSink,
    run: (sink: OutputSink) => Promise<GhcRun>,
    restoring = true,
  ): Promise<number> {
    const { cwd, make, sources, key } = b;
    const saved = restoring ? await this.store.readManifest(key) : null;
    if (saved === null && restoring) await this.#explainMiss(b.target, key, b.parts);
    const before = await scanOutputs(cwd, make.outputDirs);
    const plan = planRestore(saved?.modules ?? [], sources, new Set(before.keys()));
    // One time for every restored file, no older than any source: GHC 9.0 compares an object's time with
    // its source's, 9.4 and later also want objects no older than their interfaces.
    const timeMs = Math.ceil(Math.max(Date.now(), ...sources.map((s) => s.mtimeMs)));
    const restored = await restoreOutputs(this.store, cwd, plan.restore, timeMs, b.umask);
    if (restored.length > 0) this.stats.hits++;
    this.stats.modulesRestored += restored.length;
    const unrestorable = plan.restore.filter((r) => !restored.includes(r))
      .map((r) => ({ module: r.module, reason: "a stored file is missing or damaged" }));
    log.debug(
      "Incremental build {key}: restored {restored} of {saved} saved modules, {kept} kept in the output " +
        "directories; not restored: {skipped}",
      {
        key: key.slice(0, 12),
        restored: restored.length,
        saved: saved?.modules.length ?? 0,
        kept: plan.kept.length,
        skipped: describeSkipped([...plan.skipped, ...unrestorable]) || "none",
      },
    );

    // With nothing restored this is a clean build already: its output streams as it comes. Otherwise it
    // is held back until GHC's exit code says whether this attempt stands.
    const captured = new CapturingSink(restored.length === 0 ? sink : null);
    // Modules GHC skipped may keep interfaces a cold build would write otherwise: those are compiled again,
    // their output added to the first run's (they printed nothing in it). A module ran code if it did in any
    // run; unknown if any run could not tell.
    let ranCode: Set<string> | null = new Set();
    let built: GhcRun["moduleSources"];
    const runOnce = async (): Promise<GhcRun> => {
      const r = await run(captured);
      ranCode = ranCode === null || r.ranCode === null ? null : new Set([...ranCode, ...r.ranCode]);
      built = r.moduleSources;
      return r;
    };
    const { code, settled } = await rebuildStale(cwd, make.outputDirs, await runOnce(), runOnce);
    const nameOf = builtNames(cwd, sources, built);
    // A module restored under a name GHC did not build from its source (a CPP include or a preprocessor
    // named it anew) would leave its outputs behind, where a clean build has none.
    const misnamed = restored.filter((r) => nameOf(r.source) !== r.module).map((r) => r.module);
    if (misnamed.length > 0 && code === 0 && settled) {
      log.debug("Restored modules GHC did not build under their names: {modules}", {
        modules: misnamed.join(" "),
      });
    }
    if ((code !== 0 || !settled || misnamed.length > 0) && restored.length > 0) {
      // A failed build's diagnostics and outputs depend on how far GHC got, which skipped modules change;
      // a build whose interfaces may still be stale, or that holds outputs of a module it did not build,
      // is not a clean build's either. Either is done again from the output directories as they were,
      // exactly as a clean build.
      this.stats.redoneClean++;
      await removeNewOutputs(cwd, make.outputDirs, before);
      // Saved as well, so that the next build restores what GHC built now (say, a module by its new name).
      return await this.#build(b, sink, run, false);
    }
    await captured.flush(sink);
    // A failed build prints what GHC printed, as in a developer's tree: which warnings a clean build
    // would print before failing depends on how far it would get, which nothing here knows.
    if (code !== 0) return code;
    const after = await scanOutputs(cwd, make.outputDirs);
    const compiled = compiledModules(captured.printedStdout(), after, before, restored, timeMs);
    // A module that ran code was compiled, whatever its files say.
    for (const module of ranCode ?? []) compiled.add(module);
    this.stats.modulesRecompiled += compiled.size;
    const diagnostics = parseDiagnostics(
      b.mergedOutput ? captured.printedStdout() : captured.printedStderr(),
    );
    const skippedKept = await keptAsSaved(
      cwd,
      plan.kept.filter((r) => !compiled.has(r.module) && nameOf(r.source) === r.module),
      after,
    );
    // A skipped module prints nothing: its warnings come from the build that compiled it. Printed after
    // GHC's own, as the set a clean build prints (the order of modules is GHC's to choose).
    const replay = [...restored.filter((r) => !compiled.has(r.module)), ...skippedKept]
      .filter((r) => !mentions(diagnostics, r.source));
    const warnings = replay.flatMap((r) => r.warnings);
    if (warnings.length > 0) {
      this.stats.warningsReplayed += warnings.length;
      await sink.stderr(encoder.encode(replayText(warnings)));
    }

    const save = this.#saving.then(() =>
      this.#save(b, nameOf, after, compiled, ranCode, [...restored, ...skippedKept], diagnostics)
    );
    this.#saving = save.catch(() => {});
    await save.catch((e) => {
      this.stats.saveFailures++;
      log.warn("Could not save the incremental build (the build itself is fine): {error}", {
        error: e instanceof Error ? e.message : String(e),
      });
    });
    return code;
  }

  /** Logs why nothing is saved under `key`: what changed since the target's last saved build. */
  async #explainMiss(target: string, key: string, parts: KeyParts): Promise<void> {
    const last = await this.store.readTarget(target);
    const why = last === null
      ? "no earlier build of this target (working and output directories) is saved"
      : last.key === key
      ? "its saved entry is gone (evicted, or damaged and dropped)"
      : `since the last saved build of this target: ${
        describeKeyChange(last.parts, parts).join("; ") || "nothing known changed"
      }`;
    log.debug("Incremental build {key}: nothing saved under this key; {why}", { key: key.slice(0, 12), why });
  }

  /**
   * Saves a successful build's outputs under `key`, unless a source changed while GHC ran, each module
   * under the name GHC built it by (`nameOf` its source): each module GHC compiled anew (with whether it
   * ran code, `ranCode`; where that is unknown, as if it had), and each it skipped whose files are known
   * (`unchanged`: restored, or kept as saved, with what they ran then).
   */
  async #save(
    { target, parts, key, cwd, sources }: KeyedBuild,
    nameOf: (source: string) => string | null,
    after: ReadonlyMap<string, FoundOutput[]>,
    compiled: ReadonlySet<string>,
    ranCode: ReadonlySet<string> | null,
    unchanged: readonly ModuleRecord[],
    diagnostics: readonly Diagnostic[],
  ): Promise<void> {
    const now = await readSources(cwd, sources.map((s) => s.source));
    if (
      now === null ||
      now.some((s, i) => s.sourceHash !== sources[i].sourceHash || s.bootHash !== sources[i].bootHash)
    ) {
      log.debug("Not saving: a source changed during the build");
      return;
    }
    const unchangedBy = new Map(unchanged.map((r) => [r.module, r]));
    const modules: ModuleRecord[] = [];
    for (const s of sources) {
      // Modules that ran code are saved too, never to be restored, but for their warnings when a build
      // tool keeps their outputs and GHC skips them.
      const module = nameOf(s.source);
      if (module === null) continue;
      const found = after.get(module);
      if (found === undefined) continue;
      const known = unchangedBy.get(module);
      let record: ModuleRecord;
      if (known !== undefined && !compiled.has(module)) {
        record = known;
      } else if (compiled.has(module)) {
        const files: OutputFile[] = [];
        for (const f of found) {
          const bytes = await Deno.readFile(`${resolve(cwd, f.dir)}/${f.path}`);
          const hash = sha256(bytes);
          await this.store.writeBlob(hash, bytes);
          files.push({ dir: f.dir, path: f.path, hash, size: bytes.length });
        }
        record = {
          module,
          source: s.source,
          sourceHash: s.sourceHash,
          bootHash: s.bootHash,
          files,
          ranCode: ranCode === null || ranCode.has(module),
          warnings: warningsOf(diagnostics, s.source),
        };
      } else {
        // Outputs the build tool kept from a build not saved here: their warnings are unknown.
        continue;
      }
      modules.push(record);
    }
    const manifest: Manifest = { version: MANIFEST_VERSION, key, modules };
    await this.store.writeManifest(manifest);
    await this.store.writeTarget(target, { key, parts });
    this.stats.saves++;
    await this.store.evict();
  }

  /**
   * The GHC's identity for the key: its binary and its settings (which name the C toolchain), and what
   * its workers keep.
   */
  #ghcIdentity(): Promise<string> {
    return this.#identity ??= (async () => {
      const real = await Deno.realPath(this.ghc.ghc).catch(() => this.ghc.ghc);
      const info = await Deno.stat(real);
      const settings = await Deno.readFile(`${this.ghc.libdir}/settings`).catch(() => new Uint8Array());
      return [
        real,
        info.size,
        info.mtime?.getTime(),
        this.ghc.version,
        this.ghc.libdir,
        sha256(settings),
        this.ghc.share,
      ].join("|");
    })();
  }
}

/** Reads and hashes the sources (and their boot files); null if one cannot be read (GHC will say so). */
async function readSources(cwd: string, paths: readonly string[]): Promise<ReadSource[] | null> {
  try {
    return await Promise.all(paths.map(async (source) => {
      const full = resolve(cwd, source);
      const [bytes, info] = await Promise.all([Deno.readFile(full), Deno.stat(full)]);
      const boot = await Deno.readFile(`${full}-boot`).catch(() => null);
      const bootInfo = boot === null ? null : await Deno.stat(`${full}-boot`);
      const header = readModuleHeader(new TextDecoder().decode(bytes), full.endsWith(".lhs"));
      return {
        source,
        module: header.name,
        pragmaRunsCode: header.pragmaRunsCode,
        sourceHash: sha256(bytes),
        bootHash: boot === null ? null : sha256(boot),
        mtimeMs: Math.max(info.mtime?.getTime() ?? 0, bootInfo?.mtime?.getTime() ?? 0),
      };
    }));
  } catch {
    return null;
  }
}

/**
 * The name GHC built each source under, by source as the command line gave it: as the worker reported
 * (`built`; a source it did not report was not built by any name); where nobody reported, the name its
 * header gives, if it gives one.
 */
function builtNames(
  cwd: string,
  sources: readonly ReadSource[],
  built: GhcRun["moduleSources"],
): (source: string) => string | null {
  if (built === undefined) {
    const byHeader = new Map(sources.map((s) => [s.source, s.module]));
    return (source) => byHeader.get(source) ?? null;
  }
  const byPath = new Map<string, string | null>();
  for (const { module, source } of built) {
    const path = resolve(cwd, source);
    // Two modules from one file cannot be told apart: neither is known.
    byPath.set(path, byPath.has(path) ? null : module);
  }
  return (source) => byPath.get(resolve(cwd, source)) ?? null;
}

/**
 * The modules GHC compiled: those it names in a `Compiling` line (at -v1 and above), those whose
 * outputs it wrote (a restored file no longer as restored, or a module that had none).
 */
export function compiledModules(
  stdout: string,
  after: ReadonlyMap<string, readonly FoundOutput[]>,
  before: ReadonlyMap<string, readonly FoundOutput[]>,
  restored: readonly ModuleRecord[],
  timeMs: number,
): Set<string> {
  const compiled = new Set<string>();
  for (const m of stdout.matchAll(/^\[\s*\d+ of \d+\] Compiling ([\w.']+)( |$)/gm)) compiled.add(m[1]);
  const restoredBy = new Map(restored.map((r) => [r.module, r]));
  for (const [module, files] of after) {
    const r = restoredBy.get(module);
    if (r !== undefined) {
      const same = files.length === r.files.length &&
        files.every((f) =>
          f.mtimeMs === timeMs &&
          r.files.some((s) => s.dir === f.dir && s.path === f.path && s.size === f.size)
        );
      if (!same) compiled.add(module);
    } else {
      const old = before.get(module);
      const same = old !== undefined && files.length === old.length &&
        files.every((f) =>
          old.some((o) =>
            o.dir === f.dir && o.path === f.path && o.size === f.size && o.mtimeMs === f.mtimeMs
          )
        );
      if (!same) compiled.add(module);
    }
  }
  return compiled;
}

/**
 * The kept modules whose files in the output directories are exactly the saved ones (same names and
 * content): what GHC skipped of them is what that saved build wrote, warnings included.
 */
async function keptAsSaved(
  cwd: string,
  kept: readonly ModuleRecord[],
  after: ReadonlyMap<string, readonly FoundOutput[]>,
): Promise<ModuleRecord[]> {
  const same: ModuleRecord[] = [];
  for (const record of kept) {
    const files = after.get(record.module) ?? [];
    if (files.length !== record.files.length) continue;
    let matches = true;
    for (const f of files) {
      const saved = record.files.find((s) => s.dir === f.dir && s.path === f.path);
      const bytes = saved?.size === f.size
        ? await Deno.readFile(`${resolve(cwd, f.dir)}/${f.path}`).catch(() => null)
        : null;
      if (bytes === null || sha256(bytes) !== saved!.hash) {
        matches = false;
        break;
      }
    }
    if (matches) same.push(record);
  }
  return same;
}

/** Deletes every file of the output directories that was not there before the build. */
async function removeNewOutputs(
  cwd: string,
  dirs: readonly string[],
  before: ReadonlyMap<string, readonly FoundOutput[]>,
): Promise<void> {
  const kept = new Set([...before.values()].flat().map((f) => `${f.dir}\0${f.path}`));
  for (const files of (await scanOutputs(cwd, dirs)).values()) {
    for (const f of files) {
      if (!kept.has(`${f.dir}\0${f.path}`)) {
        await Deno.remove(`${resolve(cwd, f.dir)}/${f.path}`).catch(() => {});
      }
    }
  }
}

/** Keeps a copy of GHC's output for after the build; passes it on at once, or holds it back until flushed. */
class CapturingSink implements OutputSink {
  #chunks: { stream: "stdout" | "stderr"; chunk: Uint8Array }[] = [];
  constructor(private inner: OutputSink | null) {}
  stdout(chunk: Uint8Array): Promise<void> {
    this.#chunks.push({ stream: "stdout", chunk: chunk.slice() });
    return this.inner?.stdout(chunk) ?? Promise.resolve();
  }
  stderr(chunk: Uint8Array): Promise<void> {
    this.#chunks.push({ stream: "stderr", chunk: chunk.slice() });
    return this.inner?.stderr(chunk) ?? Promise.resolve();
  }
  /** Writes what was held back to `sink`, in the order GHC printed it. */
  async flush(sink: OutputSink): Promise<void> {
    if (this.inner !== null) return;
    for (const { stream, chunk } of this.#chunks) await sink[stream](chunk);
  }
  /** What GHC printed on stdout. */
  printedStdout(): string {
    return decode(this.#chunks.filter((c) => c.stream === "stdout").map((c) => c.chunk));
  }
  /** What GHC printed on stderr. */
  printedStderr(): string {
    return decode(this.#chunks.filter((c) => c.stream === "stderr").map((c) => c.chunk));
  }
}

function decode(chunks: Uint8Array[]): string {
  const decoder = new TextDecoder();
  return chunks.map((c) => decoder.decode(c, { stream: true })).join("") + decoder.decode();
}
