import type { TRole } from "@portcullis/api";
import type { TSsoRefusal } from "../auth.ts";

declare module "next-auth" {
  interface Session {
    user: { id: string; name: string; email: string; roles: TRole[] };
  }
  interface User {
    roles: TRole[];
    /** Set by the OIDC provider's profile() when the person may not sign in; the signIn callback refuses. */
    ssoRefusal?: TSsoRefusal;
  }
}

declare module "next-auth/jwt" {
  interface JWT {
    roles?: TRole[];
  }
}
