/**
 * The client behind `ghcpw ghc -- <args>`: a drop-in for ghc. It sends the invocation (argv, environment,
 * working directory) to the server, writes GHC's stdout and stderr to its own, and exits with GHC's exit
 * code. When no server answers, or the server cannot serve this client, it runs the real ghc itself with
 * the same arguments, environment and working directory, so a build never breaks because of ghcpw;
 * `GHCPW_STRICT=1` turns that fallback into an error.
 *
 * Finding the server: the socket is named by the server key of this ghc and settings
 * (lib/address/server_key.ts) in the user's checked runtime directory, unless one is named explicitly. With
 * auto-start allowed (the default socket, or `GHCPW_AUTOSTART=1`), a client that finds no server starts
 * one (lib/client/autostart.ts), and a client that finds a server of another ghcpw version replaces it if it
 * is older and idle, or else starts and uses a server of its own version beside it.
 *
 * Trust: the client talks only to a server on a socket that is safely the user's own and that proves it
 * knows the user's token (lib/client/session.ts); anything else is like no server at all.
 *
 * @module
 */

import { Environment } from "../process/environment.ts";
import { GhcError } from "../ghc/installation.ts";
import { deferredLogger } from "../log/logging.ts";
import { type OutputSink, processSink, stdoutIsStderr } from "../output.ts";
import { serverLogFile } from "../address/paths.ts";
import { type CompileRequest, decodeServerMessage } from "../wire/client_protocol.ts";
import { locateServer } from "../address/locate.ts";
import { UnsafeRuntimeDir } from "../address/runtime_dir.ts";
import { compareVersions, versionedSocketPath } from "../address/server_key.ts";
import { ensureToken, readToken } from "../address/token.ts";
import { openSession, type Session, SessionFailure } from "./session.ts";
import { VERSION } from "../version.ts";
import { DEFAULT_SHARE, deterministicObjects, formatShare, type Share } from "../share.ts";

const log = deferredLogger(["ghcpw", "client"]);

/** What the client needs. */
export interface ClientOptions {
  /** The socket named explicitly; undefined for the keyed default in the runtime directory. */
  socketPath?: string;
  /** The real ghc (a name on PATH or a path), for the fallback and to match the server. */
  ghc: string;
  /** Refuse to fall back to the real ghc. */
  strict: boolean;
  argv: string[];
  /** Package databases put ahead of every invocation (must match the server's `--package-db`). */
  packageDbs?: string[];
  /**
   * What the server's workers keep between requests (lib/share.ts); its result-changing part is in the
   * key, and a server this client starts gets all of it. Default: the default setting.
   */
  share?: Share;
  /** Start a server when none answers; default: only for the keyed default socket. */
  autostart?: boolean;
  /**
   * The invocation's working directory and complete environment; default: this process's (the
   * environment read as bytes, so that variables that are not UTF-8 reach ghc too).
   */
  cwd?: string;
  env?: Record<string, string>;
  /** The invocation's file-creation mask; default: this process's. */
  umask?: number;
  /**
   * Where GHC's output goes; default: this process's stdout and stderr (which the fallback then inherits).
   * A caller sending several invocations at once, like the benchmark, gives each its own.
   */
  sink?: OutputSink;
  /**
   * Aborting stops the compile and rejects with the signal's reason: the connection to the server is
   * closed, which makes the server cancel it, or the real ghc of the fallback is killed. A caller that
   * serves many invocations (the Buck2 worker) uses it for cancellations and timeouts.
   */
  signal?: AbortSignal;
}

/** The server could not serve this invocation; `outputWritten` says whether any of GHC's output was printed. */
class ServerUnavailable extends Error {
  constructor(message: string, readonly outputWritten = false) {
    super(message);
  }
}

/**
 * The server is of another ghcpw version, and will not serve the request. The client may replace it or
 * use another server (viaServer); if nothing else works, it is like no server at all. `serverVersion`
 * and `compiling` are null for a server of another protocol version, which cannot prove that it knows
 * the token and so is told nothing, not even to stop.
 */
class VersionMismatch extends ServerUnavailable {
  constructor(message: string, readonly serverVersion: string | null, readonly compiling: number | null) {
    super(message);
  }
}

/** Exit code for "ghcpw itself failed" in strict mode (GHC uses 1 for compile errors). */
export const STRICT_FAILURE_EXIT = 2;

/**
 * Exit code for "the server failed after part of GHC's output had been printed": ghc is not run again
 * then (see runClient), so the output is incomplete. Distinct from GHC's codes and from strict mode's.
 */
export const INTERRUPTED_EXIT = 3;

const encoder = new TextEncoder();

