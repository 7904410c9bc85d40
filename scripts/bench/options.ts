/**
 * Reading the benchmark's command-line values, shared by its scenarios (scripts/bench.ts and
 * scripts/bench/incremental.ts).
 *
 * @module
 */

import { chooseGhc } from "../../lib/ghc/installation.ts";
import { GHCPW_MAIN } from "./server.ts";

/** The options every scenario takes, as a table for parseArgs; each adds its own. */
export const SHARED_OPTIONS = {
  project: { type: "string", multiple: true },
  seed: { type: "string" },
  ghc: { type: "string" },
  "ghcpw-main": { type: "string" },
  keep: { type: "boolean" },
  verbose: { type: "boolean", short: "v" },
  help: { type: "boolean", short: "h" },
} as const;

/** The values of {@linkcode SHARED_OPTIONS}, read. */
export interface SharedOptions {
  projects: string[];
  /** The synthetic project's seed. */
  seed: number;
  ghc: string;
  /** The ghcpw entry point to benchmark (main.ts). */
  ghcpwMain: string;
  keep: boolean;
  verbose: boolean;
}

/** Reads the values of {@linkcode SHARED_OPTIONS} (`defaultProjects` without --project); throws naming a bad one. */
export function readSharedOptions(
  values: {
    project?: string[];
    seed?: string;
    ghc?: string;
    "ghcpw-main"?: string;
    keep?: boolean;
    verbose?: boolean;
  },
  defaultProjects: string[],
): SharedOptions {
  const projects = listOption(values.project ?? defaultProjects);
  for (const p of projects) {
    if (!/^[a-z0-9][a-z0-9-]*$/.test(p)) throw new Error(`--project: "${p}" is not a project name`);
  }
  return {
    projects: [...new Set(projects)],
    seed: wholeNumber("--seed", values.seed ?? "1", 0),
    ghc: chooseGhc(values.ghc),
    ghcpwMain: values["ghcpw-main"] ?? GHCPW_MAIN,
    keep: values.keep ?? false,
    verbose: values.verbose ?? false,
  };
}

/** An option's value as a whole number of at least `min`; anything else is an error naming the option. */
export function wholeNumber(option: string, text: string, min: number): number {
  const n = Number(text);
  if (text.trim() === "" || !Number.isInteger(n) || n < min) {
    throw new Error(`${option} needs a whole number >= ${min}, got "${text}"`);
  }
  return n;
}

/** A repeatable option's values, each of which may also be a comma-separated list. */
export function listOption(values: string[]): string[] {
  return values.flatMap((v) => v.split(",")).map((v) => v.trim()).filter(Boolean);
}
