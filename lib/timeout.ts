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
