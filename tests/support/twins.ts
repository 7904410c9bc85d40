/**
 * Twin trees for comparing ghcpw with plain ghc: every step runs once on plain ghc in the "cold" tree and
 * once through ghcpw in an identical "warm" tree, and the results must be the same.
 *
 * @module
 */

import { assertEquals } from "./assert.ts";
import {
  assertSameOutputs,
  assertSameRun,
  ghc,
  ghcpw,
  type Run,
  run,
  type TestServer,
  writeTree,
} from "./helpers.ts";

/** A pair of identical trees driven in lockstep. */
export class Twins {
  private constructor(readonly server: TestServer, readonly cold: string, readonly warm: string) {}

  /** Creates both trees with the same files. */
  static async create(
    server: TestServer,
    files: Record<string, string>,
    prefix = "ghcpw-twins-",
  ): Promise<Twins> {
    const root = await Deno.makeTempDir({ prefix });
    const twins = new Twins(server, `${root}/cold`, `${root}/warm`);
    await Deno.mkdir(twins.cold);
    await Deno.mkdir(twins.warm);
    await twins.write(files);
    return twins;
  }

  /** Writes (or overwrites) files in both trees. */
  async write(files: Record<string, string>): Promise<void> {
    await writeTree(this.cold, files);
    await writeTree(this.warm, files);
  }

  /** Deletes a file from both trees. */
  async remove(path: string): Promise<void> {
    await Deno.remove(`${this.cold}/${path}`);
    await Deno.remove(`${this.warm}/${path}`);
  }

  /** Runs ghc in the cold tree and ghcpw in the warm one; asserts equal results and returns ghcpw's. */
  async same(args: string[], env: Record<string, string> = {}): Promise<Run> {
    const expected = await ghc(args, this.cold, env);
    const actual = await ghcpw(this.server.socket, args, this.warm, env);
    assertSameRun(actual, expected);
    return actual;
  }

  /** Like {@linkcode same}, and the invocation must succeed. */
  async ok(args: string[], env: Record<string, string> = {}): Promise<Run> {
    const r = await this.same(args, env);
    assertEquals(r.code, 0, `ghc ${args.join(" ")} failed:\n${r.stderr}`);
    return r;
  }

  /** Asserts both trees hold the same files, with the given kinds byte-identical. */
  sameOutputs(suffixes = [".hi", ".dyn_hi"]): Promise<void> {
    return assertSameOutputs(this.cold, this.warm, suffixes);
  }

  /**
   * Runs a program built in both trees (path relative to the tree) and asserts the same behaviour;
   * `libDir` (relative to each tree) is where its shared libraries are.
   */
  async sameProgram(path: string, args: string[] = [], libDir?: string): Promise<Run> {
    const env = (tree: string): Record<string, string> =>
      libDir ? { LD_LIBRARY_PATH: `${tree}/${libDir}` } : {};
    const [cold, warm] = await Promise.all([
      run(`${this.cold}/${path}`, args, { env: env(this.cold) }),
      run(`${this.warm}/${path}`, args, { env: env(this.warm) }),
    ]);
    assertEquals(warm, cold);
    return warm;
  }
}
