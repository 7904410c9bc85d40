/**
 * Servers for the tests of incremental builds: as `ghcpw serve` starts by default (incremental builds on),
 * each with a cache of its own, and their counters and log about incremental builds.
 *
 * @module
 */

import { serverStatus, startServer, type TestServer } from "./helpers.ts";
import { privateCacheHome } from "../../scripts/bench/server.ts";

/** A server's counters of incremental builds (`ghcpw status`). */
export interface Counters {
  builds: number;
  hits: number;
  modulesRestored: number;
  modulesRecompiled: number;
  warningsReplayed: number;
}

/** The server's counters now. */
export async function counters(server: TestServer): Promise<Counters> {
  return (await serverStatus(server.socket)).incremental as Counters;
}

/** How the counters changed from `before` to `after`. */
function countersDelta(before: Counters, after: Counters): Counters {
  return Object.fromEntries(
    Object.entries(after).map(([k, v]) => [k, (v as number) - (before[k as keyof Counters] as number)]),
  ) as unknown as Counters;
}

/** The server's log lines about incremental builds: why modules were (not) restored, for failure messages. */
function incrementalLog(log: string): string {
  return log.split("\n").filter((l) => /incremental/i.test(l)).join("\n");
}

/** What `action` did to the server: its result, the change in the counters and the log about it. */
export async function measured<T>(
  server: TestServer,
  action: () => Promise<T>,
): Promise<{ result: T; delta: Counters; log: string }> {
  const before = await counters(server);
  const logged = server.log().length;
  const result = await action();
  const delta = countersDelta(before, await counters(server));
  return { result, delta, log: incrementalLog(server.log().slice(logged)) };
}

/** A server with default settings and a cache of its own; `stop` also removes the cache. */
export async function incrementalServer(): Promise<TestServer> {
  const cache = await privateCacheHome(await Deno.makeTempDir({ prefix: "ghcpw-inc-cache-" }));
  const server = await startServer([], { XDG_CACHE_HOME: cache });
  return {
    ...server,
    async stop() {
      const log = await server.stop();
      await Deno.remove(cache, { recursive: true }).catch(() => {});
      return log;
    },
  };
}

/** Empties a tree's output directories (relative to it), as Bazel does before every action. */
export async function emptyOutputs(tree: string, dirs: readonly string[]): Promise<void> {
  for (const dir of dirs) {
    await Deno.remove(`${tree}/${dir}`, { recursive: true }).catch(() => {});
    await Deno.mkdir(`${tree}/${dir}`, { recursive: true });
  }
}
