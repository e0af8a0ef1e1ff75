// Email-and-password sign-in with attempt limiting per account and per client address. A refused attempt
// looks like a wrong password and costs no scrypt, so guessing is slow and a locked account is no oracle.
import { createAttemptLimiter, type TAttemptLimiter } from "./attempt-limiter.ts";

const WINDOW_MS = 15 * 60_000;
/** Per account: a person who forgot the password has room; a guesser gets 10 tries per quarter hour. */
export const ACCOUNT_ATTEMPTS = 10;
/** Per address: higher, as a whole office may sign in from behind one NAT. */
export const ADDRESS_ATTEMPTS = 50;

export interface TPasswordSignInDeps<TUser> {
  /** The user, or null for a wrong password or an account that may not sign in here. */
  authenticate(name: string, password: string): Promise<TUser | null>;
  accounts?: TAttemptLimiter;
  addresses?: TAttemptLimiter;
  /** Told when an attempt is refused unchecked. */
  onLimited?(what: { name: string; address: string | null }): void;
}

export type TPasswordSignIn<TUser> = (
  name: string,
  password: string,
  address: string | null,
) => Promise<TUser | null>;

export function createPasswordSignIn<TUser>(deps: TPasswordSignInDeps<TUser>): TPasswordSignIn<TUser> {
  const accounts =
    deps.accounts ?? createAttemptLimiter({ maxAttempts: ACCOUNT_ATTEMPTS, windowMs: WINDOW_MS });
  const addresses =
    deps.addresses ?? createAttemptLimiter({ maxAttempts: ADDRESS_ATTEMPTS, windowMs: WINDOW_MS });

  return async (name, password, address) => {
    if (accounts.isBlocked(name) || (address !== null && addresses.isBlocked(address))) {
      deps.onLimited?.({ name, address });
      return null;
    }
    // Counted before the check, with nothing awaited in between: parallel guesses cannot all slip under the limit.
    accounts.record(name);
    if (address !== null) addresses.record(address);
    const user = await deps.authenticate(name, password);
    if (user) {
      accounts.reset(name);
      // Only taken back, not cleared: a guesser's own good sign-in must not wipe the address's failures.
      if (address !== null) addresses.forgive(address);
    }
    return user;
  };
}

/**
 * The client's address as the nearest proxy saw it: the last X-Forwarded-For entry (Next sets the header to the
 * socket's address when a request arrives without one). Without a proxy in front that appends it, a client can
 * send any value, so only the per-account limit holds for certain.
 */
export function clientAddressOf(headers: Record<string, unknown> | undefined): string | null {
  const forwarded = headers?.["x-forwarded-for"];
  if (typeof forwarded !== "string") return null;
  const last = forwarded.split(",").at(-1)?.trim();
  return last ? last.slice(0, 100) : null;
}
