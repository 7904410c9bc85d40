/**
 * The secret that proves a client runs as the server's user. Socket permissions already keep other
 * users out of the runtime directory, but not everywhere: an explicit `--socket` may live in a shared
 * directory, and some systems ignore permissions on socket files. So every connection's greeting carries
 * a token that only the user can read — a 0600 file in the checked runtime directory — and the server
 * refuses any connection without it before it decodes anything else.
 *
 * @module
 */

import { checkPrivateFile, UnsafeRuntimeDir } from "./runtime_dir.ts";

/** The token's file name inside the runtime directory. */
export const TOKEN_FILE = "token";

/** Reads the token in `dir` (a checked runtime directory); null if there is none yet. */
export function readToken(dir: string): string | null {
  const path = `${dir}/${TOKEN_FILE}`;
  let info: Deno.FileInfo;
  try {
    info = Deno.lstatSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  checkPrivateFile(path, info);
  const token = Deno.readTextFileSync(path).trim();
  if (!/^[0-9a-f]{64}$/.test(token)) {
    throw new UnsafeRuntimeDir(`${path} does not hold a ghcpw token; remove it (ghcpw writes a new one)`);
  }
  return token;
}

/**
 * Reads the token in `dir`, creating it first if there is none. Many processes may do this at once:
 * the token is written in full under a private name and then hard-linked into place, which fails if
 * another process got there first, so every process ends up with the same complete token.
 */
export async function ensureToken(dir: string): Promise<string> {
  const existing = readToken(dir);
  if (existing !== null) return existing;
  const token = randomHex(32);
  const temporary = `${dir}/.token-${randomHex(8)}`;
  await Deno.writeTextFile(temporary, `${token}\n`, { createNew: true, mode: 0o600 });
  try {
    await Deno.chmod(temporary, 0o600);
    await Deno.link(temporary, `${dir}/${TOKEN_FILE}`);
    return token;
  } catch (e) {
    if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    const winner = readToken(dir);
    if (winner === null) throw new UnsafeRuntimeDir(`${dir}/${TOKEN_FILE} vanished while being created`);
    return winner;
  } finally {
    await Deno.remove(temporary).catch(() => {});
  }
}

/**
 * Compares a presented secret (a token, or a proof of one, lib/wire/handshake.ts) with the expected one in
 * time that does not depend on where they differ, so a guesser learns nothing from how long a refusal
 * takes. A missing secret is a wrong one. (node:crypto's timingSafeEqual would do, but loading
 * node:crypto costs every client ~50 ms.)
 */
export function sameSecret(presented: string | undefined, expected: string): boolean {
  if (presented === undefined || presented.length !== expected.length) return false;
  let difference = 0;
  for (let i = 0; i < expected.length; i++) difference |= presented.charCodeAt(i) ^ expected.charCodeAt(i);
  return difference === 0;
}

/** `bytes` random bytes as hex text. */
export function randomHex(bytes: number): string {
  return [...crypto.getRandomValues(new Uint8Array(bytes))].map((b) => b.toString(16).padStart(2, "0")).join(
    "",
  );
}
