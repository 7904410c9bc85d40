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
import { keyEnvironment, packageStateOf, packageStatePaths, targetKey } from "./key.ts";
import { readMakeArgs } from "./make_args.ts";
import { type Manifest, MANIFEST_VERSION, type ModuleRecord, type OutputFile } from "./manifest.ts";
import { readModuleHeader } from "./module_header.ts";
import { type FoundOutput, restoreOutputs, scanOutputs } from "./outputs.ts";
import { type CurrentSource, planRestore } from "./plan.ts";
import type { Store } from "./store.ts";
import type { OutputSink } from "../output.ts";

const log = getLogger(["ghcpw", "incremental"]);
const encoder = new TextEncoder();

/** The variable that turns incremental builds on (1) or off (0) for one invocation. */
export const INCREMENTAL_ENV = "GHCPW_INCREMENTAL";

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
  /** Builds that failed with modules restored, and so were done again as clean builds. */
  redoneClean: number;
}

/** An invocation as an incremental build sees it. */
export interface MakeInvocation {
  /** ghc's arguments as a worker receives them (response files expanded, mode flags out). */
  args: readonly string[];
  cwd: string;
  env: Readonly<Record<string, string>>;
  stderrIsTerminal: boolean;
}

/** The GHC whose builds are cached. */
export interface CachedGhc {
  ghc: string;
  version: string;
  libdir: string;
}

/** A module source as read before the build. */
interface ReadSource extends CurrentSource {
  mtimeMs: number;
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

  /** `enabled`: the default for invocations that do not set GHCPW_INCREMENTAL. */
  constructor(readonly store: Store, readonly ghc: CachedGhc, readonly enabled: boolean) {}

  /**
   * Runs a `--make` build (`run`, writing to the sink it is given) incrementally when it can; any other
   * invocation, or one it cannot serve safely, runs unchanged. Resolves to GHC's exit code.
   */
  async build(
    invocation: MakeInvocation,
    sink: OutputSink,
    run: (sink: OutputSink) => Promise<number>,
  ): Promise<number> {
    const wanted = invocation.env[INCREMENTAL_ENV];
    if (wanted === "0" || (!this.enabled && wanted !== "1")) return await run(sink);
    const make = readMakeArgs(invocation.args);
    if (make.refusal !== null) {
      log.debug("Not incremental: {reason}", { reason: make.refusal });
      return await run(sink);
    }
    this.stats.builds++;
    const { cwd } = invocation;
    const sources = await readSources(cwd, make.sources);
    if (sources === null) return await run(sink);
    const statePaths = await packageStatePaths(
      cwd,
      this.ghc.libdir,
      make.packageDbs,
      make.packageEnv,
      invocation.env,
    );
    const key = targetKey({
      ghc: await this.#ghcIdentity(),
      args: make.keyArgs,
      cwd,
      env: keyEnvironment(invocation.env),
      colour: invocation.stderrIsTerminal,
      packageState: await Promise.all(statePaths.map(async (p) => [p, await packageStateOf(p)] as const)),
    });
    const saved = await this.store.readManifest(key);
    const before = await scanOutputs(cwd, make.outputDirs);
    const plan = planRestore(saved?.modules ?? [], sources, new Set(before.keys()));
    // One time for every restored file, no older than any source: GHC 9.0 compares an object's time with
    // its source's, 9.4 and later also want objects no older than their interfaces.
    const timeMs = Math.ceil(Math.max(Date.now(), ...sources.map((s) => s.mtimeMs)));
    const restored = await restoreOutputs(this.store, cwd, plan.restore, timeMs);
    if (restored.length > 0) this.stats.hits++;
    this.stats.modulesRestored += restored.length;
    log.debug("Incremental build {key}: restored {restored} of {saved} saved modules", {
      key: key.slice(0, 12),
      restored: restored.length,
      saved: saved?.modules.length ?? 0,
    });

    // With nothing restored this is a clean build already: its output streams as it comes. Otherwise it
    // is held back until GHC's exit code says whether this attempt stands.
    const captured = new CapturingSink(restored.length === 0 ? sink : null);
    const code = await run(captured);
    if (code !== 0 && restored.length > 0) {
      // A failed build's diagnostics and outputs depend on how far GHC got, which skipped modules change:
      // it is done again from the output directories as they were, exactly as a clean build.
      this.stats.redoneClean++;
      await removeNewOutputs(cwd, make.outputDirs, before);
      return await run(sink);
    }
    await captured.flush(sink);
    const after = await scanOutputs(cwd, make.outputDirs);
    const compiled = compiledModules(captured.printedStdout(), after, before, restored, timeMs);
    this.stats.modulesRecompiled += compiled.size;
    const diagnostics = parseDiagnostics(captured.printedStderr());
    // A skipped module prints nothing: its warnings come from the build that compiled it. Printed after
    // GHC's own, as the set a clean build prints (the order of modules is GHC's to choose).
    const replay = restored.filter((r) => !compiled.has(r.module) && !mentions(diagnostics, r.source));
    const warnings = replay.flatMap((r) => r.warnings);
    if (warnings.length > 0) {
      this.stats.warningsReplayed += warnings.length;
      await sink.stderr(encoder.encode(replayText(warnings)));
    }
    if (code !== 0) return code;

    const save = this.#saving.then(() =>
      this.#save(
        key,
        cwd,
        sources,
        after,
        compiled,
        restored,
        diagnostics,
      )
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

