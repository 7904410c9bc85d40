/** With no server, `ghcpw ghc` runs the real ghc itself: same results, or a clear error when strict. */

import { assertEquals, assertMatch } from "../support/assert.ts";
import { MODULE_ORDER, project, TYPE_ERROR_MODULE } from "../support/fixtures.ts";
import {
  assertSameOutputs,
  assertSameRun,
  GHC,
  ghc,
  ghcpwCli,
  startServer,
  writeTree,
} from "../support/helpers.ts";
import { plainModule } from "../support/service.ts";

async function trees(files: Record<string, string>) {
  const root = await Deno.makeTempDir({ prefix: "ghcpw-fallback-" });
  await writeTree(`${root}/cold`, files);
  await writeTree(`${root}/warm`, files);
  return { cold: `${root}/cold`, warm: `${root}/warm`, socket: `${root}/nobody-listens.sock` };
}

function client(socket: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  return ghcpwCli(["ghc", "--socket", socket, "--ghc", GHC, "--", ...args], { cwd, env });
}

Deno.test("without a server, builds give exactly what ghc gives", async () => {
  const t = await trees({ ...project(), "Broken.hs": TYPE_ERROR_MODULE });
  for (const module of MODULE_ORDER) {
    const args = ["-c", "-dynamic-too", `${module}.hs`];
    assertSameRun(await client(t.socket, args, t.warm), await ghc(args, t.cold));
  }
  const broken = await client(t.socket, ["-c", "Broken.hs"], t.warm);
  assertEquals(broken.code, 1);
  assertSameRun(broken, await ghc(["-c", "Broken.hs"], t.cold));
  assertSameRun(
    await client(t.socket, ["--numeric-version"], t.warm),
    await ghc(["--numeric-version"], t.cold),
  );
  await assertSameOutputs(t.cold, t.warm, [".hi", ".dyn_hi"]);
});

Deno.test("without a server, response files still work on every GHC", async () => {
  const t = await trees(project());
  await Deno.writeTextFile(`${t.warm}/args.rsp`, "-c\nShapes/Types.hs\n");
  await Deno.writeTextFile(`${t.cold}/args.rsp`, "-c\nShapes/Types.hs\n");
  assertSameRun(await client(t.socket, ["@args.rsp"], t.warm), await ghc(["-c", "Shapes/Types.hs"], t.cold));
  await assertSameOutputs(t.cold, t.warm, [".hi"]);
});

Deno.test("GHCPW_STRICT=1 makes a missing server an error that says what to do", async () => {
  const t = await trees(project());
  const r = await client(t.socket, ["-c", "Shapes/Types.hs"], t.warm, { GHCPW_STRICT: "1" });
  assertEquals(r.code, 2);
  assertMatch(r.stderr, /no ghcpw server at .*nobody-listens\.sock.*start one with: ghcpw serve/);
  assertMatch(r.stderr, /GHCPW_STRICT is set/);
});

Deno.test("GHC_PERSISTENT_WORKER_SOCKET names the socket when nothing else does", async () => {
  const t = await trees(project());
  const r = await ghcpwCli(["ghc", "--ghc", GHC, "--", "-c", "Shapes/Types.hs"], {
    cwd: t.warm,
    env: { GHC_PERSISTENT_WORKER_SOCKET: `${t.warm}/legacy.sock`, GHCPW_SOCKET: "", GHCPW_STRICT: "1" },
  });
  assertEquals(r.code, 2);
  assertMatch(r.stderr, /legacy\.sock/);
});

Deno.test("runClient with its own directory and sink: both the server's answer and the fallback land there", async () => {
  const t = await trees({ "A.hs": plainModule("A"), "Broken.hs": TYPE_ERROR_MODULE });
  const { runClient } = await import("../../lib/client/client.ts");
  const { CollectingSink } = await import("../../lib/output.ts");
  const server = await startServer(["-n", "1"]);
  try {
    for (const socket of [server.socket, t.socket]) {
      for (const module of ["A", "Broken"]) {
        const sink = new CollectingSink();
        const args = ["-c", "-fforce-recomp", `${module}.hs`];
        // Not the test's own directory: the client must send and run the invocation where it was told.
        const code = await runClient({
          socketPath: socket,
          ghc: GHC,
          strict: false,
          argv: args,
          cwd: t.warm,
          sink,
        });
        const expected = await ghc(args, t.cold);
        assertEquals({ code, output: sink.text() }, {
          code: expected.code,
          output: expected.stdout + expected.stderr,
        });
      }
    }
    await assertSameOutputs(t.cold, t.warm, [".hi"]);
  } finally {
    await server.stop();
  }
});
