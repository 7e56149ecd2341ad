// The real `tracetail serve` under test: start on a free loopback port, wait until ready, send
// logs and spans to it over OTLP/HTTP (JSON) and /v1/events, kill and restart on the same port
// and data.

import { execFile, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { existsSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const READY_TIMEOUT_MS = 20000;

/** The binary under test: `$TRACETAIL_BIN`, else the repository's release build. */
export function binary() {
  const path = process.env.TRACETAIL_BIN || join(REPO_ROOT, 'target', 'release', 'tracetail');
  if (!existsSync(path)) {
    throw new Error(`tracetail binary not found at ${path}: run \`cargo build --release -p tracetail\``
      + ' or set TRACETAIL_BIN');
  }
  return path;
}

/** A loopback port nothing listens on right now. */
export function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

export class Hub {
  /**
   * A hub of its own that holds only what `tracetail demo` sent it: `count` requests at 20/s,
   * seed 7, `errorRate` of them failing.
   */
  static async withDemo({ count, errorRate }) {
    const hub = await Hub.start();
    try {
      await promisify(execFile)(binary(), ['demo', hub.base, '--count', String(count), '--rate', '20',
        '--seed', '7', '--error-rate', errorRate]);
    } catch (error) {
      await hub.stop();
      throw error;
    }
    return hub;
  }

  /**
   * A hub with its own data directory; `heartbeat` and `retry` are `serve` flags, `args` any
   * more of them.
   */
  static async start({ heartbeat = '15s', retry = '500ms', args = [] } = {}) {
    const hub = new Hub();
    hub.dir = mkdtempSync(join(tmpdir(), 'tracetail-browser-'));
    hub.port = await freePort();
    hub.base = `http://127.0.0.1:${hub.port}`;
    hub.flags = ['--heartbeat', heartbeat, '--retry', retry, ...args];
    await hub.launch();
    return hub;
  }

  async launch() {
    const log = openSync(join(this.dir, 'serve.log'), 'a');
    this.process = spawn(binary(), [
      'serve', '--listen', `127.0.0.1:${this.port}`, '--data-dir', join(this.dir, 'data'),
      ...this.flags,
    ], { stdio: ['ignore', log, log], env: { ...process.env, RUST_LOG: 'warn' } });
    this.exited = new Promise((done) => this.process.once('exit', done));
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      try {
        const response = await fetch(`${this.base}/readyz`);
        if (response.ok) return;
      } catch {
        // Not listening yet.
      }
      if (this.process.exitCode !== null) throw new Error(`tracetail exited early; see ${this.dir}/serve.log`);
      if (Date.now() > deadline) throw new Error(`tracetail not ready after ${READY_TIMEOUT_MS} ms`);
      await sleep(50);
    }
  }

  /** SIGKILL: no graceful shutdown, as in a crash. */
  async kill() {
    this.process.kill('SIGKILL');
    await this.exited;
  }

  /** Starts again on the same port and data directory. */
  async restart() {
    await this.launch();
  }

  async stop() {
    if (this.process && this.process.exitCode === null) {
      this.process.kill('SIGTERM');
      await this.exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Posts JSON events to `/v1/events`; fails unless every one was accepted. */
  async sendEvents(events) {
    const response = await fetch(`${this.base}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body: events.map((event) => JSON.stringify(event)).join('\n'),
    });
    const answer = await response.json();
    if (!response.ok || answer.accepted !== events.length) {
      throw new Error(`events refused: ${response.status} ${JSON.stringify(answer)}`);
    }
  }

  /**
   * Posts OTLP/HTTP JSON logs, one resource per service. `records`: `{service, message, level,
   * traceId, spanId, attributes, time (ms since the epoch, default now)}`.
   */
  async sendOtlp(records) {
    const services = new Map();
    for (const record of records) {
      if (!services.has(record.service)) services.set(record.service, []);
      services.get(record.service).push(otlpRecord(record));
    }
    const resourceLogs = [...services].map(([service, logRecords]) => ({
      resource: { attributes: [attribute('service.name', service), attribute('host.name', 'browser-test')] },
      scopeLogs: [{ scope: { name: 'tracetail-browser-tests' }, logRecords }],
    }));
    await this.postOtlp('/v1/logs', { resourceLogs }, 'rejectedLogRecords');
  }

  /**
   * Posts OTLP/HTTP JSON spans, one resource per service. `spans`: `{service, traceId, spanId,
   * parentSpanId, name, kind, start, end (ms since the epoch), error (a status message)}`.
   */
  async sendSpans(spans) {
    const services = new Map();
    for (const span of spans) {
      if (!services.has(span.service)) services.set(span.service, []);
      services.get(span.service).push(otlpSpan(span));
    }
    const resourceSpans = [...services].map(([service, items]) => ({
      resource: { attributes: [attribute('service.name', service)] },
      scopeSpans: [{ scope: { name: 'tracetail-browser-tests' }, spans: items }],
    }));
    await this.postOtlp('/v1/traces', { resourceSpans }, 'rejectedSpans');
  }

  /** Posts an OTLP/JSON request; throws unless every item in it was taken. */
  async postOtlp(path, request, rejectedField) {
    const response = await fetch(`${this.base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(request),
    });
    if (!response.ok) throw new Error(`${path} refused: ${response.status} ${await response.text()}`);
    const answer = await response.json();
    if (answer.partialSuccess && answer.partialSuccess[rejectedField]) {
      throw new Error(`${path} partly refused: ${JSON.stringify(answer)}`);
    }
  }
}

const SEVERITY = { TRACE: 1, DEBUG: 5, INFO: 9, WARN: 13, ERROR: 17, FATAL: 21 };

function otlpRecord({ message, level = 'INFO', traceId, spanId, attributes = {}, time = Date.now() }) {
  const record = {
    timeUnixNano: String(BigInt(time) * 1000000n),
    severityNumber: SEVERITY[level],
    severityText: level,
    body: { stringValue: message },
    attributes: Object.entries(attributes).map(([key, value]) => attribute(key, value)),
  };
  if (traceId) record.traceId = traceId;
  if (spanId) record.spanId = spanId;
  return record;
}

/** OTLP span kinds by name. */
const SPAN_KIND = { INTERNAL: 1, SERVER: 2, CLIENT: 3, PRODUCER: 4, CONSUMER: 5 };

function otlpSpan({ traceId, spanId, parentSpanId, name, kind = 'INTERNAL', start, end, error }) {
  const span = {
    traceId, spanId, name, kind: SPAN_KIND[kind],
    startTimeUnixNano: String(BigInt(start) * 1000000n),
    endTimeUnixNano: String(BigInt(end) * 1000000n),
    status: error ? { code: 2, message: error } : {},
  };
  if (parentSpanId) span.parentSpanId = parentSpanId;
  return span;
}

function attribute(key, value) {
  if (typeof value === 'number' && Number.isInteger(value)) return { key, value: { intValue: String(value) } };
  if (typeof value === 'number') return { key, value: { doubleValue: value } };
  if (typeof value === 'boolean') return { key, value: { boolValue: value } };
  return { key, value: { stringValue: String(value) } };
}

/** A random id of `bytes` bytes in lower-case hex. */
export function randomHex(bytes) {
  let text = '';
  for (let i = 0; i < bytes; i++) text += Math.floor(Math.random() * 256).toString(16).padStart(2, '0');
  return text;
}
