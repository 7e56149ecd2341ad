/**
 * tracetail.js — the browser client of a tracetail hub's live streams. An ES module with no
 * dependencies; served by every hub at `/tracetail.js`.
 *
 *   import { TracetailStream } from 'http://127.0.0.1:4318/tracetail.js';
 *
 *   const stream = new TracetailStream('http://127.0.0.1:4318/v1/stream', {
 *     filters: { service: ['checkout', 'payments'], level: 'warn', q: 'declined' },
 *     headers: { Authorization: 'Bearer …' },          // sent with every (re)connect
 *     onEvent(event) {                                  // every SSE event, in order
 *       if (event.type === 'log') console.log(event.json().message);
 *     },
 *     onStatus(status) { console.log(status.state, status.retryAt); },
 *   });
 *   await stream.fetch('/api/orders/1042');             // joins the stream's trace
 *   stream.close();
 *
 * **Reading.** The stream is read with `fetch`, so `headers` (such as `Authorization`) are
 * sent, status codes are seen and response headers read. The bytes are parsed as the WHATWG
 * HTML standard says (CR, LF and CRLF line ends, also split across chunks; a BOM only at the
 * very start; an `id` containing NUL is ignored; `retry` only when all digits). Where a
 * streaming `fetch` is missing, the library falls back to `EventSource` (no custom headers,
 * no status codes: every failure is retried; the cursor goes in the `lastEventId` parameter).
 *
 * **Reconnecting** follows the policy of tracetail's Rust client:
 * - delays grow from 1 s, doubling per attempt in a row up to 30 s, each drawn uniformly in
 *   `[0, ceiling]` (full jitter), so many clients dropped together come back spread out;
 * - the attempt count starts over after a connection that lasted 10 s or delivered an event
 *   other than `open` and `heartbeat`;
 * - the server's `retry:` field and a `Retry-After` header are minimum delays (capped at 5 min);
 * - the idle watchdog: no byte for three heartbeat intervals (`heartbeat_ms` of `event: open`,
 *   15 s until then) means the connection is dead; it is dropped and replaced;
 * - each connection resumes after the last dispatched event id (`Last-Event-ID`; exclusive);
 *   a stream that started live resumes from the `cursor` of its `event: open` until an event
 *   arrives, and after a `gap` from its `resumed_from`, so nothing stored meanwhile is lost;
 * - 401, 403, 404 and any other 4xx but 408 and 429, or a 2xx that is not `text/event-stream`,
 *   stop the stream with an error (`state: 'failed'`); 204 ends it (`state: 'ended'`);
 *   408, 429, 5xx and network errors are retried.
 *
 * **Events** reach `onEvent` as `{type, data, id, json()}`: `type` is the SSE event type
 * (`open`, `log`, `span`, `heartbeat`, `gap`, or any other: ignore what you do not know),
 * `data` the text, `id` the cursor to resume after (a `span` may carry none, and keeps the
 * previous one), `json()` the parsed data.
 *
 * **Status** reaches `onStatus` as `{state, attempt, retryAt, reason, error}`: `state` is
 * `connecting`, `connected`, `reconnecting` (`retryAt`: epoch milliseconds of the next
 * attempt; `reason`: `network`, `status 503`, `idle` (the watchdog fired), `closed by server`),
 * `ended` or `failed` (`error`: an `Error` whose message quotes the server).
 *
 * **Trace context.** Every stream is a span on the hub. `stream.traceContext` is `{traceId,
 * spanId}` from `event: open` (or the `traceparent` response header), `stream.traceparent()`
 * the W3C header value, and `stream.fetch(input, init)` a `fetch` that adds it, so follow-up
 * requests join the same trace. `withTraceparent(init, context)` does the same for any call.
 */

