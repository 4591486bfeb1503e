// The one way the console talks to the API: same origin, the session cookie sent by the
// browser, the CSRF token (kept in memory only) on every state-changing request.

import type { Session } from './types';

export const NETWORK_MESSAGE = 'Could not reach Zumik; your text is kept, try again.';

/** An answer from the API in its error envelope (or a response that was not one). */
export class ApiError extends Error {
  readonly status: number;
  readonly type: string;
  readonly code: string;
  readonly param: string | null;
  readonly requestId: string | null;
  /** Seconds, from `Retry-After`, when the API sent one. */
  readonly retryAfter: number | null;

  constructor(
    status: number,
    fields: { type: string; code: string; message: string; param: string | null },
    requestId: string | null,
    retryAfter: number | null,
  ) {
    super(fields.message);
    this.name = 'ApiError';
    this.status = status;
    this.type = fields.type;
    this.code = fields.code;
    this.param = fields.param;
    this.requestId = requestId;
    this.retryAfter = retryAfter;
  }
}

/** The request never got an answer (offline, DNS, connection reset, aborted by the browser). */
export class NetworkError extends Error {
  constructor() {
    super(NETWORK_MESSAGE);
    this.name = 'NetworkError';
  }
}

/** A failure as one sentence for the user, with the request id to report. */
export function describeError(error: unknown): string {
  if (error instanceof NetworkError) return NETWORK_MESSAGE;
  if (error instanceof ApiError) {
    let text = error.message || `The request failed (HTTP ${error.status}).`;
    if (error.retryAfter !== null && (error.status === 429 || error.status === 409)) {
      text += ` Try again in ${formatWait(error.retryAfter)}.`;
    }
    if (error.requestId) text += ` (request ${error.requestId})`;
    return text;
  }
  return error instanceof Error ? error.message : String(error);
}

function formatWait(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.ceil(seconds / 60);
  return `${minutes} min`;
}

// ---------------------------------------------------------------------------------------------
// Session plumbing

let csrfToken: string | null = null;
let signedOutHandler: ((code: string) => void) | null = null;

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** Called on a 401 from any call but sign-in itself: the session is gone. */
export function onSignedOut(handler: (code: string) => void): void {
  signedOutHandler = handler;
}

const SESSION_PATH = '/v2/console/session';
const SESSIONS_PATH = '/v2/console/sessions';

function isStateChanging(method: string): boolean {
  return method !== 'GET' && method !== 'HEAD';
}

function parseRetryAfter(value: string | null): number | null {
  if (!value) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
  const date = Date.parse(value);
  if (Number.isNaN(date)) return null;
  return Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

/** Builds an ApiError from a non-2xx answer, whatever its body was. */
export function errorFromResponse(
  status: number,
  bodyText: string,
  header: (name: string) => string | null,
): ApiError {
  let fields = {
    type: 'api_error',
    code: `http_${status}`,
    message:
      status >= 500
        ? `Zumik had a problem on its side (HTTP ${status}); try again.`
        : `The request failed (HTTP ${status}).`,
    param: null as string | null,
  };
  try {
    const parsed: unknown = JSON.parse(bodyText);
    const error = (parsed as { error?: Record<string, unknown> } | null)?.error;
    if (error && typeof error === 'object') {
      fields = {
        type: typeof error.type === 'string' ? error.type : fields.type,
        code: typeof error.code === 'string' ? error.code : fields.code,
        message: typeof error.message === 'string' ? error.message : fields.message,
        param: typeof error.param === 'string' ? error.param : null,
      };
    }
  } catch {
    // Not our envelope (a proxy's HTML page, say): keep the generic message.
  }
  if (status === 413 && fields.code === `http_413`) {
    fields.message = 'That is larger than Zumik accepts.';
  }
  return new ApiError(status, fields, header('Request-Id'), parseRetryAfter(header('Retry-After')));
}

/** A 401 anywhere but at sign-in means the session ended. */
function noticeAuthFailure(path: string, method: string, error: ApiError): void {
  if (error.status !== 401) return;
  if (path === SESSIONS_PATH && method === 'POST') return;
  signedOutHandler?.(error.code);
}

function isCsrfFailure(error: ApiError): boolean {
  return error.status === 403 && error.code === 'csrf_token_invalid';
}

/** Re-reads the session for a fresh CSRF token; true when one was found. */
async function refreshCsrf(): Promise<boolean> {
  try {
    const response = await fetch(SESSION_PATH, {
      credentials: 'same-origin',
      headers: { Accept: 'application/json' },
      cache: 'no-store',
    });
    if (!response.ok) return false;
    const session = (await response.json()) as Session;
    csrfToken = session.csrf_token;
    return true;
  } catch {
    return false;
  }
}

export interface RequestOptions {
  body?: unknown;
  idempotencyKey?: string;
  signal?: AbortSignal;
}

export async function api<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const attempt = async (): Promise<Response> => {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    if (options.idempotencyKey) headers['Idempotency-Key'] = options.idempotencyKey;
    if (isStateChanging(method) && csrfToken) headers['X-CSRF-Token'] = csrfToken;
    const init: RequestInit = { method, headers, credentials: 'same-origin', cache: 'no-store' };
    if (options.body !== undefined) init.body = JSON.stringify(options.body);
    if (options.signal) init.signal = options.signal;
    try {
      return await fetch(path, init);
    } catch (cause) {
      if (options.signal?.aborted) throw cause;
      throw new NetworkError();
    }
  };

  let response = await attempt();
  if (!response.ok) {
    let error = errorFromResponse(response.status, await safeText(response), (n) => response.headers.get(n));
    if (isCsrfFailure(error) && (await refreshCsrf())) {
      response = await attempt();
      if (response.ok) return readBody<T>(response);
      error = errorFromResponse(response.status, await safeText(response), (n) => response.headers.get(n));
    }
    noticeAuthFailure(path, method, error);
    throw error;
  }
  return readBody<T>(response);
}

