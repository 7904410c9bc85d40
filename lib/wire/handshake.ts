/**
 * The challenge–response that opens every connection of the client protocol (lib/wire/client_protocol.ts),
 * so that each end proves it knows the user's token (lib/address/token.ts) without the token ever crossing
 * the socket:
 *
 * 1. the client greets with a fresh nonce of its own, and nothing else of value;
 * 2. the server answers with a fresh nonce and {@linkcode serverProof}: an HMAC-SHA256, keyed with the
 *    token, of both nonces — the client checks it before it reveals anything (its request carries the
 *    complete environment, argv and working directory, and it prints whatever the server answers);
 * 3. the client sends {@linkcode clientProof}, the HMAC of the nonces in the other order under another tag,
 *    with its request; the server checks it before it reads the request.
 *
 * Each side's nonce makes the other's proof fresh, so a recorded proof is worth nothing on another
 * connection, and the distinct tags keep a server's proof from being replayed as a client's.
 *
 * @module
 */

import { randomHex, sameSecret } from "../address/token.ts";

/** Random bytes in a nonce: enough that no two connections ever share one. */
export const NONCE_BYTES = 32;

const SERVER_TAG = "ghcpw handshake: server proof\0";
const CLIENT_TAG = "ghcpw handshake: client proof\0";

const encoder = new TextEncoder();

/** A fresh random nonce, as hex text (as it travels in a greeting's properties). */
export function newNonce(): string {
  return randomHex(NONCE_BYTES);
}

/** Whether `text` is a nonce as {@linkcode newNonce} makes them; anything else is a protocol error. */
export function isNonce(text: string | undefined): text is string {
  return text !== undefined && text.length === 2 * NONCE_BYTES && /^[0-9a-f]+$/.test(text);
}

/** The server's proof for a connection: HMAC(token, server tag ‖ client nonce ‖ server nonce), as hex. */
export function serverProof(token: string, clientNonce: string, serverNonce: string): Promise<string> {
  return hmac(token, SERVER_TAG, clientNonce, serverNonce);
}

/** The client's proof for a connection: HMAC(token, client tag ‖ server nonce ‖ client nonce), as hex. */
export function clientProof(token: string, serverNonce: string, clientNonce: string): Promise<string> {
  return hmac(token, CLIENT_TAG, serverNonce, clientNonce);
}

/**
 * Whether `presented` (missing: no) is the server's proof for the token and nonces; compared in constant
 * time, so a peer learns nothing from how long a refusal takes.
 */
export async function isServerProof(
  presented: string | undefined,
  token: string,
  clientNonce: string,
  serverNonce: string,
): Promise<boolean> {
  return sameSecret(presented, await serverProof(token, clientNonce, serverNonce));
}

/** Whether `presented` (missing: no) is the client's proof for the token and nonces; constant time. */
export async function isClientProof(
  presented: string | undefined,
  token: string,
  serverNonce: string,
  clientNonce: string,
): Promise<boolean> {
  return sameSecret(presented, await clientProof(token, serverNonce, clientNonce));
}

/** The key of the last token used: a server and a client each use one token for every proof they make. */
let lastKey: { token: string; key: Promise<CryptoKey> } | null = null;

function hmacKey(token: string): Promise<CryptoKey> {
  if (lastKey?.token !== token) {
    // WebCrypto is built into Deno: no module to load, which every client would pay for.
    const usages: KeyUsage[] = ["sign"];
    const key = crypto.subtle.importKey(
      "raw",
      encoder.encode(token),
      { name: "HMAC", hash: "SHA-256" },
      false,
      usages,
    );
    lastKey = { token, key };
  }
  return lastKey.key;
}

async function hmac(token: string, tag: string, first: string, second: string): Promise<string> {
  // Fixed-length nonces after a fixed tag: no two different inputs give the same message.
  const message = encoder.encode(`${tag}${first}${second}`);
  return toHex(new Uint8Array(await crypto.subtle.sign("HMAC", await hmacKey(token), message)));
}

function toHex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}
