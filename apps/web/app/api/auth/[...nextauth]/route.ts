import NextAuth from "next-auth";
import { authOptions } from "../../../../auth.ts";

const handler: (req: Request, ctx: unknown) => Promise<Response> = NextAuth(authOptions);

export { handler as GET, handler as POST };