/** First reconnect ceiling, ms. */
export const BACKOFF_INITIAL_MS = 1000;
/** Largest reconnect ceiling, ms. */
export const BACKOFF_MAX_MS = 30000;
/** A connection that lasts this long resets the attempt count, ms. */
export const STABLE_AFTER_MS = 10000;
/** The longest minimum delay a server can impose with `retry:` or `Retry-After`, ms. */
export const MAX_SERVER_DELAY_MS = 300000;
/** Heartbeat interval assumed until `event: open` states the server's, ms. */
export const DEFAULT_HEARTBEAT_MS = 15000;
/** Heartbeat intervals without a byte before the watchdog drops a connection. */
export const WATCHDOG_HEARTBEATS = 3;

const LF = 10;
const CR = 13;

/**
 * The WHATWG `text/event-stream` parser. Feed it bytes (`Uint8Array`) or text with `push`;
 * it calls `onEvent({type, data, id})` per dispatched event and `onRetry(ms)` per valid
 * `retry:` field. `lastEventId` is the cursor to resume after; seed it with the one a
 * connection resumed from.
 */
export class SseParser {
  constructor({ onEvent, onRetry = () => {}, lastEventId = '' } = {}) {
    this.onEvent = onEvent;
    this.onRetry = onRetry;
    this.lastEventId = lastEventId;
    this.decoder = new TextDecoder('utf-8');
    this.started = false;
    this.buffer = '';
    this.skipLf = false;
    this.data = '';
    this.hasData = false;
    this.type = '';
    this.idBuffer = lastEventId;
  }

  /** Parses one chunk: a `Uint8Array` (decoded as UTF-8, BOM stripped at the start) or text. */
  push(chunk) {
    let text = typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    if (!this.started && text.length > 0) {
      // The decoder strips a BOM at the start of bytes; text gets the same treatment here.
      this.started = true;
      if (typeof chunk === 'string' && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    this.buffer += text;
    this.drainLines();
  }

  /** The stream ended: an event without its blank line is discarded, as the standard says. */
  end() {
    this.buffer = '';
    this.data = '';
    this.hasData = false;
    this.type = '';
  }

  drainLines() {
    let start = 0;
    const buffer = this.buffer;
    for (let i = 0; i < buffer.length; i++) {
      const code = buffer.charCodeAt(i);
      if (code !== LF && code !== CR) continue;
      if (code === LF && this.skipLf && i === start) {
        // The LF of a CRLF whose CR ended the previous line (possibly in an earlier chunk).
        this.skipLf = false;
        start = i + 1;
        continue;
      }
      this.skipLf = code === CR;
      this.line(buffer.slice(start, i));
      start = i + 1;
    }
    if (start > 0 && start < buffer.length) this.skipLf = false;
    this.buffer = buffer.slice(start);
  }

  line(line) {
    if (line === '') {
      this.dispatch();
      return;
    }
    if (line.charCodeAt(0) === 58 /* : */) return;
    const colon = line.indexOf(':');
    let field = line;
    let value = '';
    if (colon >= 0) {
      field = line.slice(0, colon);
      value = line.slice(colon + 1);
      if (value.charCodeAt(0) === 32) value = value.slice(1);
    }
    switch (field) {
      case 'event':
        this.type = value;
        break;
      case 'data':
        this.data += value + '\n';
        this.hasData = true;
        break;
      case 'id':
        if (!value.includes('\0')) this.idBuffer = value;
        break;
      case 'retry':
        if (/^[0-9]+$/.test(value)) this.onRetry(Number(value));
        break;
      default:
        break;
    }
  }

  dispatch() {
    this.lastEventId = this.idBuffer;
    if (!this.hasData) {
      this.type = '';
      return;
    }
    const event = {
      type: this.type || 'message',
      data: this.data.slice(0, -1),
      id: this.lastEventId,
    };
    this.data = '';
    this.hasData = false;
    this.type = '';
    this.onEvent(event);
  }
}

/** The W3C `traceparent` value of a trace context `{traceId, spanId}`, or `null`. */
export function traceparentOf(context) {
  if (!context || !/^[0-9a-f]{32}$/.test(context.traceId) || !/^[0-9a-f]{16}$/.test(context.spanId)) {
    return null;
  }
  return `00-${context.traceId}-${context.spanId}-01`;
}

/** A copy of fetch's `init` whose headers carry `traceparent` for `context` (when known). */
export function withTraceparent(init = {}, context) {
  const value = traceparentOf(context);
  const headers = new Headers(init.headers || {});
  if (value) headers.set('traceparent', value);
  return { ...init, headers };
}

/** `Retry-After` in ms: whole seconds or an HTTP date; `null` when absent or unreadable. */
export function retryAfterMs(text, now = Date.now()) {
  if (!text) return null;
  const trimmed = text.trim();
  if (/^[0-9]+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - now);
}

/** Reconnect delays: exponential with full jitter, raised to the server's minimum. */
export class Backoff {
  constructor({ initialMs = BACKOFF_INITIAL_MS, maxMs = BACKOFF_MAX_MS,
    stableAfterMs = STABLE_AFTER_MS, random = Math.random } = {}) {
    Object.assign(this, { initialMs, maxMs, stableAfterMs, random });
    this.attempt = 0;
  }

  /** Records how a connection went; one that lasted or delivered starts the count over. */
  connectionEnded(lastedMs, delivered) {
    if (delivered || lastedMs >= this.stableAfterMs) this.attempt = 0;
  }

  /** The ceiling of attempt `attempt` (1-based). */
  ceiling(attempt) {
    return Math.min(this.maxMs, this.initialMs * 2 ** Math.min(attempt - 1, 31));
  }

  /** Counts one more attempt and draws its delay, at least `minimumMs` (capped). */
  next(minimumMs = 0) {
    this.attempt += 1;
    const drawn = this.random() * this.ceiling(this.attempt);
    return Math.max(drawn, Math.min(minimumMs || 0, MAX_SERVER_DELAY_MS));
  }
}

/** A stopping answer: retrying will not change it. */
export class StreamError extends Error {
  constructor(message, status) {
    super(message);
    this.name = 'StreamError';
    this.status = status;
  }
}

function streamingFetchAvailable() {
  return typeof fetch === 'function' && typeof ReadableStream === 'function' &&
    typeof Response === 'function' && 'body' in Response.prototype;
}

/** The object a JSON text holds; an empty one for anything else. */
function jsonObject(text) {
  try {
    const value = JSON.parse(text);
    return value !== null && typeof value === 'object' ? value : {};
  } catch {
    return {};
  }
}

/** Adds filters (`service` may be an array) to a stream URL's query. */
function streamUrl(url, filters = {}) {
  const target = new URL(url, globalThis.location ? globalThis.location.href : undefined);
  for (const [key, value] of Object.entries(filters)) {
    if (value === undefined || value === null || value === '') continue;
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item !== '') target.searchParams.append(key, String(item));
    }
  }
  return target;
}