/** Runs the invocation through the server, or the real ghc, and resolves to the exit code to exit with. */
export async function runClient(options: ClientOptions): Promise<number> {
  // First: Deno reads the umask by setting one and putting it back, which nothing else may overlap.
  const umask = options.umask ?? Deno.umask();
  const env = options.env === undefined ? Environment.ofThisProcess() : Environment.fromRecord(options.env);
  const sink = options.sink ?? processSink;
  const signal = options.signal;
  signal?.throwIfAborted();
  try {
    const cwd = options.cwd ?? workingDirectory();
    if (cwd === null) {
      throw new ServerUnavailable(
        "the working directory's name is not UTF-8, so it cannot be sent to a server",
      );
    }
    return await viaServer(options, { env, cwd, umask }, sink);
  } catch (e) {
    // An abort breaks the connection, which must not look like a lost server to fall back from.
    signal?.throwIfAborted();
    if (!(e instanceof ServerUnavailable)) throw e;
    if (e.outputWritten) {
      // Running ghc now would print what was printed already a second time.
      await sink.stderr(
        encoder.encode(
          `ghcpw: the compile broke off after part of its output was printed (${e.message}); ` +
            `its output above is incomplete and ghc was not run again, which would print it twice.\n` +
            `ghcpw: run the command again (the server replaces a failed GHC worker); ` +
            `'ghcpw status' shows why the last worker failed.\n`,
        ),
      );
      return INTERRUPTED_EXIT;
    }
    if (options.strict) {
      await sink.stderr(
        encoder.encode(`ghcpw: ${e.message}\nghcpw: GHCPW_STRICT is set, so ghc is not run directly.\n`),
      );
      return STRICT_FAILURE_EXIT;
    }
    log.info("Running ghc directly: {reason}", { reason: e.message });
    // Loaded only now: the common path (a server answers) should not pay for running ghc itself.
    const { runRealGhc } = await import("../ghc/run.ts");
    // As the server would have run it, its --package-db options included; in this process's own working
    // directory, environment and umask, untouched, unless the caller named others.
    return await runRealGhc(
      options.ghc,
      { argv: options.argv, cwd: options.cwd, env, umask: options.umask },
      options.packageDbs ?? [],
      sink,
      signal,
    );
  }
}

/** This process's working directory, or null if its name is not UTF-8 (Deno cannot name it then). */
function workingDirectory(): string | null {
  try {
    return Deno.cwd();
  } catch (e) {
    if (e instanceof Deno.errors.InvalidData) return null;
    throw e;
  }
}

/** Everything a request on one socket needs, worked out once per client run. */
interface Target {
  socket: string;
  token: string | null;
  /** What the request is for, sent with the client's proof: the real path of its ghc and its server key. */
  wants: Record<string, string>;
  /** Arguments of `ghcpw serve` for a server this client starts. */
  serveArgs: string[];
  autostart: boolean;
  sink: OutputSink;
  signal?: AbortSignal;
}

async function viaServer(
  options: ClientOptions,
  context: { env: Environment; cwd: string; umask: number },
  sink: OutputSink,
): Promise<number> {
  const target = { ...await locate(options), sink, signal: options.signal };
  const request: CompileRequest = {
    argv: options.argv,
    ...context,
    // GHC colours its diagnostics only for a terminal, as it would if run in the client's place.
    stderrIsTerminal: sink === processSink && Deno.stderr.isTerminal(),
    mergedOutput: sink === processSink && stdoutIsStderr(),
  };
  try {
    return await onSocket(target, target.socket, request);
  } catch (e) {
    if (!(e instanceof VersionMismatch)) throw e;
    if (!target.autostart) {
      throw new ServerUnavailable(
        e.serverVersion === null
          ? `${e.message}; stop it with the ghcpw that started it (this one cannot), or let it exit after ` +
            `its idle timeout`
          : `${e.message}; restart it with this ghcpw (ghcpw stop; ghcpw serve)`,
      );
    }
    if (e.serverVersion !== null && compareVersions(e.serverVersion, VERSION) < 0 && e.compiling === 0) {
      // An idle server of an older ghcpw: replace it with one of ours on the same socket.
      const { sendControl } = await import("./control.ts");
      const reply = await sendControl(target.socket, "stop-if-idle", target.token ?? "").catch(() => null);
      if (reply === null || reply.stopping === true) {
        log.info("Replaced an idle ghcpw {old} server on {socket}", {
          old: e.serverVersion,
          socket: target.socket,
        });
        return await onSocket(target, target.socket, request);
      }
    }
    // A busy or newer server, or one of another protocol, is left alone; this client uses a server of its
    // own version beside it.
    log.info("Using a ghcpw {version} server beside the ghcpw {other} one", {
      version: VERSION,
      other: e.serverVersion ?? "of another protocol",
    });
    return await onSocket(target, versionedSocketPath(target.socket, VERSION), request);
  }
}

