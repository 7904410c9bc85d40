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

Deno.test("status shows per worker its share setting, the interfaces it keeps and its heap", async () => {
  const server = await startServer(["-n", "1", "--share", "all"]);
  try {
    const dir = `${server.dir}/src`;
    await writeTree(dir, { "A.hs": plainModule("A"), "B.hs": plainModule("B") });
    const worker = async () => {
      const r = await ghcpwCli(["status", "--socket", server.socket, "--json"]);
      assertEquals(r.code, 0, r.stderr);
      const workers = JSON.parse(r.stdout).workers;
      assertEquals(workers.length, 1);
      return workers[0];
    };
    const fresh = await worker();
    assertEquals(fresh.share, "names,databases,interfaces");
    assertEquals([fresh.interfaceSets, fresh.interfaces, fresh.packages, fresh.heap], [
      null,
      null,
      null,
      null,
    ]);

    const env = { GHCPW_SHARE: "all" };
    // The heap figures are those of the runtime's last collection (the maximum, of its last major one),
    // and a worker's allocation area (+RTS -A64m) may hold a small compile's whole allocation: compile
    // until a major collection has come.
    let first;
    for (let compiles = 0; compiles < 40; compiles++) {
      assertEquals((await ghcpw(server.socket, ["-c", "-fforce-recomp", "A.hs"], dir, env)).code, 0);
      first = await worker();
      if (first.heap.maxLiveBytes > 0) break;
    }
    assertEquals(first.interfaceSets, 1);
    assert(first.interfaces > 0, `keeps ${first.interfaces} interfaces`);
    assert(first.packages.some((p: string) => /^(base|ghc-prim)\b/.test(p)), first.packages.join(","));
    assert(first.heap.liveBytes > 1_000_000, JSON.stringify(first.heap));
    assert(first.heap.maxLiveBytes > 1_000_000, JSON.stringify(first.heap));
    assert(first.heap.collections > 0 && first.heap.allocatedBytes > first.heap.maxLiveBytes);
    assert(first.heap.bytes >= first.heap.liveBytes, JSON.stringify(first.heap));

    // Another interface key (-O) is a second set; the runtime's counters never shrink.
    assertEquals((await ghcpw(server.socket, ["-c", "-O", "B.hs"], dir, env)).code, 0);
    const second = await worker();
    assertEquals(second.interfaceSets, 2);
    assert(second.interfaces > first.interfaces);
    // Figures of the last collection: the -O compile may have needed none.
    assert(second.heap.allocatedBytes >= first.heap.allocatedBytes);
    assert(second.heap.collections >= first.heap.collections);

    const table = (await ghcpwCli(["status", "--socket", server.socket])).stdout;
    assertMatch(table, /SHARE +IFACE SETS +IFACES +PACKAGES +LIVE +MAX LIVE +HEAP +GCS +ALLOCATED/);
    assertMatch(
      table,
      new RegExp(`names,databases,interfaces +2 +${second.interfaces} +${second.packages.length} `),
    );
    assertMatch(table, new RegExp(`worker ${second.pid} keeps interfaces of: .*\\b(base|ghc-prim)\\b`));
  } finally {
    await server.stop();
  }
});

Deno.test("status sums the stages of the workers' requests and the server's own parts", async () => {
  const server = await startServer(["-n", "1"]);
  try {
    const dir = `${server.dir}/src`;
    await writeTree(dir, { "A.hs": plainModule("A"), "B.hs": plainModule("B") });
    for (const module of ["A", "B"]) {
      assertEquals((await ghcpw(server.socket, ["-c", `${module}.hs`], dir)).code, 0);
    }
    const r = await ghcpwCli(["status", "--socket", server.socket, "--json"]);
    assertEquals(r.code, 0, r.stderr);
    const { totals } = JSON.parse(r.stdout);
    const stages: Record<string, number> = totals.stagesMs;
    // What every compile of code goes through; preprocessing, the C compiler and --make's driver work
    // may take no time at all.
    for (const stage of ["setup", "init", "session", "frontend", "codegen", "assemble", "save", "finish"]) {
      assert(stages[stage] > 0, `stage ${stage}: ${stages[stage]} ms (${JSON.stringify(stages)})`);
    }
    for (const [stage, ms] of Object.entries(stages)) assert(ms >= 0, `stage ${stage}: ${ms} ms`);
    const sum = Object.values(stages).reduce((a, b) => a + b, 0);
    assert(
      sum <= totals.workerMs,
      `the stages sum to ${sum} ms, more than the workers' ${totals.workerMs} ms`,
    );
    // No request waited for a worker ("queue").
    for (const part of ["handshake", "request-dir", "checks", "reply"]) {
      assert(totals.serverMs[part] > 0, `server part ${part}: ${JSON.stringify(totals.serverMs)}`);
    }
    const table = await ghcpwCli(["status", "--socket", server.socket]);
    assertMatch(table.stdout, /\n {2}stages {4}.*frontend [\d.]+.* ms per request\n/);
    assertMatch(table.stdout, /\n {2}server {4}.*handshake [\d.]+.* ms per request\n/);
  } finally {
    await server.stop();
  }
});
