import { ApiError } from '../api';

/** The top-level parameter an API error names (`attachments.0` → `attachments`), if any. */
export function errorParam(error: unknown): string | null {
  if (!(error instanceof ApiError) || !error.param) return null;
  return error.param.split(/[.[]/, 1)[0] ?? null;
}

/** Props that tie a control to the message that describes its error. */
export function invalidProps(fieldError: string | null, errorId: string, hintId?: string) {
  const describedBy = [fieldError ? errorId : null, hintId ?? null].filter(Boolean).join(' ');
  return {
    'aria-invalid': fieldError ? ('true' as const) : undefined,
    'aria-describedby': describedBy || undefined,
  };
}
