// Text Postgres can store (storableText in @portcullis/agent-protocol): a NUL or an unpaired UTF-16 surrogate
// in a query parameter fails the whole statement, so inputs refuse them up front (a 400, not a 500) and agents'
// audit events have them replaced before they are hashed and stored.
import { isStorableText } from "@portcullis/agent-protocol";
import { z } from "zod";

export { storableText } from "@portcullis/agent-protocol";

/** z.string() for inputs: refuses text Postgres cannot store. Chain .trim(), .min(), .max() as on z.string(). */
export const ZText = z
  .string()
  .refine(isStorableText, "must not contain NUL characters or unpaired UTF-16 surrogates");
