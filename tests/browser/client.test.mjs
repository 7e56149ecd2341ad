// tracetail.js in real Chromium: the WHATWG SSE parser against a table of streams split at
// every byte offset, the backoff policy, and the stream against the real hub (events, trace
// context, stopping answers, the EventSource fallback).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Hub, randomHex } from './lib/hub.mjs';
import { launch, openPage } from './lib/browser.mjs';

let hub;
let browser;
let page;

before(async () => {
  hub = await Hub.start({ heartbeat: '1s' });
  browser = await launch();
  page = await openPage(browser, { allowed: /Failed to load resource/ });
  // A blank page of the hub's origin, so the module and the streams are same-origin.
  await page.goto(`${hub.base}/tracetail.js`);
});

after(async () => {
  await browser?.close();
  await hub?.stop();
});

/** [name, stream text, expected events as [type, data, id], expected retries] */
const CASES = [
  ['one event', 'data: hello\n\n', [['message', 'hello', '']], []],
  ['CRLF line ends', 'event: log\r\ndata: a\r\nid: 1\r\n\r\n', [['log', 'a', '1']], []],
  ['CR line ends', 'data: a\rdata: b\r\r', [['message', 'a\nb', '']], []],
  ['mixed line ends', 'data:x\r\n\rdata:y\n\nid:7\r\ndata:z\r\r\n', [['message', 'x', ''], ['message', 'y', ''], ['message', 'z', '7']], []],
  ['a BOM only at the very start', '\uFEFFdata: a\n\n\uFEFFdata: b\n\ndata: c\n\n', [['message', 'a', ''], ['message', 'c', '']], []],
  ['an id with NUL is ignored', 'id: 1\n\ndata: a\n\nid: b\0c\ndata: z\n\n', [['message', 'a', '1'], ['message', 'z', '1']], []],
  ['an empty id resets the cursor', 'id: 5\ndata: a\n\nid\ndata: b\n\n', [['message', 'a', '5'], ['message', 'b', '']], []],
  ['retry only when all digits', 'retry: 1500\nretry: 15x\nretry: -1\nretry:  20\nretry\ndata: r\n\n', [['message', 'r', '']], [1500]],
  ['comments, fields without a colon, empty data lines', ': comment\ndata\ndata:\n\n', [['message', '\n', '']], []],
  ['one leading space is stripped, no more', 'data:no-space\n\ndata:  two\n\n', [['message', 'no-space', ''], ['message', ' two', '']], []],
  ['the event type resets after each event', 'event: a\ndata: 1\n\ndata: 2\n\n', [['a', '1', ''], ['message', '2', '']], []],
  ['an event without data is not dispatched', 'event: x\nid: 9\n\ndata: after\n\n', [['message', 'after', '9']], []],
  ['unknown fields are ignored', 'foo: bar\ndata: kept\nbaz\n\n', [['message', 'kept', '']], []],
  ['an unfinished event at the end is discarded', 'data: a\n\ndata: b', [['message', 'a', '']], []],
  ['multi-byte UTF-8 split anywhere', 'data: héllo ✓ 😀\n\n', [['message', 'héllo ✓ 😀', '']], []],
  ['log text cannot forge fields', 'event: log\nid: 3-1\ndata: {"message":"id: 9\\ndata: x"}\n\n', [['log', '{"message":"id: 9\\ndata: x"}', '3-1']], []],
  ['a tracetail stream', 'retry: 3000\n\nevent: open\ndata: {"cursor":"e-1"}\n\nid: e-2\nevent: log\ndata: {"id":"e-2"}\n\nevent: span\ndata: {}\n\nevent: heartbeat\ndata: {"ts":1}\n\n',
    [['open', '{"cursor":"e-1"}', ''], ['log', '{"id":"e-2"}', 'e-2'], ['span', '{}', 'e-2'], ['heartbeat', '{"ts":1}', 'e-2']], [3000]],
];