  /** Saves a successful build's outputs under `key`, unless a source changed while GHC ran. */
  async #save(
    key: string,
    cwd: string,
    sources: readonly ReadSource[],
    after: ReadonlyMap<string, FoundOutput[]>,
    compiled: ReadonlySet<string>,
    restored: readonly ModuleRecord[],
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
    const restoredBy = new Map(restored.map((r) => [r.module, r]));
    const modules: ModuleRecord[] = [];
    for (const s of sources) {
      // Never restored, so not worth keeping.
      if (s.module === null || s.usesSplices) continue;
      const found = after.get(s.module);
      if (found === undefined) continue;
      const kept = restoredBy.get(s.module);
      let record: ModuleRecord;
      if (kept !== undefined && !compiled.has(s.module)) {
        record = kept;
      } else if (compiled.has(s.module)) {
        const files: OutputFile[] = [];
        for (const f of found) {
          const bytes = await Deno.readFile(`${resolve(cwd, f.dir)}/${f.path}`);
          const hash = sha256(bytes);
          await this.store.writeBlob(hash, bytes);
          files.push({ dir: f.dir, path: f.path, hash, size: bytes.length });
        }
        record = {
          module: s.module,
          source: s.source,
          sourceHash: s.sourceHash,
          bootHash: s.bootHash,
          files,
          warnings: warningsOf(diagnostics, s.source),
        };
      } else {
        // Outputs the build tool kept and GHC did not touch: their warnings are unknown here.
        continue;
      }
      modules.push(record);
    }
    const manifest: Manifest = { version: MANIFEST_VERSION, key, modules };
    await this.store.writeManifest(manifest);
    this.stats.saves++;
    await this.store.evict();
  }

  /** The GHC's identity for the key: its binary and its settings (which name the C toolchain). */
  #ghcIdentity(): Promise<string> {
    return this.#identity ??= (async () => {
      const real = await Deno.realPath(this.ghc.ghc).catch(() => this.ghc.ghc);
      const info = await Deno.stat(real);
      const settings = await Deno.readFile(`${this.ghc.libdir}/settings`).catch(() => new Uint8Array());
      return [real, info.size, info.mtime?.getTime(), this.ghc.version, this.ghc.libdir, sha256(settings)]
        .join("|");
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
        usesSplices: header.usesSplices,
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
