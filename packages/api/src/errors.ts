// Services throw AppError and know nothing of transports; only the tRPC and REST edges turn codes into statuses.
export const APP_ERROR_CODES = [
  "NOT_FOUND",
  "FORBIDDEN",
  "UNAUTHORIZED",
  "BAD_REQUEST",
  "CONFLICT",
  "PAYLOAD_TOO_LARGE",
  "INTERNAL",
] as const;

export type TAppErrorCode = (typeof APP_ERROR_CODES)[number];

export class AppError extends Error {
  override readonly name = "AppError";

  constructor(
    readonly code: TAppErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}

const HTTP_STATUS: Record<TAppErrorCode, number> = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  INTERNAL: 500,
};

export function httpStatusOf(code: TAppErrorCode): number {
  return HTTP_STATUS[code];
}

/** tRPC has its own code names; INTERNAL is the only one that differs. */
export function trpcCodeOf(code: TAppErrorCode) {
  return code === "INTERNAL" ? ("INTERNAL_SERVER_ERROR" as const) : code;
}
