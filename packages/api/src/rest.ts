// The REST edge (public API v1): JSON in and out, AppError codes mapped to HTTP statuses, one error shape.
import { AppError, httpStatusOf, type TAppErrorCode } from "./errors.ts";
import { readBodyText } from "./lib/request-body.ts";

export interface TRestErrorBody {
  error: { code: TAppErrorCode; message: string };
}

export function jsonResponse(body: unknown, init: ResponseInit = {}): Response {
  const headers = new Headers(init.headers);
  headers.set("content-type", "application/json; charset=utf-8");
  headers.set("cache-control", "no-store");
  return new Response(JSON.stringify(body), { ...init, headers });
}

export function restErrorResponse(error: unknown): Response {
  // Anything that is not an AppError is a bug: its message may leak internals, so clients get a generic one.
  const appError = error instanceof AppError ? error : new AppError("INTERNAL", "Internal server error");
  const body: TRestErrorBody = { error: { code: appError.code, message: appError.message } };
  const headers: Record<string, string> =
    appError.code === "UNAUTHORIZED" ? { "www-authenticate": "Bearer" } : {};
  return jsonResponse(body, { status: httpStatusOf(appError.code), headers });
}

/** Runs a handler and answers 200 (or successStatus) with its result, or the mapped error. `onError` sees unexpected failures. */
export async function handleRest(
  run: () => Promise<unknown>,
  onError?: (error: unknown) => void,
  successStatus = 200,
): Promise<Response> {
  try {
    return jsonResponse(await run(), { status: successStatus });
  } catch (error) {
    if (!(error instanceof AppError) || error.code === "INTERNAL") onError?.(error);
    return restErrorResponse(error);
  }
}

/** Query parameters as an object; empty values are dropped so `?text=` means "no text filter". */
export function searchParamsToObject(params: URLSearchParams): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [key, value] of params) if (value !== "") result[key] = value;
  return result;
}

/** The request's JSON object body; with `optional`, an empty body is `{}`. Anything else is a clear 400. */
export async function readJsonObject(
  request: Request,
  options: { optional?: boolean } = {},
): Promise<Record<string, unknown>> {
  const text = await readBodyText(request);
  if (options.optional && text.trim() === "") return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new AppError("BAD_REQUEST", "The request body must be JSON");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body))
    throw new AppError("BAD_REQUEST", "The request body must be a JSON object");
  return body as Record<string, unknown>;
}
