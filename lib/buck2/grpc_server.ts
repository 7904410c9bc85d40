/**
 * A gRPC server over cleartext HTTP/2 on a unix socket, as Buck2 talks to its workers: node:http2's
 * server (Deno.serve cannot send the trailers that carry gRPC's status) with Connect's gRPC protocol
 * handler (@connectrpc/connect-node), which does the framing, status codes, deadlines and cancellation.
 *
 * @module
 */

import * as http2 from "node:http2";
import process from "node:process";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";

/** A listening server. */
export interface GrpcServer {
  /**
   * Stops accepting, lets the calls in progress end for up to `graceMs` (each connection is told to
   * open no more: HTTP/2 GOAWAY), then breaks the connections left, and removes the socket file.
   */
  close(graceMs: number): Promise<void>;
}

/**
 * Serves the routes on a new unix socket at `path`, which only this user may connect to: a worker runs
 * whatever ghc command line it is sent. Fails if the path exists (a socket in use, or a stale one:
 * Buck2 names a fresh path for every worker).
 */
export async function listenGrpc(path: string, routes: (router: ConnectRouter) => void): Promise<GrpcServer> {
  const server = http2.createServer(
    connectNodeAdapter({ routes, grpc: true, grpcWeb: false, connect: false }),
  );
  const sessions = new Set<http2.Http2Session>();
  server.on("session", (session: http2.Http2Session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  // The socket is created by bind(2), which applies the umask: no moment in which others could connect.
  const umask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      const failed = (e: Error & { code?: string }) => {
        const why = e.code === "EADDRINUSE"
          ? "something is there already (Buck2 names a new path per worker)"
          : e.message;
        reject(new Error(`cannot listen on ${path}: ${why}`));
      };
      server.once("error", failed);
      server.listen(path, () => {
        server.off("error", failed);
        resolve();
      });
    });
  } finally {
    process.umask(umask);
  }
  return {
    async close(graceMs) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const session of sessions) session.close();
      const timer = setTimeout(() => sessions.forEach((session) => session.destroy()), graceMs);
      await closed;
      clearTimeout(timer);
      await Deno.remove(path).catch(() => {});
    },
  };
}
