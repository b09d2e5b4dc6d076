// The HTTP side of the client: URLs, the bearer token, and the server's error bodies
// (`{"error":{"code","message","path"?}}`, CONTRACT.md §4) turned into VoicetkError.

/**
 * An error from voicetk or from the client: `code` is the server's error code
 * (`invalid_transition`, `not_implemented`, ...) or one of the client's own (`no_current_call`,
 * `unreachable`, `closed`, `timeout`, `bad_response`); `status` is the HTTP status when
 * there was one; `path` the JSON path of a bad field when the server named one.
 */
export class VoicetkError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   * @param {{status?: number, path?: string, cause?: unknown}} [extra]
   */
  constructor(code, message, extra = {}) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = 'VoicetkError';
    this.code = code;
    this.status = extra.status;
    if (extra.path !== undefined) this.path = extra.path;
  }
}

/**
 * The server's base URL as a URL ending in `/`, so relative paths keep a path prefix
 * (a gateway behind a reverse proxy at `/voicetk/`).
 * @param {string | URL | undefined} url
 */
export function baseUrl(url) {
  let raw = url;
  if (raw === undefined || raw === null || raw === '') {
    const origin = globalThis.location?.origin;
    if (!origin || origin === 'null') {
      throw new TypeError('url: required (the voicetk server, e.g. "http://127.0.0.1:8080")');
    }
    raw = origin;
  }
  let parsed;
  try {
    parsed = new URL(String(raw), globalThis.location?.href);
  } catch {
    throw new TypeError(`url: not a URL: ${JSON.stringify(String(raw))}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new TypeError(`url: expected an http: or https: URL, found ${JSON.stringify(parsed.href)}`);
  }
  parsed.search = '';
  parsed.hash = '';
  if (!parsed.pathname.endsWith('/')) parsed.pathname += '/';
  return parsed;
}

/**
 * The WebSocket URL of `/v1/ws`. Browsers cannot set headers on a WebSocket, so the token
 * goes in `?access_token=` (docs/decisions.md).
 * @param {URL} base
 * @param {string | undefined} token
 */
export function wsUrl(base, token) {
  const url = new URL('v1/ws', base);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  if (token) url.searchParams.set('access_token', token);
  return url.href;
}

/**
 * Sends one request and parses the JSON answer; rejects with a VoicetkError carrying the
 * server's code, status and message on any non-2xx answer, `unreachable` when no answer came.
 * @param {{base: URL, token?: string, fetch: typeof fetch}} http
 * @param {string} method
 * @param {string} path relative to the base, without a leading slash
 * @param {unknown} [body] sent as JSON when given
 * @param {{timeoutMs?: number}} [options]
 */
export async function request(http, method, path, body, options = {}) {
  const url = new URL(path, http.base);
  const headers = { accept: 'application/json' };
  if (http.token) headers.authorization = `Bearer ${http.token}`;
  const init = { method, headers };
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const timeoutMs = options.timeoutMs ?? 30_000;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  init.signal = controller.signal;
  let response;
  let text;
  try {
    response = await http.fetch(url.href, init);
    text = await response.text();
  } catch (e) {
    const timedOut = controller.signal.aborted;
    throw new VoicetkError(
      timedOut ? 'timeout' : 'unreachable',
      timedOut
        ? `${method} ${url.pathname}: no answer from voicetk within ${timeoutMs} ms`
        : `${method} ${url.pathname}: cannot reach voicetk at ${http.base.origin}: ${e?.message ?? e}`,
      { cause: e },
    );
  } finally {
    clearTimeout(timer);
  }
  let json;
  try {
    json = text === '' ? null : JSON.parse(text);
  } catch (e) {
    throw new VoicetkError(
      'bad_response',
      `${method} ${url.pathname}: HTTP ${response.status} with a body that is not JSON: ${text.slice(0, 200)}`,
      { status: response.status, cause: e },
    );
  }
  if (!response.ok) {
    const err = json?.error;
    if (err && typeof err.code === 'string') {
      throw new VoicetkError(err.code, err.message ?? `HTTP ${response.status}`, {
        status: response.status,
        path: err.path,
      });
    }
    throw new VoicetkError('bad_response', `${method} ${url.pathname}: HTTP ${response.status}`, {
      status: response.status,
    });
  }
  return json;
}
