// What the login page says when next-auth sends someone back with ?error=<code> (the single sign-on flow,
// or the signIn callback's own refusals in auth.ts). Unknown codes get a generic line rather than the code.

const MESSAGES: Record<string, string> = {
  OAuthSignin: "Could not start single sign-on: the identity provider did not answer. Try again in a moment.",
  // The provider sent the person back with an error (cancelled, refused): next-auth reports "Callback".
  Callback:
    "Single sign-on did not complete: it was cancelled or refused at the identity provider. Try again.",
  // The provider's answer did not verify (state, PKCE, ID token signature) or its token endpoint failed.
  OAuthCallback:
    "Single sign-on did not complete: the identity provider's answer could not be verified. Try again, or ask an admin to check the single sign-on settings.",
  AccessDenied:
    "This account may not sign in to Portcullis (it is disabled, or not a person's account). Ask a Portcullis admin.",
  SsoEmailMissing:
    "The identity provider did not send a verified email address, so Portcullis cannot tell who you are.",
  SsoSubjectMismatch:
    "Your email belongs to a Portcullis account linked to another account at the identity provider. Ask a Portcullis admin.",
  SsoUnavailable: "Signed in at the identity provider, but Portcullis could not record it. Try again.",
  SessionRequired: "Sign in to continue.",
  CredentialsSignin: "Invalid email or password.",
};

export function signInErrorMessage(code: string | string[] | undefined): string | null {
  const value = Array.isArray(code) ? code[0] : code;
  if (!value) return null;
  return MESSAGES[value] ?? "Sign-in failed. Try again.";
}
