/**
 * What `ghcpw status` reports about the time workers spend: the sum over requests of the time from
 * handing a request to a GHC worker to its exit, which a benchmark subtracts from a client's wall time
 * to get the client's own overhead.
 */

import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { ghcpw, ghcpwCli, startServer, writeTree } from "../support/helpers.ts";
import { plainModule } from "../support/service.ts";

Deno.test("status adds up the workers' compile time, which stays within the clients' wall time", async () => {
  const server = await startServer(["-n", "1"]);
  try {
    const dir = `${server.dir}/src`;
    await writeTree(dir, { "A.hs": plainModule("A"), "B.hs": plainModule("B") });
    const json = async () => {
      const r = await ghcpwCli(["status", "--socket", server.socket, "--json"]);
      assertEquals(r.code, 0, r.stderr);
      return JSON.parse(r.stdout);
    };
    const before = (await json()).totals.workerMs;
    let wallMs = 0;
    for (const module of ["A", "B"]) {
      const started = performance.now();
      assertEquals((await ghcpw(server.socket, ["-c", `${module}.hs`], dir)).code, 0);
      wallMs += performance.now() - started;
    }
    const after = await json();
    const spent = after.totals.workerMs - before;
    // Two real compiles take GHC some milliseconds each; the clients waited for all of it.
    assert(spent >= 2, `workers spent ${spent} ms on two compiles`);
    assert(spent <= wallMs, `workers spent ${spent} ms, more than the clients' ${wallMs} ms`);
    const table = await ghcpwCli(["status", "--socket", server.socket]);
    const mean = Math.round(after.totals.workerMs / after.pool.requests);
    assertMatch(table.stdout, new RegExp(`workers +\\S+ \\S+ compiling, ${mean} ms per request on average`));
  } finally {
    await server.stop();
  }
});