/** Works out the socket, token and what to ask for; any problem means no server can be used. */
async function locate(options: ClientOptions): Promise<Omit<Target, "sink" | "signal">> {
  const packageDbs = options.packageDbs ?? [];
  const share = options.share ?? DEFAULT_SHARE;
  const autostart = options.autostart ?? options.socketPath === undefined;
  try {
    const { runtime, identity, key, socket } = await locateServer(
      options.ghc,
      { packageDbs, deterministicObjects: deterministicObjects(share) },
      options.socketPath,
    );
    // Without auto-start a missing token is not an error yet: if no server answers either, that is the
    // better message; if one does, it cannot be checked, and the session says so.
    const token = autostart ? await ensureToken(runtime) : readToken(runtime);
    return {
      socket,
      token,
      wants: { ghc: identity.realPath, key },
      serveArgs: [
        "--ghc",
        identity.realPath,
        ...packageDbs.flatMap((db) => ["--package-db", db]),
        "--share",
        formatShare(share),
      ],
      autostart,
    };
  } catch (e) {
    if (e instanceof ServerUnavailable) throw e;
    if (e instanceof UnsafeRuntimeDir || e instanceof GhcError) throw new ServerUnavailable(e.message);
    throw new ServerUnavailable(`cannot prepare a request: ${e instanceof Error ? e.message : e}`);
  }
}

/** Runs the request on the server at `socket`, starting one there first if allowed and needed. */
async function onSocket(target: Target, socket: string, request: CompileRequest): Promise<number> {
  let session = await open(target, socket);
  if (session === null) {
    if (!target.autostart) {
      throw new ServerUnavailable(`no ghcpw server at ${socket}; start one with: ghcpw serve`);
    }
    // Loaded only when needed: the common path (a server answers) should not pay for it.
    const { ensureServer, StartFailed } = await import("./autostart.ts");
    try {
      const pid = await ensureServer({ socket, serveArgs: target.serveArgs });
      if (pid !== null) log.info("Started a ghcpw server (pid {pid}) on {socket}", { pid, socket });
    } catch (e) {
      if (e instanceof StartFailed) {
        throw new ServerUnavailable(`${e.message}; see ${await serverLogFile(socket)}`);
      }
      throw new ServerUnavailable(
        `cannot start a ghcpw server on ${socket}: ${e instanceof Error ? e.message : e}`,
      );
    }
    session = await open(target, socket);
    if (session === null) {
      throw new ServerUnavailable(`the ghcpw server on ${socket} went away right after starting`);
    }
  }
  return await exchange(session, target, request);
}

/** Opens a session (see lib/client/session.ts); null when no server listens. */
async function open(target: Target, socket: string): Promise<Session | null> {
  try {
    return await openSession(socket, target.token);
  } catch (e) {
    if (!(e instanceof SessionFailure)) throw e;
    if (e.kind === "protocol") throw new VersionMismatch(e.message, null, null);
    throw new ServerUnavailable(e.message);
  }
}

/** Sends the request on a session and relays the answer; resolves to GHC's exit code. */
async function exchange(session: Session, target: Target, request: CompileRequest): Promise<number> {
  let written = false;
  // Closing the connection ends a pending read, and tells the server to cancel the compile.
  const abort = () => void session.close();
  target.signal?.addEventListener("abort", abort, { once: true });
  try {
    target.signal?.throwIfAborted();
    const server = session.server;
    if (server.version !== VERSION) {
      throw new VersionMismatch(
        `the server is ghcpw ${server.version ?? "?"}, this client is ghcpw ${VERSION}`,
        server.version ?? "?",
        Number(server.active ?? 0),
      );
    }
    const sent = session.begin({ kind: "request", request }, target.wants);
    // If the server refused at once, its reason is worth more than the write error.
    sent.catch(() => {});
    for (;;) {
      const frame = await session.stream.read();
      if (frame === null) {
        throw new ServerUnavailable("the server closed the connection mid-request", written);
      }
      const message = decodeServerMessage(frame, "output or an exit code", [
        "stdout",
        "stderr",
        "exit",
        "failure",
      ]);
      switch (message.kind) {
        case "stdout":
          written = true;
          await target.sink.stdout(message.chunk);
          break;
        case "stderr":
          written = true;
          await target.sink.stderr(message.chunk);
          break;
        case "exit":
          return message.code;
        case "failure":
          if (message.reason === "timeout") {
            // Not a reason to run ghc again: that is what just ran too long.
            await target.sink.stderr(encoder.encode(`ghcpw: ${message.message}\n`));
            return 1;
          }
          throw new ServerUnavailable(
            `the server ${
              written
                ? "failed"
                : message.reason === "internal"
                ? "could not serve the request"
                : "refused the request"
            }: ${message.message}`,
            written,
          );
      }
    }
  } catch (e) {
    if (e instanceof ServerUnavailable) throw e;
    throw new ServerUnavailable(`lost the server: ${e instanceof Error ? e.message : e}`, written);
  } finally {
    target.signal?.removeEventListener("abort", abort);
    await session.close();
  }
}
