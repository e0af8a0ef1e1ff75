// Dashboard sign-in (next-auth v4, JWT sessions). Providers are a list so OIDC can join the credentials
// provider later without touching the session shape: every provider must resolve to a Portcullis identity id.
import { createHash } from "node:crypto";
import { authenticatePassword } from "@portcullis/db";
import type { AuthOptions, Session } from "next-auth";
import { getServerSession } from "next-auth";
import CredentialsProvider from "next-auth/providers/credentials";
import { redirect } from "next/navigation";
import { z } from "zod";
import { env } from "./env.ts";
import { getDb } from "./lib/db.ts";

const ZCredentials = z.object({
  email: z.string().trim().min(1).max(320),
  password: z.string().min(1).max(1024),
});

const credentialsProvider = CredentialsProvider({
  id: "credentials",
  name: "Email and password",
  credentials: {
    email: { label: "Email", type: "email" },
    password: { label: "Password", type: "password" },
  },
  async authorize(raw) {
    const parsed = ZCredentials.safeParse(raw);
    if (!parsed.success) return null;
    const identity = await authenticatePassword(getDb(), parsed.data.email, parsed.data.password);
    // Only people sign in to the dashboard; services and AI agents use API tokens.
    if (!identity || identity.kind !== "human") return null;
    return { id: identity.id, name: identity.displayName, email: identity.name, roles: identity.roles };
  },
});

/**
 * Production requires AUTH_SECRET (env.ts). Development derives a stable one from PORTCULLIS_SECRET_KEY: next-auth's
 * own fallback is computed per bundle, so the route handler and server components would disagree and drop sessions.
 */
const authSecret =
  env.AUTH_SECRET ??
  createHash("sha256").update(`portcullis-auth:${env.PORTCULLIS_SECRET_KEY}`).digest("base64url");

export const authOptions: AuthOptions = {
  secret: authSecret,
  providers: [credentialsProvider],
  session: { strategy: "jwt", maxAge: 12 * 60 * 60 },
  pages: { signIn: "/login" },
  callbacks: {
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
