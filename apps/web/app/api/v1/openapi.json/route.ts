import { jsonResponse, openApiDocument } from "@portcullis/api";
import { env } from "../../../../env.ts";

export const dynamic = "force-dynamic";

/** The OpenAPI 3.1 document of API v1 (public: it describes the API, not its data). */
export function GET() {
  return jsonResponse(openApiDocument(env.PUBLIC_URL));
}
