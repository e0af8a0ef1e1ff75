import { describe, expect, it } from "vitest";
import { signInErrorMessage } from "./sign-in-errors.ts";

describe("sign-in error messages", () => {
  it("explains the single sign-on failures next-auth reports", () => {
    expect(signInErrorMessage("OAuthCallback")).toMatch(/could not be verified/);
    expect(signInErrorMessage("Callback")).toMatch(/cancelled or refused/);
    expect(signInErrorMessage("AccessDenied")).toMatch(/may not sign in/);
    expect(signInErrorMessage(["SsoEmailMissing", "x"])).toMatch(/verified email/);
    expect(signInErrorMessage("SsoSubjectMismatch")).toMatch(/linked to another account/);
  });

  it("never echoes an unknown code, and says nothing without one", () => {
    expect(signInErrorMessage("<script>")).toBe("Sign-in failed. Try again.");
    expect(signInErrorMessage(undefined)).toBeNull();
    expect(signInErrorMessage("")).toBeNull();
  });
});