/**
 * A live, reconnecting subscription to `GET /v1/stream` (see the module docs).
 *
 * Options: `filters` (query parameters: `service`, `level`, `trace_id`, `q`, `since`),
 * `headers`, `lastEventId` (resume after this cursor), `onEvent`, `onStatus`, `backoff`
 * (`{initialMs, maxMs, stableAfterMs}`), `heartbeatMs`, `transport` (`'auto'`, `'fetch'` or
 * `'eventsource'`).
 */
export class TracetailStream {
  constructor(url, options = {}) {
    this.url = streamUrl(url, options.filters);
    // Without a cursor, `since` or `trace_id` a stream starts live: its `open` names where.
    const query = new URL(this.url, globalThis.location?.href).searchParams;
    this.startsLive = !query.get('since') && !query.get('trace_id');
    this.headers = options.headers || {};
    this.lastEventId = options.lastEventId || '';
    this.onEvent = options.onEvent || (() => {});
    this.onStatus = options.onStatus || (() => {});
    this.backoff = new Backoff(options.backoff);
    this.heartbeatMs = options.heartbeatMs || DEFAULT_HEARTBEAT_MS;
    const transport = options.transport || 'auto';
    this.useFetch = transport === 'fetch' || (transport === 'auto' && streamingFetchAvailable());
    this.retryMs = 0;
    this.traceContext = null;
    this.closed = false;
    this.status = null;
    this.connection = null;
    this.timer = null;
    this.run();
  }