async function safeText(response: Response): Promise<string> {
  try {
    return await response.text();
  } catch {
    return '';
  }
}

async function readBody<T>(response: Response): Promise<T> {
  if (response.status === 204) return undefined as T;
  const text = await safeText(response);
  if (!text) return undefined as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ApiError(
      response.status,
      {
        type: 'api_error',
        code: 'invalid_response',
        message: 'Zumik sent an answer the console could not read; try again.',
        param: null,
      },
      response.headers.get('Request-Id'),
      null,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Uploads: XMLHttpRequest, for upload progress.

export interface Upload<T> {
  promise: Promise<T>;
  abort: () => void;
}

export function uploadFile<T>(
  path: string,
  file: File,
  onProgress: (fraction: number) => void,
): Upload<T> {
  let current: XMLHttpRequest | null = null;
  let aborted = false;

  const send = (): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      current = xhr;
      xhr.open('POST', path);
      xhr.setRequestHeader('Accept', 'application/json');
      if (csrfToken) xhr.setRequestHeader('X-CSRF-Token', csrfToken);
      xhr.upload.onprogress = (event) => {
        if (event.lengthComputable && event.total > 0) onProgress(event.loaded / event.total);
      };
      xhr.onerror = () => reject(new NetworkError());
      xhr.ontimeout = () => reject(new NetworkError());
      xhr.onabort = () => reject(new DOMException('Upload cancelled', 'AbortError'));
      xhr.onload = () => {
        const header = (name: string) => xhr.getResponseHeader(name);
        if (xhr.status >= 200 && xhr.status < 300) {
          try {
            resolve(JSON.parse(xhr.responseText) as T);
          } catch {
            reject(
              new ApiError(
                xhr.status,
                {
                  type: 'api_error',
                  code: 'invalid_response',
                  message: 'Zumik sent an answer the console could not read; try again.',
                  param: null,
                },
                header('Request-Id'),
                null,
              ),
            );
          }
          return;
        }
        reject(errorFromResponse(xhr.status, xhr.responseText, header));
      };
      const form = new FormData();
      form.append('purpose', 'support_attachment');
      form.append('file', file, file.name);
      xhr.send(form);
    });

  const run = async (): Promise<T> => {
    try {
      return await send();
    } catch (error) {
      if (error instanceof ApiError && isCsrfFailure(error) && !aborted && (await refreshCsrf())) {
        onProgress(0);
        try {
          return await send();
        } catch (second) {
          if (second instanceof ApiError) noticeAuthFailure(path, 'POST', second);
          throw second;
        }
      }
      if (error instanceof ApiError) noticeAuthFailure(path, 'POST', error);
      throw error;
    }
  };

  return {
    promise: run(),
    abort: () => {
      aborted = true;
      current?.abort();
    },
  };
}

/** A fresh Idempotency-Key (crypto.randomUUID, with a fallback outside secure contexts). */
export function newIdempotencyKey(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function isAbort(error: unknown): boolean {
  return error instanceof DOMException && error.name === 'AbortError';
}

// ---------------------------------------------------------------------------------------------
// Endpoints

export const paths = {
  sessions: SESSIONS_PATH,
  session: SESSION_PATH,
  tickets: '/v2/support/tickets',
  ticket: (id: string) => `/v2/support/tickets/${encodeURIComponent(id)}`,
  ticketMessages: (id: string) => `/v2/support/tickets/${encodeURIComponent(id)}/messages`,
  files: '/v2/support/files',
  fileContent: (id: string) => `/v2/support/files/${encodeURIComponent(id)}/content`,
  staffQueue: '/v2/support/staff/queue',
  staffTicket: (id: string) => `/v2/support/staff/tickets/${encodeURIComponent(id)}`,
  staffMessages: (id: string) => `/v2/support/staff/tickets/${encodeURIComponent(id)}/messages`,
  staffFiles: (id: string) => `/v2/support/staff/tickets/${encodeURIComponent(id)}/files`,
  staffFileContent: (id: string) => `/v2/support/staff/files/${encodeURIComponent(id)}/content`,
};

export function query(params: Record<string, string | number | boolean | null | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === null || value === undefined || value === '') continue;
    search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}
