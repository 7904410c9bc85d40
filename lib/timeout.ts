/**
 * Deadlines for things that may never finish: a client that never sends its request, a worker that
 * never greets.
 *
 * @module
 */

/** Resolves as `promise` does, or rejects with `onTimeout()` if it has not settled within `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(onTimeout()), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * As {@linkcode withTimeout}, for the client, which runs once per compile: the deadline is an
 * `AbortSignal.timeout`, which costs nothing to set up, where a process's first `setTimeout` loads Deno's
 * Node timers (~6 ms). Its timer cannot be cleared (it does not keep the process alive), so a long-lived
 * process that sets many deadlines should use {@linkcode withTimeout}, whose timers go with their promise.
 */
export function withDeadline<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  const deadline = AbortSignal.timeout(ms);
  return new Promise<T>((resolve, reject) => {
    deadline.addEventListener("abort", () => reject(onTimeout()), { once: true });
    promise.then(resolve, reject);
  });
}
