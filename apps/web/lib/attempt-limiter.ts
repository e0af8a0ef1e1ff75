// Counts sign-in attempts per key (an account name, a client address) in a fixed window opened by the key's
// first attempt; past the limit the key is refused until its window has passed. In memory: each web process
// counts on its own (N replicas allow N times the limit) and a restart forgets.

export interface TAttemptLimiterOptions {
  maxAttempts: number;
  windowMs: number;
  /** Keys remembered at most: made-up account names must not grow memory without end. Oldest go first. */
  maxKeys?: number;
  now?: () => number;
}

export interface TAttemptLimiter {
  /** Whether the key has used up its attempts in its current window. */
  isBlocked(key: string): boolean;
  /** Counts one attempt. */
  record(key: string): void;
  /** Takes back one counted attempt (one that turned out not to be a failure). */
  forgive(key: string): void;
  /** Forgets the key altogether. */
  reset(key: string): void;
}

export function createAttemptLimiter(options: TAttemptLimiterOptions): TAttemptLimiter {
  const now = options.now ?? Date.now;
  const maxKeys = options.maxKeys ?? 100_000;
  // Insertion order is window order: a key is only ever added when its window opens.
  const windows = new Map<string, { opened: number; attempts: number }>();
  const expired = (w: { opened: number }) => now() - w.opened >= options.windowMs;

  const current = (key: string) => {
    const w = windows.get(key);
    if (w && expired(w)) {
      windows.delete(key);
      return undefined;
    }
    return w;
  };

  // The first keys are the oldest windows, so the expired go first and, when all are live, the nearest to expiry.
  const makeRoom = () => {
    for (const key of windows.keys()) {
      if (windows.size < maxKeys) return;
      windows.delete(key);
    }
  };

  return {
    isBlocked: (key) => (current(key)?.attempts ?? 0) >= options.maxAttempts,
    record(key) {
      const w = current(key);
      if (w) {
        w.attempts++;
        return;
      }
      makeRoom();
      windows.set(key, { opened: now(), attempts: 1 });
    },
    forgive(key) {
      const w = current(key);
      if (w && w.attempts > 0) w.attempts--;
    },
    reset(key) {
      windows.delete(key);
    },
  };
}