test('the SSE parser gives the same events however the bytes are split', async () => {
  const failures = await page.evaluate(async (cases) => {
    const { SseParser } = await import('/tracetail.js');
    const run = (chunks) => {
      const events = [];
      const retries = [];
      const parser = new SseParser({
        onEvent: (event) => events.push([event.type, event.data, event.id]),
        onRetry: (ms) => retries.push(ms),
      });
      for (const chunk of chunks) parser.push(chunk);
      parser.end();
      return JSON.stringify({ events, retries });
    };
    const problems = [];
    let runs = 0;
    for (const [name, text, events, retries] of cases) {
      const bytes = new TextEncoder().encode(text);
      const wanted = JSON.stringify({ events, retries });
      const splits = [[bytes], Array.from(bytes, (byte) => Uint8Array.of(byte))];
      for (let offset = 0; offset <= bytes.length; offset++) {
        splits.push([bytes.slice(0, offset), bytes.slice(offset)]);
        // And a third piece, so a CR and its LF also arrive in different chunks.
        const third = Math.min(bytes.length, offset + 1);
        splits.push([bytes.slice(0, offset), bytes.slice(offset, third), bytes.slice(third)]);
      }
      for (const chunks of splits) {
        runs += 1;
        const got = run(chunks);
        if (got !== wanted) {
          problems.push(`${name} split ${chunks.map((c) => c.length).join('+')}: got ${got}, wanted ${wanted}`);
          break;
        }
      }
      // Text chunks too (the BOM is stripped from text as from bytes).
      const textSplit = run([text.slice(0, 3), text.slice(3)]);
      if (textSplit !== wanted) problems.push(`${name} as text: got ${textSplit}, wanted ${wanted}`);
    }
    return { problems, runs };
  }, CASES);
  assert.deepEqual(failures.problems, []);
  assert.ok(failures.runs > 1000, `ran ${failures.runs} splits`);
});

