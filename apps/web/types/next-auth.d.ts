import type { TRole } from "@portcullis/api";

declare module "next-auth" {
  interface Session {
    user: { id: string; name: string; email: string; roles: TRole[] };
  }
  interface User {
    roles: TRole[];
  }
}

declare module "next-auth/jwt" {
  interface JWT {
    roles?: TRole[];
  }
}
