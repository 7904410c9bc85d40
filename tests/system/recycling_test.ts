/**
 * `--max-requests` and `--max-rss` on `ghcpw serve` and `ghcpw bazel`: a real GHC worker is replaced
 * when the limit says so, and bad values are refused before anything starts.
 */

import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { GHC, ghcpw, ghcpwCli, startServer, writeTree } from "../support/helpers.ts";
import { plainModule } from "../support/service.ts";

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");

interface Status {
  workerLimits: { maxRequests: number; maxRssBytes: number };
  workers: { pid: number; requests: number; lastRecycleReason: string | null }[];
  pool: { recycled: { requests: number } };
}

/** What `ghcpw status --socket S --json` prints. */
async function status(socket: string): Promise<Status> {
  const r = await ghcpwCli(["status", "--socket", socket, "--json"]);
  assertEquals(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

Deno.test("serve --max-requests 2 replaces a worker after its second request", async () => {
  const server = await startServer(["-n", "1", "--max-requests", "2", "--max-rss", "3G"]);
  try {
    const dir = `${server.dir}/src`;
    await writeTree(dir, { "A.hs": plainModule("A"), "B.hs": plainModule("B"), "C.hs": plainModule("C") });
    const before = await status(server.socket);
    assertEquals(before.workerLimits, { maxRequests: 2, maxRssBytes: 3 * 1024 ** 3 });
    const [first] = before.workers;

    for (const module of ["A", "B"]) {
      assertEquals((await ghcpw(server.socket, ["-c", `${module}.hs`], dir)).code, 0);
    }
    // The pool replaces the worker before it takes another request, so the third meets the new one.
    assertEquals((await ghcpw(server.socket, ["-c", "C.hs"], dir)).code, 0);
    assert((await Deno.stat(`${dir}/C.hi`)).isFile);

    const after = await status(server.socket);
    assertEquals(after.pool.recycled.requests, 1);
    assertEquals(after.workers.length, 1);
    const [second] = after.workers;
    assert(second.pid !== first.pid, `worker ${first.pid} was not replaced`);
    assertEquals(second.requests, 1);
    assertEquals(second.lastRecycleReason, "requests: 2 requests served");
  } finally {
    await server.stop();
  }
});

Deno.test("bazel --max-requests 1 replaces the worker's GHC after each request", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ghcpw-recycling-" });
  try {
    await writeTree(dir, { "A.hs": plainModule("A"), "B.hs": plainModule("B") });
    const child = new Deno.Command("deno", {
      args: [
        "run",
        "-A",
        `${ROOT}/main.ts`,
        "bazel",
        "--ghc",
        GHC,
        "--max-requests",
        "1",
        "--protocol",
        "json",
        "-v",
        "--persistent_worker",
      ],
      cwd: dir,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const requests = ["A", "B"].map((m) => JSON.stringify({ arguments: ["-c", `${m}.hs`], requestId: 0 }));
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(requests.join("\n") + "\n"));
    await writer.close();
    const out = await child.output();
    const stderr = new TextDecoder().decode(out.stderr);
    assertEquals(out.code, 0, stderr);
    const responses = new TextDecoder().decode(out.stdout).trim().split("\n").map((l) => JSON.parse(l));
    assertEquals(responses.map((r) => r.exitCode), [0, 0], stderr);
    assertEquals(stderr.match(/Replacing worker \d+ \(requests: 1 requests served\)/g)?.length, 2, stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bad --max-rss and --max-requests values exit 2, naming the option", async () => {
  for (const command of ["serve", "bazel"]) {
    const more = command === "bazel" ? ["--persistent_worker"] : [];
    const rss = await ghcpwCli([command, "--max-rss", "lots", ...more]);
    assertEquals(rss.code, 2, rss.stderr);
    assertEquals(
      rss.stderr.trim(),
      `ghcpw ${command}: --max-rss needs a size in bytes or with a unit, such as 512M or 2G; got "lots"`,
    );
    const requests = await ghcpwCli([command, "--max-requests", "0", ...more]);
    assertEquals(requests.code, 2, requests.stderr);
    assertMatch(requests.stderr, /--max-requests needs a positive whole number, got "0"/);
  }
});
