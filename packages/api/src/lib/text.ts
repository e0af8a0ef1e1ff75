// Text Postgres can store. It refuses NUL characters and unpaired UTF-16 surrogates (a string cut inside an
// emoji): in a query parameter either fails the whole statement, so inputs refuse them up front (a 400, not
// a 500) and agents' audit events have them replaced before they are hashed and stored.
import { z } from "zod";

/** A UTF-16 surrogate not part of a pair (in a `u` regex, a pair is one code point and does not match). */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;
const LONE_SURROGATES = /[\uD800-\uDFFF]/gu;

export function isStorableText(text: string): boolean {
  return !text.includes("\u0000") && !LONE_SURROGATE.test(text);
}

/** The text with NUL and lone surrogates replaced by U+FFFD; the same string when there are none (one scan). */
export function storableText(text: string): string {
  if (isStorableText(text)) return text;
  return text.replace(LONE_SURROGATES, "\uFFFD").replaceAll("\u0000", "\uFFFD");
}

/** z.string() for inputs: refuses text Postgres cannot store. Chain .trim(), .min(), .max() as on z.string(). */
export const ZText = z
  .string()
  .refine(isStorableText, "must not contain NUL characters or unpaired UTF-16 surrogates");
