// Services validate what comes in (a caller's mistake: BAD_REQUEST) and what goes out (our bug: INTERNAL).
import { z } from "zod";
import { AppError } from "../errors.ts";

export function parseInput<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  const result = schema.safeParse(input);
  if (!result.success)
    throw new AppError("BAD_REQUEST", z.prettifyError(result.error), { cause: result.error });
  return result.data;
}

export function parseOutput<T extends z.ZodType>(schema: T, output: unknown, what: string): z.output<T> {
  const result = schema.safeParse(output);
  if (!result.success) throw new AppError("INTERNAL", `${what} failed validation`, { cause: result.error });
  return result.data;
}
