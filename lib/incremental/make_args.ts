/**
 * What an incremental build needs to know about a `--make` command line: its Haskell sources, where GHC
 * writes its outputs, and whether anything on it rules restoring out. Pure: the arguments are those a
 * worker receives (response files expanded, mode flags taken out).
 *
 * @module
 */

/** Flags that take the next argument as their value (so that value is never a source). */
const FLAGS_WITH_VALUE = new Set([
  "-o",
  "-odir",
  "-hidir",
  "-hiedir",
  "-stubdir",
  "-dumpdir",
  "-outputdir",
  "-ohi",
  "-osuf",
  "-hisuf",
  "-hiesuf",
  "-hcsuf",
  "-dynosuf",
  "-dynhisuf",
  "-package",
  "-package-id",
  "-hide-package",
  "-ignore-package",
  "-trust",
  "-distrust",
  "-package-db",
  "-package-conf",
  "-package-env",
  "-this-unit-id",
  "-this-package-key",
  "-package-name",
  "-working-dir",
  "-main-is",
  "-x",
  "-tmpdir",
  "-plugin-package",
  "-plugin-package-id",
  "-framework",
  "-framework-path",
  "-dep-suffix",
  "-dep-makefile",
  "-ghci-script",
  "-dylib-install-name",
  "-unit",
  "-instantiated-with",
  "-reexported-module",
  "-home-unit",
]);

/** The directory flags GHC writes a module's outputs under, and what -outputdir stands for. */
const DIR_FLAGS = ["-odir", "-hidir", "-hiedir", "-stubdir"] as const;

/** Source file suffixes of Haskell modules (a boot file belongs to the module of the same name). */
const SOURCE = /\.(l?hs|l?hs-boot)$/;

/** A `--make` command line, read for an incremental build. */
export interface MakeArgs {
  /** The module sources as given (relative to the working directory or absolute), boot files left out. */
  sources: string[];
  /** Every argument but the sources (boot files included), in order: what the cache key hashes. */
  keyArgs: string[];
  /** The output directories given (-odir, -hidir, -hiedir, -stubdir, or -outputdir), as given. */
  outputDirs: string[];
  /** The package databases named on the command line, as given. */
  packageDbs: string[];
  /** A package environment file named on the command line, if any. */
  packageEnv?: string;
  /** Why outputs must not be restored for this command line, or null if they may. */
  refusal: string | null;
}

/** Reads a `--make` command line (arguments as a worker receives them). */
export function readMakeArgs(args: readonly string[]): MakeArgs {
  const sources: string[] = [];
  const keyArgs: string[] = [];
  const dirs: Partial<Record<(typeof DIR_FLAGS)[number], string>> = {};
  const packageDbs: string[] = [];
  let packageEnv: string | undefined;
  let refusal: string | null = null;
  let writesHie = false;
  let forceRecomp = false;
  const refuse = (why: string) => refusal ??= why;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (FLAGS_WITH_VALUE.has(arg)) {
      const value = args[++i];
      keyArgs.push(arg);
      if (value === undefined) {
        refuse(`${arg} without a value`);
        break;
      }
      keyArgs.push(value);
      if (arg === "-outputdir") { for (const flag of DIR_FLAGS) dirs[flag] = value; }
      else if ((DIR_FLAGS as readonly string[]).includes(arg)) {
        dirs[arg as (typeof DIR_FLAGS)[number]] = value;
      } else if (arg === "-package-db" || arg === "-package-conf") packageDbs.push(value);
      else if (arg === "-package-env") packageEnv = value;
      continue;
    }
    if (!arg.startsWith("-") && SOURCE.test(arg)) {
      // Boot files stay in the key: whether a module has one is part of the target's state.
      if (/-boot$/.test(arg)) keyArgs.push(arg);
      else sources.push(arg);
      continue;
    }
    keyArgs.push(arg);
    if (arg === "-fforce-recomp" || arg === "-fno-force-recomp") forceRecomp = arg === "-fforce-recomp";
    else if (arg.startsWith("-ddump-")) refuse(`${arg} writes dumps only for the modules GHC compiles`);
    else if (/\.l?hsig$/.test(arg)) refuse("signatures (.hsig) are not restored");
    else if (arg === "-fwrite-ide-info") writesHie = true;
    else if (arg === "-fno-write-ide-info") writesHie = false;
    else if (arg.startsWith("-fplugin")) refuse(`${arg}: a plugin may depend on anything`);
    else if (arg === "-F") refuse("-F: a source preprocessor may depend on anything");
  }
  if (forceRecomp) refuse("-fforce-recomp asks for every module to be compiled");
  if (dirs["-odir"] === undefined || dirs["-hidir"] === undefined) {
    // Without both, outputs go beside the sources, where they survive between builds anyway.
    refuse("no -odir and -hidir (or -outputdir): outputs stay beside the sources");
  }
  if (writesHie && dirs["-hiedir"] === undefined) refuse("-fwrite-ide-info without -hiedir");
  const outputDirs = [...new Set(Object.values(dirs))];
  return { sources, keyArgs, outputDirs, packageDbs, packageEnv, refusal };
}
