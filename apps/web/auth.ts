// Dashboard sign-in (next-auth v4, JWT sessions): email and password, and single sign-on through any OpenID
// Connect provider when OIDC_* is set. Every provider resolves to a Portcullis identity id.
import { createHash } from "node:crypto";
import { authenticatePassword, SsoSubjectMismatchError, upsertSsoIdentity } from "@portcullis/db";
import type { AuthOptions, Session, User } from "next-auth";
import { getServerSession } from "next-auth";
import CredentialsProvider from "next-auth/providers/credentials";
import type { OAuthConfig } from "next-auth/providers/oauth";
import { redirect } from "next/navigation";
import { z } from "zod";
import { env } from "./env.ts";
import { getDb } from "./lib/db.ts";
import { logger } from "./lib/logger.ts";
import { mergeClaims, personFromClaims } from "./lib/oidc-mapping.ts";
import { clientAddressOf, createPasswordSignIn } from "./lib/password-sign-in.ts";

const ZCredentials = z.object({
  email: z.string().trim().min(1).max(320),
  password: z.string().min(1).max(1024),
});

// One per process (see lib/attempt-limiter.ts): replicas each count their own attempts.
const passwordSignIn = createPasswordSignIn({
  async authenticate(name: string, password: string) {
    const identity = await authenticatePassword(getDb(), name, password);
    // Only people sign in to the dashboard; services and AI agents use API tokens.
    return identity?.kind === "human" ? identity : null;
  },
  onLimited: ({ name, address }) =>
    logger.warn({ name, address }, "password sign-in refused: too many attempts"),
});

const credentialsProvider = CredentialsProvider({
  id: "credentials",
  name: "Email and password",
  credentials: {
    email: { label: "Email", type: "email" },
    password: { label: "Password", type: "password" },
  },
  async authorize(raw, req) {
    const parsed = ZCredentials.safeParse(raw);
    if (!parsed.success) return null;
    const identity = await passwordSignIn(
      parsed.data.email,
      parsed.data.password,
      clientAddressOf(req.headers),
    );
    if (!identity) return null;
    return { id: identity.id, name: identity.displayName, email: identity.name, roles: identity.roles };
  },
});

/** Provider id: the callback URL the provider must allow is PUBLIC_URL + /api/auth/callback/oidc. */
export const OIDC_PROVIDER_ID = "oidc";

/** Why a provider's sign-in was refused; the login page explains each (see login/sign-in-errors.ts). */
export type TSsoRefusal = "AccessDenied" | "SsoEmailMissing" | "SsoSubjectMismatch" | "SsoUnavailable";

function refused(subject: string, refusal: TSsoRefusal): User {
  // profile() must return a user; this one never becomes a session (the signIn callback turns it away).
  return { id: `refused:${subject}`, roles: [], ssoRefusal: refusal };
}

