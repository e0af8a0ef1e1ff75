// A real OpenID provider for the single sign-on tests: `oidc-provider` (a certified OpenID Connect
// implementation) on a fixed loopback port, with its development sign-in pages and accounts that carry
// groups. One demo of global-setup is configured to trust it; next-auth reads its discovery document at
// sign-in time, so the provider only has to run while a test signs in.
import { generateKeyPairSync } from "node:crypto";
import { createServer, type Server } from "node:http";
import Provider from "oidc-provider";

// Next to the demos (3310, 3320) and the resilience test (3330); the bench uses 3391.
export const OIDC_PORT = 3340;
export const OIDC_ISSUER = `http://127.0.0.1:${OIDC_PORT}`;
export const OIDC_DISPLAY_NAME = "Acme ID";
const CLIENT_ID = "portcullis-e2e";
// A test-only secret shared by this file and global-setup; the provider lives only as long as the test.
const CLIENT_SECRET = "e2e-oidc-client-secret-for-loopback-tests-only";

/** The demo global-setup configures for single sign-on. */
export const OIDC_DEMO = "postgres" as const;

/** What global-setup passes to that demo's `npm start`. */
export function oidcEnvironment(): Record<string, string> {
  return {
    OIDC_ISSUER,
    OIDC_CLIENT_ID: CLIENT_ID,
    OIDC_CLIENT_SECRET: CLIENT_SECRET,
    OIDC_DISPLAY_NAME,
  };
}

export interface TSsoAccount {
  email: string;
  name: string;
  groups: string[];
}

export interface TRunningProvider {
  close(): Promise<void>;
}

/** Starts the provider; `accounts` is keyed by the login typed on its sign-in page. */
export async function startOidcProvider(
  dashboardUrl: string,
  accounts: Record<string, TSsoAccount>,
): Promise<TRunningProvider> {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const provider = new Provider(OIDC_ISSUER, {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        redirect_uris: [`${dashboardUrl}/api/auth/callback/oidc`],
        grant_types: ["authorization_code"],
        response_types: ["code"],
      },
    ],
    jwks: { keys: [{ ...privateKey.export({ format: "jwk" }), kid: "e2e", use: "sig", alg: "RS256" }] },
    cookies: { keys: ["e2e-oidc-cookie-key"] },
    // Each key is a scope; `groups` is what the dashboard asks for besides the standard ones.
    claims: { email: ["email", "email_verified"], profile: ["name"], groups: ["groups"] },
    // The default keeps these claims out of the ID token in the code flow (userinfo serves them), as strict
    // providers do: the dashboard must read both.
    features: { devInteractions: { enabled: true } },
    // Explicit lifetimes (seconds) for what a test sign-in creates; the defaults print a notice each.
    ttl: { Interaction: 600, Session: 3600, Grant: 3600, AccessToken: 600, IdToken: 600 },
    // Confidential clients may skip PKCE by default; insist, so the dashboard's PKCE is exercised.
    pkce: { required: () => true },
    findAccount(_ctx, sub) {
      const account = accounts[sub];
      if (!account) return undefined;
      return {
        accountId: sub,
        claims: () => ({
          sub,
          email: account.email,
          email_verified: true,
          name: account.name,
          groups: account.groups,
        }),
      };
    },
  });
  const server: Server = createServer(provider.callback());
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(OIDC_PORT, "127.0.0.1", () => resolve());
  });
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
