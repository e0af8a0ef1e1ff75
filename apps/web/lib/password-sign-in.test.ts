import { describe, expect, it } from "vitest";
import { createAttemptLimiter } from "./attempt-limiter.ts";
import { ACCOUNT_ATTEMPTS, clientAddressOf, createPasswordSignIn } from "./password-sign-in.ts";

const WINDOW_MS = 15 * 60_000;

function setup(addressAttempts = 1000) {
  let time = 0;
  const now = () => time;
  const checked: string[] = [];
  const limited: string[] = [];
  const signIn = createPasswordSignIn({
    // Stands in for the store and its scrypt: counts what was really checked.
    authenticate(name: string, password: string) {
      checked.push(name);
      return Promise.resolve(password === "right" ? { name } : null);
    },
    accounts: createAttemptLimiter({ maxAttempts: ACCOUNT_ATTEMPTS, windowMs: WINDOW_MS, now }),
    addresses: createAttemptLimiter({ maxAttempts: addressAttempts, windowMs: WINDOW_MS, now }),
    onLimited: ({ name }) => limited.push(name),
  });
  return { signIn, checked, limited, advance: (ms: number) => (time += ms) };
}

describe("password sign-in limits", () => {
  it("refuses an account after 10 failures in 15 minutes, without checking, until the window passes", async () => {
    const { signIn, checked, limited, advance } = setup();
    for (let i = 0; i < ACCOUNT_ATTEMPTS; i++) expect(await signIn("ada", "wrong", "10.0.0.1")).toBeNull();
    expect(checked).toHaveLength(ACCOUNT_ATTEMPTS);
    // Even the right password is refused now, the same way, and costs no check.
    expect(await signIn("ada", "right", "10.0.0.2")).toBeNull();
    expect(checked).toHaveLength(ACCOUNT_ATTEMPTS);
    expect(limited).toEqual(["ada"]);
    // Other accounts are not affected.
    expect(await signIn("bob", "right", "10.0.0.1")).toEqual({ name: "bob" });
    advance(WINDOW_MS);
    expect(await signIn("ada", "right", "10.0.0.1")).toEqual({ name: "ada" });
  });

  it("starts an account afresh after a successful sign-in", async () => {
    const { signIn } = setup();
    for (let i = 0; i < ACCOUNT_ATTEMPTS - 1; i++) await signIn("ada", "wrong", null);
    expect(await signIn("ada", "right", null)).toEqual({ name: "ada" });
    for (let i = 0; i < ACCOUNT_ATTEMPTS - 1; i++) await signIn("ada", "wrong", null);
    expect(await signIn("ada", "right", null)).toEqual({ name: "ada" });
  });

  it("refuses an address that fails across many accounts, and not other addresses", async () => {
    const { signIn, checked } = setup(5);
    for (let i = 0; i < 5; i++) await signIn(`user${i}`, "wrong", "203.0.113.9");
    expect(await signIn("ada", "right", "203.0.113.9")).toBeNull();
    expect(checked).toHaveLength(5);
    expect(await signIn("ada", "right", "198.51.100.1")).toEqual({ name: "ada" });
  });

  it("counts attempts before checking, so parallel guesses cannot all slip under the limit", async () => {
    const { signIn, checked } = setup();
    await Promise.all(Array.from({ length: 50 }, () => signIn("ada", "wrong", null)));
    expect(checked).toHaveLength(ACCOUNT_ATTEMPTS);
  });

  it("reads the client address from the last X-Forwarded-For entry", () => {
    expect(clientAddressOf({ "x-forwarded-for": "1.1.1.1, 10.0.0.7" })).toBe("10.0.0.7");
    expect(clientAddressOf({ "x-forwarded-for": "::1" })).toBe("::1");
    expect(clientAddressOf({})).toBeNull();
    expect(clientAddressOf(undefined)).toBeNull();
  });
});