  /** The W3C `traceparent` of this stream's span, or `null` before it is known. */
  traceparent() {
    return traceparentOf(this.traceContext);
  }

  /** `fetch` with this stream's `traceparent`, so the request joins the stream's trace. */
  fetch(input, init = {}) {
    return fetch(input, withTraceparent(init, this.traceContext));
  }

  /** Closes the stream for good; no more events or status changes. */
  close() {
    this.closed = true;
    clearTimeout(this.timer);
    if (this.connection) this.connection.abort();
    this.connection = null;
  }

  setStatus(status) {
    if (this.closed) return;
    this.status = { attempt: this.backoff.attempt, retryAt: null, reason: null, error: null, ...status };
    this.onStatus(this.status);
  }

  run() {
    this.setStatus({ state: 'connecting' });
    const connection = this.useFetch ? new FetchConnection(this) : new EventSourceConnection(this);
    // The id the parser hands events without an `id:` line of their own, until a new one.
    connection.seenId = this.lastEventId;
    this.connection = connection;
    connection.start();
  }

  /** Called by a connection that is over: decide whether, and when, to try again. */
  connectionOver(connection, outcome) {
    if (this.connection !== connection || this.closed) return;
    this.connection = null;
    const lasted = connection.openedAt ? Date.now() - connection.openedAt : 0;
    this.backoff.connectionEnded(lasted, connection.delivered);
    if (outcome.stop) {
      this.setStatus(outcome.error ? { state: 'failed', error: outcome.error } : { state: 'ended' });
      this.closed = true;
      return;
    }
    const delay = this.backoff.next(Math.max(this.retryMs, outcome.minimumMs || 0));
    this.setStatus({ state: 'reconnecting', reason: outcome.reason, retryAt: Date.now() + delay });
    this.timer = setTimeout(() => {
      if (!this.closed) this.run();
    }, delay);
  }

  /** Called per parsed event by the current connection. */
  deliver(connection, event) {
    if (this.connection !== connection || this.closed) return;
    if (event.id !== undefined && event.id !== connection.seenId) {
      this.lastEventId = event.id;
      connection.seenId = event.id;
    }
    if (event.type !== 'open' && event.type !== 'heartbeat') connection.delivered = true;
    if (event.type === 'open') this.readOpen(event.data);
    if (event.type === 'gap') this.readGap(event.data);
    const data = event.data;
    this.onEvent({ type: event.type, data, id: event.id, json: () => JSON.parse(data) });
  }

  readOpen(data) {
    const open = jsonObject(data);
    if (open.heartbeat_ms > 0) this.heartbeatMs = open.heartbeat_ms;
    // A live stream resumes from where it opened, so events stored while it reconnects are
    // not lost (as the Rust client does).
    if (!this.lastEventId && this.startsLive && open.cursor) this.lastEventId = open.cursor;
    if (open.trace_id && open.span_id) {
      this.traceContext = { traceId: open.trace_id, spanId: open.span_id };
    }
  }

  /**
   * After a gap the stream resumes from where the hub resumed it, not from the cursor it could
   * not serve.
   */
  readGap(data) {
    const gap = jsonObject(data);
    if (gap.resumed_from) this.lastEventId = gap.resumed_from;
  }

  readTraceparentHeader(value) {
    const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/.exec((value || '').trim());
    if (match && !this.traceContext) this.traceContext = { traceId: match[1], spanId: match[2] };
  }

  watchdogMs() {
    return this.heartbeatMs * WATCHDOG_HEARTBEATS;
  }
}

/** One `fetch` connection: request, answer classification, body reading under the watchdog. */
class FetchConnection {
  constructor(stream) {
    this.stream = stream;
    this.controller = new AbortController();
    this.openedAt = 0;
    this.delivered = false;
    this.idleTimer = null;
    this.over = false;
  }

  start() {
    this.read().catch((error) => this.finish({ reason: 'network', error }));
  }

