// The repositories' typed errors as the AppErrors services throw: one mapping for every service that uses them.
import { IdentityConflictError, NotFoundError, ScimForbiddenError, ScimMemberError } from "@portcullis/db";
import { AppError } from "../errors.ts";

export async function mapDbErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof NotFoundError) throw new AppError("NOT_FOUND", error.message);
    if (error instanceof IdentityConflictError) throw new AppError("CONFLICT", error.message);
    if (error instanceof ScimMemberError) throw new AppError("BAD_REQUEST", error.message);
    if (error instanceof ScimForbiddenError) throw new AppError("FORBIDDEN", error.message);
    throw error;
  }
}