function oidcProvider(config: {
  issuer: string;
  clientId: string;
  clientSecret: string;
  displayName: string;
}): OAuthConfig<Record<string, unknown>> {
  const issuer = config.issuer.replace(/\/+$/, "");
  return {
    id: OIDC_PROVIDER_ID,
    name: config.displayName,
    type: "oauth",
    // Fetched at each sign-in, not at start-up: the dashboard starts even while the provider is down.
    wellKnown: `${issuer}/.well-known/openid-configuration`,
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    authorization: { params: { scope: "openid email profile groups" } },
    idToken: true,
    checks: ["pkce", "state"],
    userinfo: {
      // The ID token is verified by then. Providers that follow the spec strictly (and oidc-provider by default)
      // keep email and groups out of it in the code flow and serve them from userinfo, so read both.
      async request({ tokens, client }) {
        // With idToken: true, next-auth hands over openid-client's TokenSet (its types only say "parameters").
        const claims = (tokens as unknown as { claims(): Record<string, unknown> }).claims();
        if (!client.issuer.metadata.userinfo_endpoint || !tokens.access_token) return claims;
        const userinfo: Record<string, unknown> = await client.userinfo(tokens.access_token);
        return mergeClaims(claims, userinfo);
      },
    },
    async profile(claims) {
      const subject = typeof claims.sub === "string" ? claims.sub : "unknown";
      const person = personFromClaims(claims, {
        groupsClaim: env.OIDC_GROUPS_CLAIM,
        mapping: env.OIDC_ROLE_MAPPING,
      });
      if (!person.ok) {
        logger.warn({ issuer, subject, reason: person.reason }, "single sign-on refused: unusable claims");
        return refused(subject, "SsoEmailMissing");
      }
      try {
        const identity = await upsertSsoIdentity(getDb(), { issuer, ...person });
        if (!identity) {
          logger.warn(
            { issuer, subject, email: person.email },
            "single sign-on refused: identity disabled or not a person",
          );
          return refused(subject, "AccessDenied");
        }
        return { id: identity.id, name: identity.displayName, email: identity.name, roles: identity.roles };
      } catch (error) {
        // Recorded in the audit timeline already; the person is told to ask an admin, not to retry.
        if (error instanceof SsoSubjectMismatchError) {
          logger.warn({ issuer, subject, email: person.email }, error.message);
          return refused(subject, "SsoSubjectMismatch");
        }
        // next-auth would swallow a throw here and show no reason at all.
        logger.error({ err: error, issuer, subject }, "single sign-on failed to store the identity");
        return refused(subject, "SsoUnavailable");
      }
    },
  };
}

const providers: AuthOptions["providers"] = [credentialsProvider];
if (env.OIDC_ISSUER && env.OIDC_CLIENT_ID && env.OIDC_CLIENT_SECRET)
  providers.push(
    oidcProvider({
      issuer: env.OIDC_ISSUER,
      clientId: env.OIDC_CLIENT_ID,
      clientSecret: env.OIDC_CLIENT_SECRET,
      displayName: env.OIDC_DISPLAY_NAME,
    }),
  );

/** For the login page: the single sign-on button's label, or null when OIDC is not configured. */
export function ssoDisplayName(): string | null {
  return providers.some((p) => p.id === OIDC_PROVIDER_ID) ? env.OIDC_DISPLAY_NAME : null;
}

/**
 * Production requires AUTH_SECRET (env.ts). Development derives a stable one from PORTCULLIS_SECRET_KEY: next-auth's
 * own fallback is computed per bundle, so the route handler and server components would disagree and drop sessions.
 */
const authSecret =
  env.AUTH_SECRET ??
  createHash("sha256").update(`portcullis-auth:${env.PORTCULLIS_SECRET_KEY}`).digest("base64url");

export const authOptions: AuthOptions = {
  secret: authSecret,
  providers,
  session: { strategy: "jwt", maxAge: 12 * 60 * 60 },
  // Errors of the provider flow land on the login page too (`/login?error=...`), which explains them.
  pages: { signIn: "/login", error: "/login" },
  callbacks: {
    signIn({ user }) {
      if (!user.ssoRefusal) return true;
      // A custom reason needs a URL; the standard one keeps next-auth's own error route.
      return user.ssoRefusal === "AccessDenied"
        ? false
        : `${env.PUBLIC_URL}/login?error=${encodeURIComponent(user.ssoRefusal)}`;
    },
    jwt({ token, user }) {
      // `user` is only present right after sign-in; later calls carry the token forward unchanged.
      if (user) {
        token.sub = user.id;
        token.roles = user.roles;
      }
      return token;
    },
    session({ session, token }) {
      // Roles here are for display; the API re-reads the identity on every call before authorizing.
      session.user = {
        id: token.sub ?? "",
        name: token.name ?? "",
        email: token.email ?? "",
        roles: token.roles ?? [],
      };
      return session;
    },
  },
};

export function getSession(): Promise<Session | null> {
  return getServerSession(authOptions);
}

/** For server components and layouts of signed-in pages. */
export async function requireSession(callbackUrl: string): Promise<Session> {
  const session = await getSession();
  if (!session?.user.id) redirect(`/login?callbackUrl=${encodeURIComponent(callbackUrl)}`);
  return session;
}
