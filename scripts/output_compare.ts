/**
 * The oracle's comparison of output trees: whether a file ghcpw wrote equals the one plain ghc wrote for
 * the same invocation. The tests (tests/support/helpers.ts) and the benchmark (scripts/bench/builds.ts) judge
 * with this one definition, so the benchmark's "byte-identical" means what the tests check.
 *
 * @module
 */

/** Every file under `dir` (paths relative to it, sorted); none for a directory that does not exist. */
export async function listFiles(dir: string, prefix = ""): Promise<string[]> {
  const found: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(`${dir}/${prefix}`));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound && prefix === "") return [];
    throw e;
  }
  for (const entry of entries) {
    const rel = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory) found.push(...await listFiles(dir, rel));
    else found.push(rel);
  }
  return found.sort();
}

/** Whether two files hold the same bytes. */
export async function sameBytes(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([Deno.readFile(a), Deno.readFile(b)]);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/**
 * Where a path recorded by GHC (relative to the compile's working directory) lies in both trees: the path
 * itself, or its shortest suffix present in both (a build system's trees hold its outputs under a prefix).
 */
async function locate(path: string, ...trees: string[]): Promise<string | null> {
  const parts = path.replace(/^\.\//, "").split("/");
  for (let i = 0; i < parts.length; i++) {
    const candidate = parts.slice(i).join("/");
    const present = await Promise.all(
      trees.map((t) => Deno.stat(`${t}/${candidate}`).then(() => true, () => false)),
    );
    if (present.every((p) => p)) return candidate;
  }
  return null;
}

/** The lines of `xs` that `ys` lacks, counting repeats: what a report of two interfaces' difference shows. */
function missingFrom(ys: string[], xs: string[]): string[] {
  const left = new Map<string, number>();
  for (const y of ys) left.set(y, (left.get(y) ?? 0) + 1);
  return xs.filter((x) => {
    const n = left.get(x) ?? 0;
    left.set(x, n - 1);
    return n <= 0;
  });
}

/** `ghc --show-iface FILE` run in `cwd`, or null if it fails. */
async function showInterface(ghc: string, file: string, cwd: string): Promise<string | null> {
  const out = await new Deno.Command(ghc, {
    args: ["--show-iface", file],
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).output();
  return out.success ? new TextDecoder().decode(out.stdout) : null;
}

/**
 * Why `file` of ghcpw's tree (`warm`) differs from the same file of ghc's (`cold`), or null if it does
 * not; `ghc` reads interfaces for the one allowed difference.
 *
 * Interface files must be byte-identical, with one exception that is narrow and checked, not assumed:
 * since GHC 9.4 a module whose splices run home-package code records the hash of each home object file
 * it loaded (`addDependentFile "X.dyn_o" HASH`), and objects from any long-lived GHC process differ from
 * a fresh ghc's in the names of local symbols (uniques; see README, "Object files"). An interface that
 * differs only in such lines, for objects that do differ between the trees, and in the interface hash
 * derived from them, has the same ABI and contents; anything else is a mismatch.
 */
export async function outputMismatch(
  ghc: string,
  cold: string,
  warm: string,
  file: string,
): Promise<string | null> {
  if (await sameBytes(`${cold}/${file}`, `${warm}/${file}`)) return null;
  const differs = `${file} differs from ghc's`;
  if (!/\.(dyn_)?hi$/.test(file)) return differs;
  const [a, b] = await Promise.all([showInterface(ghc, file, cold), showInterface(ghc, file, warm)]);
  if (a === null || b === null) return differs;
  const [la, lb] = [a.split("\n"), b.split("\n")];
  if (la.length !== lb.length) {
    const lines = [
      ...missingFrom(lb, la).map((l) => `  ghc:   ${l}`),
      ...missingFrom(la, lb).map((l) => `  ghcpw: ${l}`),
    ];
    return `${differs}:\n${lines.join("\n")}`;
  }
  for (let i = 0; i < la.length; i++) {
    if (la[i] === lb[i] || /^\s*interface hash: /.test(la[i]) && /^\s*interface hash: /.test(lb[i])) continue;
    const object = /^addDependentFile "(.*\.(?:dyn_)?o)" [0-9a-f]+$/.exec(la[i])?.[1];
    const sameLine = object !== undefined && lb[i].startsWith(`addDependentFile "${object}" `);
    const found = sameLine ? await locate(object, cold, warm) : null;
    if (found === null || await sameBytes(`${cold}/${found}`, `${warm}/${found}`)) {
      return `${differs}:\n  ghc:   ${la[i]}\n  ghcpw: ${lb[i]}`;
    }
  }
  return null;
}
