/**
 * A module's phases inside `ghc --make`, from GHC's own `-ddump-timings` (lines such as
 * `Renamer/typechecker [A.B]: alloc=123 time=4.5`), grouped into the stages a ghcpw worker reports
 * (lib/plugin/Ghcpw/Stages.hs), so the benchmark can print the two side by side. GHC's times are the
 * CPU time of the ghc process, in ms: what child processes take (the assembler) does not show.
 *
 * @module
 */

/** Phases by stage, for one module, in ms. */
export type StageTimes = Record<string, number>;

const TIMING = /^(.+?)(?: \[([^\]]+)\])?: alloc=\d+ time=([\d.]+)$/;
const COMPILING = /^\[\s*\d+ of \d+\] Compiling (\S+)/;

/** The stage a `-ddump-timings` label belongs to, as ghcpw's workers name them. */
export function stageOfPhase(label: string): string {
  if (label === "Parser" || label === "Renamer/typechecker") return "frontend";
  if (label === "CorePrep" || label === "CoreToStg" || label === "CodeGen" || label.startsWith("Cmm")) {
    return "codegen";
  }
  if (label.startsWith("systool:as")) return "assemble";
  if (label.startsWith("systool:cc")) return "cc";
  // Desugar, CoreTidy and every Core-to-Core pass (Simplifier, Float out, ...).
  return "desugar-simplify";
}

/**
 * Each module's phases, grouped by stage, from a `--make -ddump-timings` build's output. Lines without a
 * module (the assembler's, `systool:as`) belong to the module being compiled; lines before the first
 * module (unit databases, dependency chasing) belong to none.
 */
export function parseMakeTimings(output: string): Map<string, StageTimes> {
  const modules = new Map<string, StageTimes>();
  let current: string | null = null;
  for (const line of output.split("\n")) {
    const compiling = COMPILING.exec(line);
    if (compiling) {
      current = compiling[1];
      continue;
    }
    const m = TIMING.exec(line);
    if (m === null) continue;
    const module = m[2] ?? current;
    if (module === null || (m[2] === undefined && !m[1].startsWith("systool:"))) continue;
    const stages = modules.get(module) ?? {};
    const stage = stageOfPhase(m[1]);
    stages[stage] = (stages[stage] ?? 0) + Number(m[3]);
    modules.set(module, stages);
  }
  return modules;
}
