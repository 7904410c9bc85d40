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
 * As {@linkcode withTimeout}, for the client, which runs once per compile and ends with `Deno.exit`: the
 * deadline is an `AbortSignal.timeout`, which costs nothing to set up, where a process's first
 * `setTimeout` loads Deno's Node timers (~6 ms). Its timer is never cleared and keeps the process alive
 * until it fires, so only a process that exits explicitly may use it.
 */
export function withDeadline<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  const deadline = AbortSignal.timeout(ms);
  return new Promise<T>((resolve, reject) => {
    deadline.addEventListener("abort", () => reject(onTimeout()), { once: true });
    promise.then(resolve, reject);
  });
}