  abort() {
    this.over = true;
    clearTimeout(this.idleTimer);
    this.controller.abort();
  }

  finish(outcome) {
    if (this.over) return;
    this.abort();
    this.stream.connectionOver(this, outcome);
  }

  armWatchdog() {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.finish({ reason: 'idle' }), this.stream.watchdogMs());
  }

  async read() {
    const stream = this.stream;
    const headers = new Headers(stream.headers);
    headers.set('Accept', 'text/event-stream');
    if (stream.lastEventId) headers.set('Last-Event-ID', stream.lastEventId);
    this.armWatchdog();
    const response = await fetch(stream.url, {
      headers, cache: 'no-store', signal: this.controller.signal,
    });
    const outcome = await classify(response);
    if (outcome) {
      this.finish(outcome);
      return;
    }

    this.openedAt = Date.now();
    stream.readTraceparentHeader(response.headers.get('traceparent'));
    stream.setStatus({ state: 'connected' });
    const parser = new SseParser({
      lastEventId: stream.lastEventId,
      onEvent: (event) => {
        stream.deliver(this, event);
        if (event.type === 'open') this.armWatchdog();
      },
      onRetry: (ms) => { stream.retryMs = ms; },
    });
    const reader = response.body.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (this.over) return;
      if (done) break;
      this.armWatchdog();
      parser.push(value);
    }
    parser.end();
    this.finish({ reason: 'closed by server' });
  }
}

/** What a response means: `null` for an event stream, else the connection's outcome. */
async function classify(response) {
  const status = response.status;
  if (status === 204) return { stop: true };
  if (status >= 200 && status < 300) {
    const type = (response.headers.get('content-type') || '').split(';')[0].trim().toLowerCase();
    if (type === 'text/event-stream') return null;
    const body = await snippet(response);
    const message = `expected text/event-stream, got ${type || 'no content type'}: ${body}`;
    return { stop: true, error: new StreamError(message, status) };
  }
  if (status === 408 || status === 429 || status >= 500) {
    return {
      reason: `status ${status}`,
      minimumMs: retryAfterMs(response.headers.get('retry-after')) || 0,
    };
  }
  const body = await snippet(response);
  return { stop: true, error: new StreamError(`refused with status ${status}: ${body}`, status) };
}

async function snippet(response) {
  try {
    const text = await response.text();
    return text.slice(0, 512);
  } catch {
    return '';
  }
}

/**
 * The fallback for browsers without a streaming `fetch`. `EventSource`'s own reconnects are
 * turned off (closed on the first error) so that the policy above applies here too.
 */
class EventSourceConnection {
  constructor(stream) {
    this.stream = stream;
    this.openedAt = 0;
    this.delivered = false;
    this.source = null;
    this.idleTimer = null;
    this.over = false;
  }

  start() {
    const stream = this.stream;
    const url = new URL(stream.url);
    if (stream.lastEventId) url.searchParams.set('lastEventId', stream.lastEventId);
    const source = new EventSource(url);
    this.source = source;
    this.armWatchdog();
    // `open` is both EventSource's connection event (no data) and tracetail's first event.
    source.addEventListener('open', (event) => {
      if (event.data === undefined) {
        this.openedAt = Date.now();
        stream.setStatus({ state: 'connected' });
        return;
      }
      this.forward(event);
    });
    for (const type of ['log', 'span', 'heartbeat', 'gap', 'message']) {
      source.addEventListener(type, (event) => this.forward(event));
    }
    source.addEventListener('error', () => this.finish({ reason: 'network' }));
  }

  forward(event) {
    this.armWatchdog();
    this.stream.deliver(this, { type: event.type, data: event.data, id: event.lastEventId });
  }

  armWatchdog() {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.finish({ reason: 'idle' }), this.stream.watchdogMs());
  }

  abort() {
    this.over = true;
    clearTimeout(this.idleTimer);
    if (this.source) this.source.close();
  }

  finish(outcome) {
    if (this.over) return;
    this.abort();
    this.stream.connectionOver(this, outcome);
  }
}
