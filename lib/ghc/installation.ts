/**
 * Which ghc a command means, and facts about one GHC installation that ghcpw needs: where its binaries
 * are, its version and libdir, and the identity of its `ghc` package (which the plugin is built against).
 *
 * @module
 */

/** One GHC installation. */
export interface GhcInstallation {
  /** The ghc executable as the user named it (what fallback runs). */
  ghc: string;
  /** The matching ghc-pkg. */
  ghcPkg: string;
  version: string;
  libdir: string;
  /** Unit id and ABI hash of the `ghc` package; empty if the installation has no `ghc` package. */
  ghcUnitId: string;
  ghcAbi: string;
}

/** The GHC cannot be used: not found, not runnable, or missing what ghcpw needs. */
export class GhcError extends Error {
  override name = "GhcError";
}

/** Runs a GHC tool and returns its stdout, or throws {@linkcode GhcError} saying what failed. */
export async function runTool(tool: string, args: string[], options: { env?: Record<string, string> } = {}) {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(tool, { args, env: options.env, stdin: "null" }).output();
  } catch (e) {
    throw new GhcError(`cannot run ${tool}: ${e instanceof Error ? e.message : e}`);
  }
  const stdout = new TextDecoder().decode(output.stdout);
  if (!output.success) {
    const stderr = new TextDecoder().decode(output.stderr).trim();
    throw new GhcError(
      `${tool} ${args.join(" ")} failed (exit ${output.code})${stderr ? `: ${stderr}` : ""}`,
    );
  }
  return stdout;
}

/** Finds an executable on PATH, as a shell would; returns the name unchanged if it holds a slash. */
export function findExecutable(name: string, path = Deno.env.get("PATH") ?? ""): string | null {
  if (name.includes("/")) return name;
  for (const dir of path.split(":")) {
    const candidate = `${dir || "."}/${name}`;
    try {
      const info = Deno.statSync(candidate);
      if (info.isFile && (info.mode ?? 0o111) & 0o111) return candidate;
    } catch {
      // not in this directory
    }
  }
  return null;
}

/** The ghc a command means: its `--ghc` option if given, else $GHCPW_GHC, else ghc on PATH. */
export function chooseGhc(option: string | undefined): string {
  return option ?? (Deno.env.get("GHCPW_GHC") || "ghc");
}

/**
 * Finds the ghc named `name` (a name on PATH or a path), or throws {@linkcode GhcError} saying how to
 * name one: every command that needs the real ghc fails the same way without it.
 */
export function findGhc(name: string): string {
  const found = findExecutable(name);
  if (found === null) throw new GhcError(`cannot find ${name} on PATH; pass --ghc PATH or set GHCPW_GHC`);
  return found;
}

/** The real path of an executable as a command line names it (PATH lookup, symlinks resolved). */
export function realExecutablePath(name: string): string {
  const path = findExecutable(name) ?? name;
  try {
    return Deno.realPathSync(path);
  } catch {
    return path;
  }
}

/** The ghc-pkg that belongs to a ghc: beside it, versioned first (as GHC installs them), then plain. */
export function findGhcPkg(ghc: string, version: string): string {
  const dirs = [ghc.slice(0, ghc.lastIndexOf("/"))];
  try {
    const real = Deno.realPathSync(ghc);
    dirs.push(real.slice(0, real.lastIndexOf("/")));
  } catch {
    // the ghc path itself will fail to run and say so
  }
  const suffix = ghc.slice(ghc.lastIndexOf("/") + 1).replace(/^ghc/, "");
  for (const dir of dirs) {
    for (const name of [`ghc-pkg${suffix}`, `ghc-pkg-${version}`, "ghc-pkg"]) {
      try {
        if (Deno.statSync(`${dir}/${name}`).isFile) return `${dir}/${name}`;
      } catch {
        // try the next name
      }
    }
  }
  throw new GhcError(`cannot find the ghc-pkg of ${ghc}; pass --ghc-pkg PATH`);
}

/** Inspects a GHC installation (about 100 ms: three short ghc runs). */
export async function inspectGhc(ghcName: string, ghcPkgOverride?: string): Promise<GhcInstallation> {
  const ghc = findGhc(ghcName);
  const [version, libdir] = (await Promise.all([
    runTool(ghc, ["--numeric-version"]),
    runTool(ghc, ["--print-libdir"]),
  ])).map((s) => s.trim());
  const ghcPkg = ghcPkgOverride ?? findGhcPkg(ghc, version);
  let ghcUnitId = "";
  let ghcAbi = "";
  try {
    const fields = await runTool(ghcPkg, ["field", "ghc", "id,abi", "--simple-output", "--global"]);
    [ghcUnitId, ghcAbi] = fields.trim().split(/\s+/);
  } catch {
    // No ghc package: the plugin build reports it with advice.
  }
  return { ghc, ghcPkg, version, libdir, ghcUnitId: ghcUnitId ?? "", ghcAbi: ghcAbi ?? "" };
}
