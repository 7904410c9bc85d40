/**
 * The client behind `ghcpw ghc -- <args>`: a drop-in for ghc. It sends the invocation (argv, environment,
 * working directory) to the server, writes GHC's stdout and stderr to its own, and exits with GHC's exit
 * code. When no server answers, or the server cannot serve this client, it runs the real ghc itself with
 * the same arguments, environment and working directory, so a build never breaks because of ghcpw;
 * `GHCPW_STRICT=1` turns that fallback into an error.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { runGhcInherited } from "./direct.ts";
import { realExecutablePath } from "./ghc.ts";
import { processSink } from "./output.ts";
import {
  decodeExit,
  decodeMessage,
  encodeCompileRequest,
  encodeProperties,
  FrameType,
  frameTypeName,
  MessageStream,
  PROTOCOL_VERSION,
} from "./protocol.ts";
import { expandResponseFiles, ResponseFileError } from "./response_file.ts";
import { VERSION } from "./version.ts";

const log = getLogger(["ghcpw", "client"]);

/** What the client needs. */
export interface ClientOptions {
  socketPath: string;
  /** The real ghc (a name on PATH or a path), for the fallback and to match the server. */
  ghc: string;
  /** Refuse to fall back to the real ghc. */
  strict: boolean;
  argv: string[];
}

/** The server could not serve this invocation; `output` says whether any of GHC's output was printed. */
class ServerUnavailable extends Error {
  constructor(message: string, readonly outputWritten = false) {
    super(message);
  }
}

/** Exit code for "ghcpw itself failed" in strict mode (GHC uses 1 for compile errors). */
export const STRICT_FAILURE_EXIT = 2;

/** Runs the invocation through the server, or the real ghc, and resolves to the exit code to exit with. */
export async function runClient(options: ClientOptions): Promise<number> {
  const env = Deno.env.toObject();
  const cwd = Deno.cwd();
  try {
    return await viaServer(options, env, cwd);
  } catch (e) {
    if (!(e instanceof ServerUnavailable)) throw e;
    if (options.strict) {
      await processSink.stderr(
        new TextEncoder().encode(
          `ghcpw: ${e.message}\nghcpw: GHCPW_STRICT is set, so ghc is not run directly.\n`,
        ),
      );
      return STRICT_FAILURE_EXIT;
    }
    log.info("Running ghc directly: {reason}", { reason: e.message });
    if (e.outputWritten) {
      await processSink.stderr(new TextEncoder().encode(`ghcpw: ${e.message}; running ghc directly\n`));
    }
    return await fallback(options, env, cwd);
  }
}

/** The real ghc with the same argv (response files expanded as GHC 9.4+ does), env, cwd and stdio. */
async function fallback(options: ClientOptions, env: Record<string, string>, cwd: string): Promise<number> {
  let args: string[];
  try {
    args = await expandResponseFiles(options.argv, cwd);
  } catch (e) {
    if (!(e instanceof ResponseFileError)) throw e;
    await processSink.stderr(new TextEncoder().encode(`${e.message}\n`));
    return 1;
  }
  return await runGhcInherited(options.ghc, args, { cwd, env });
}

async function viaServer(options: ClientOptions, env: Record<string, string>, cwd: string): Promise<number> {
  let conn: Deno.UnixConn;
  try {
    conn = await Deno.connect({ transport: "unix", path: options.socketPath });
  } catch (e) {
    throw new ServerUnavailable(
      `no ghcpw server at ${options.socketPath} (${
        e instanceof Error ? e.message : e
      }); start one with: ghcpw serve`,
    );
  }
  const stream = new MessageStream(conn.readable, conn.writable);
  let written = false;
  try {
    await stream.send(
      FrameType.Hello,
      encodeProperties({
        protocol: String(PROTOCOL_VERSION),
        version: VERSION,
        ghc: realExecutablePath(options.ghc),
      }),
    );
    await stream.send(
      FrameType.Request,
      encodeCompileRequest({ argv: options.argv, env, cwd, stderrIsTerminal: Deno.stderr.isTerminal() }),
    );
    await stream.expect(FrameType.Hello, "the server's greeting");
    for (;;) {
      const frame = await stream.read();
      if (frame === null) {
        throw new ServerUnavailable("the server closed the connection mid-request", written);
      }
      switch (frame.type) {
        case FrameType.Stdout:
          written = true;
          await processSink.stdout(frame.payload);
          break;
        case FrameType.Stderr:
          written = true;
          await processSink.stderr(frame.payload);
          break;
        case FrameType.Exit:
          return decodeExit(frame.payload);
        case FrameType.Failure:
          throw new ServerUnavailable(
            `the server refused the request: ${decodeMessage(frame.payload)}`,
            written,
          );
        default:
          throw new ServerUnavailable(
            `the server sent an unexpected ${frameTypeName(frame.type)} frame`,
            written,
          );
      }
    }
  } catch (e) {
    if (e instanceof ServerUnavailable) throw e;
    throw new ServerUnavailable(`lost the server: ${e instanceof Error ? e.message : e}`, written);
  } finally {
    await stream.abort().catch(() => {});
    try {
      conn.close();
    } catch {
      // already closed
    }
  }
}