test('backoff ceilings double from 1 s to 30 s, reset after a good connection, and honour minimums', async () => {
  const result = await page.evaluate(async () => {
    const { Backoff, retryAfterMs } = await import('/tracetail.js');
    const top = new Backoff({ random: () => 1 });
    const ceilings = Array.from({ length: 8 }, () => top.next());
    top.connectionEnded(2000, false);
    const afterShort = top.next();
    top.connectionEnded(10000, false);
    const afterStable = top.next();
    top.next();
    top.connectionEnded(10, true);
    const afterDelivered = top.next();
    const bottom = new Backoff({ random: () => 0 });
    return {
      ceilings, afterShort, afterStable, afterDelivered,
      jitterFloor: bottom.next(),
      minimum: bottom.next(4500),
      capped: bottom.next(86400000),
      retryAfterSeconds: retryAfterMs(' 120 '),
      retryAfterDate: retryAfterMs(new Date(Date.now() + 60000).toUTCString()),
      retryAfterPast: retryAfterMs('Thu, 01 Jan 1970 00:00:00 GMT'),
      retryAfterJunk: retryAfterMs('soon'),
    };
  });
  assert.deepEqual(result.ceilings, [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  assert.equal(result.afterShort, 30000, 'a 2 s connection without events does not reset');
  assert.equal(result.afterStable, 1000, 'a 10 s connection resets');
  assert.equal(result.afterDelivered, 1000, 'a connection that delivered an event resets');
  assert.equal(result.jitterFloor, 0, 'full jitter can draw zero');
  assert.equal(result.minimum, 4500);
  assert.equal(result.capped, 300000, 'a server minimum is capped at 5 minutes');
  assert.equal(result.retryAfterSeconds, 120000);
  assert.ok(result.retryAfterDate > 55000 && result.retryAfterDate <= 60000);
  assert.equal(result.retryAfterPast, 0);
  assert.equal(result.retryAfterJunk, null);
});

/** Opens a TracetailStream in the page; returns what it saw after `until` holds. */
async function watch(options, { send = [], until }) {
  const handle = await page.evaluateHandle(async (options) => {
    const { TracetailStream } = await import('/tracetail.js');
    const seen = { events: [], statuses: [] };
    seen.stream = new TracetailStream(options.url, {
      ...options,
      onEvent: (event) => seen.events.push({ type: event.type, data: event.data, id: event.id }),
      onStatus: (status) => seen.statuses.push({ ...status, error: status.error && status.error.message }),
    });
    return seen;
  }, options);
  if (send.length) {
    await page.waitForFunction((seen) => seen.statuses.some((s) => s.state === 'connected'), handle);
    await hub.sendEvents(send);
  }
  await page.waitForFunction(until, handle, { timeout: 10000 });
  const seen = await handle.evaluate((seen) => {
    seen.stream.close();
    return { events: seen.events, statuses: seen.statuses, traceContext: seen.stream.traceContext, lastEventId: seen.stream.lastEventId };
  });
  await handle.dispose();
  return seen;
}

test('a stream delivers open then logs, exposes its trace context, and resumes from the last id', async () => {
  const run = randomHex(4);
  const seen = await watch({ url: '/v1/stream', filters: { q: run } }, {
    send: [1, 2, 3].map((i) => ({ service: 'client-test', message: `${run}-${i}` })),
    until: (seen) => seen.events.filter((event) => event.type === 'log').length === 3,
  });
  assert.equal(seen.events[0].type, 'open');
  const open = JSON.parse(seen.events[0].data);
  assert.match(open.trace_id, /^[0-9a-f]{32}$/);
  assert.deepEqual(seen.traceContext, { traceId: open.trace_id, spanId: open.span_id });
  const logs = seen.events.filter((event) => event.type === 'log');
  assert.deepEqual(logs.map((event) => JSON.parse(event.data).message), [1, 2, 3].map((i) => `${run}-${i}`));
  assert.equal(seen.lastEventId, logs[2].id);
  assert.deepEqual(seen.statuses.map((status) => status.state), ['connecting', 'connected']);

  // Resuming after the first cursor replays exactly the other two.
  const resumed = await watch({ url: '/v1/stream', filters: { q: run }, lastEventId: logs[0].id }, {
    until: (seen) => seen.events.filter((event) => event.type === 'log').length >= 2,
  });
  const again = resumed.events.filter((event) => event.type === 'log').map((event) => event.id);
  assert.deepEqual(again, [logs[1].id, logs[2].id]);
});

test('stream.fetch sends the stream traceparent so follow-up requests join its trace', async () => {
  const requests = [];
  const listener = (request) => {
    if (request.url().endsWith('/healthz')) requests.push(request.headers().traceparent);
  };
  page.on('request', listener);
  const result = await page.evaluate(async () => {
    const { TracetailStream, traceparentOf } = await import('/tracetail.js');
    const stream = await new Promise((done) => {
      const opened = new TracetailStream('/v1/stream', {
        onEvent: (event) => { if (event.type === 'open') done(opened); },
      });
    });
    const response = await stream.fetch('/healthz');
    stream.close();
    return { status: response.status, header: stream.traceparent(), none: traceparentOf(null) };
  });
  page.off('request', listener);
  assert.equal(result.status, 200);
  assert.match(result.header, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  assert.deepEqual(requests, [result.header]);
  assert.equal(result.none, null);
});

test('answers that retrying cannot fix stop the stream with the server message', async () => {
  const notFound = await watch({ url: '/v1/no-such-route' }, {
    until: (seen) => seen.statuses.some((s) => s.state === 'failed'),
  });
  assert.match(notFound.statuses.at(-1).error, /^refused with status 404/);

  const badFilter = await watch({ url: '/v1/stream', filters: { level: 'loud' } }, {
    until: (seen) => seen.statuses.some((s) => s.state === 'failed'),
  });
  assert.match(badFilter.statuses.at(-1).error, /^refused with status 400: .*level/);

  const notAStream = await watch({ url: '/v1/services' }, {
    until: (seen) => seen.statuses.some((s) => s.state === 'failed'),
  });
  assert.match(notAStream.statuses.at(-1).error, /^expected text\/event-stream, got application\/json/);
});

test('204 ends the stream; 503 with Retry-After is retried no sooner than asked', async () => {
  await page.route('**/v1/stream?answer=204', (route) => route.fulfill({ status: 204 }));
  const ended = await watch({ url: '/v1/stream?answer=204' }, {
    until: (seen) => seen.statuses.some((s) => s.state === 'ended'),
  });
  assert.deepEqual(ended.statuses.map((s) => s.state), ['connecting', 'ended']);

  await page.route('**/v1/stream?answer=503', (route) => route.fulfill({
    status: 503, headers: { 'retry-after': '7' }, body: '{"error":"busy"}',
  }));
  const busy = await watch({ url: '/v1/stream?answer=503' }, {
    until: (seen) => seen.statuses.some((s) => s.state === 'reconnecting'),
  });
  const reconnecting = busy.statuses.find((s) => s.state === 'reconnecting');
  assert.equal(reconnecting.reason, 'status 503');
  assert.ok(reconnecting.retryAt - Date.now() > 5000, 'waits at least the Retry-After');
  await page.unrouteAll();
});

test('the EventSource fallback tells its own open event from the hub\'s and delivers logs', async () => {
  const run = randomHex(4);
  const seen = await watch({ url: '/v1/stream', filters: { q: run }, transport: 'eventsource' }, {
    send: [{ service: 'client-test', message: `${run}-es` }],
    until: (seen) => seen.events.some((event) => event.type === 'log'),
  });
  assert.deepEqual(seen.events.map((event) => event.type), ['open', 'log']);
  assert.match(JSON.parse(seen.events[0].data).trace_id, /^[0-9a-f]{32}$/);
  assert.equal(JSON.parse(seen.events[1].data).message, `${run}-es`);
  assert.ok(seen.traceContext, 'trace context read from the hub\'s open event');
});

test('a live stream and one past a gap lose nothing stored while they reconnect', async () => {
  // A hub of its own whose `retry:` (3 s, a minimum delay) keeps both streams away while the
  // event is stored.
  const own = await Hub.start({ retry: '3s' });
  try {
    const ownPage = await openPage(browser, { allowed: /Failed to load resource|network error/ });
    await ownPage.goto(`${own.base}/tracetail.js`);
    const run = randomHex(4);
    const handle = await ownPage.evaluateHandle(async (run) => {
      const { TracetailStream } = await import('/tracetail.js');
      const watch = (lastEventId) => {
        const seen = { events: [], states: [] };
        seen.stream = new TracetailStream('/v1/stream', {
          filters: { q: run },
          lastEventId,
          onEvent: (event) => seen.events.push({ type: event.type, data: event.data }),
          onStatus: (status) => seen.states.push(status.state),
        });
        return seen;
      };
      // No cursor: starts live. A cursor no store wrote: a gap, then live.
      return { live: watch(''), pastGap: watch('garbage') };
    }, run);
    const connectedTwice = (seen) => ['live', 'pastGap']
      .every((name) => seen[name].states.filter((state) => state === 'connected').length >= 2);
    const bothConnected = (seen) => ['live', 'pastGap']
      .every((name) => seen[name].states.includes('connected'));
    await ownPage.waitForFunction(bothConnected, handle);
    await ownPage.waitForFunction((seen) => seen.pastGap.events.some((event) => event.type === 'gap'), handle);

    await own.kill();
    await own.restart();
    await own.sendEvents([{ service: 'client-test', message: `${run}-while-away` }]);
    await ownPage.waitForFunction(connectedTwice, handle, { timeout: 20000 });
    const delivered = (seen) => ['live', 'pastGap'].every((name) => seen[name].events
      .some((event) => event.type === 'log' && JSON.parse(event.data).message.endsWith('-while-away')));
    await ownPage.waitForFunction(delivered, handle, { timeout: 10000 });
    const gaps = await handle.evaluate((seen) => {
      seen.live.stream.close();
      seen.pastGap.stream.close();
      return ['live', 'pastGap'].map((name) => seen[name].events.filter((event) => event.type === 'gap').length);
    });
    assert.deepEqual(gaps, [0, 1], 'one gap, for the cursor no store wrote, and none on resuming');
    await ownPage.context().close();
  } finally {
    await own.stop();
  }
});
