// Rendering under load: 1,000 events/s for 30 s into the live tail, and 200 logs/s into the
// view of a trace that already holds 5,000; the 95th percentile of frame times
// (requestAnimationFrame deltas) must stay under 50 ms.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Hub, randomHex } from './lib/hub.mjs';
import { launch, openPage } from './lib/browser.mjs';

const RATE = Number(process.env.UI_PERF_RATE || 1000);
const SECONDS = Number(process.env.UI_PERF_SECONDS || 30);
const TICK_MS = 50;
const P95_LIMIT_MS = 50;

let hub;
let browser;

before(async () => {
  hub = await Hub.start();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await hub?.stop();
});

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

/**
 * Sends `rate` events a second for `seconds`, in batches every `TICK_MS`, paced by the clock;
 * `event(n)` makes the `n`th.
 */
async function load({ rate, seconds, event }) {
  const perTick = (rate * TICK_MS) / 1000;
  const ticks = (seconds * 1000) / TICK_MS;
  const started = Date.now();
  let sent = 0;
  for (let tick = 0; tick < ticks; tick++) {
    const events = [];
    for (let i = 0; i < perTick; i++, sent++) events.push(event(sent));
    await hub.sendEvents(events);
    const due = started + (tick + 1) * TICK_MS;
    if (due > Date.now()) await sleep(due - Date.now());
  }
  return { sent, seconds: (Date.now() - started) / 1000 };
}

/** Starts recording frame times (requestAnimationFrame deltas) in the page. */
async function recordFrames(page) {
  await page.evaluate(() => {
    window.frames_ = [];
    let last = performance.now();
    const frame = (now) => {
      window.frames_.push(now - last);
      last = now;
      if (!window.stopFrames_) requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
  });
}

/** Stops recording; the frame time percentiles, logged with `what` happened meanwhile. */
async function frameTimes(page, what) {
  const frames = await page.evaluate(() => {
    window.stopFrames_ = true;
    return window.frames_.slice(1);
  });
  const sorted = [...frames].sort((a, b) => a - b);
  const p95 = sorted[Math.floor(sorted.length * 0.95)];
  const p50 = sorted[Math.floor(sorted.length * 0.5)];
  const worst = sorted.at(-1);
  console.log(`# ${what}: ${frames.length} frames, frame time p50 ${p50.toFixed(1)} ms, ` +
    `p95 ${p95.toFixed(1)} ms, max ${worst.toFixed(1)} ms`);
  return p95;
}

const LEVELS = ['DEBUG', 'INFO', 'INFO', 'INFO', 'WARN', 'ERROR'];
const SERVICES = ['frontend', 'checkout', 'inventory', 'payments'];

test(`the live tail stays responsive at ${RATE} events/s for ${SECONDS} s`, { timeout: (SECONDS + 60) * 1000 }, async () => {
  const run = randomHex(4);
  const page = await openPage(browser);
  await page.goto(hub.base + '/');
  await page.locator('#connection[data-state="connected"]').waitFor();
  await recordFrames(page);

  const { sent, seconds } = await load({
    rate: RATE,
    seconds: SECONDS,
    event: (n) => ({
      service: SERVICES[n % SERVICES.length], level: LEVELS[n % LEVELS.length],
      message: `${run} request ${n} handled in ${n % 300} ms`, trace_id: randomHex(16),
      span_id: randomHex(8), attributes: { n, route: '/checkout' },
    }),
  });
  const lastMessage = `${run} request ${sent - 1} handled in ${(sent - 1) % 300} ms`;
  await page.locator('#rows .row', { hasText: lastMessage }).waitFor({ timeout: 20000 });
  const p95 = await frameTimes(page, `${sent} events in ${seconds.toFixed(1)} s (${Math.round(sent / seconds)}/s)`);

  // Bounded: the default limit of 10,000 rows, the newest at the top.
  assert.equal(await page.textContent('#row-count'), `${Math.min(sent, 10000).toLocaleString('en-US')} rows`);
  const top = await page.$$eval('#rows .row:not([hidden])', (rows) => rows
    .map((row) => ({ y: new DOMMatrix(getComputedStyle(row).transform).m42, text: row.querySelector('.message').textContent }))
    .sort((a, b) => a.y - b.y)[0].text);
  assert.equal(top, lastMessage);
  assert.ok(p95 < P95_LIMIT_MS, `p95 frame time ${p95.toFixed(1)} ms is over ${P95_LIMIT_MS} ms`);
  assert.deepEqual(page.problems, []);
});

/** Logs stored in the trace before its view opens, and the live rate after. */
const TRACE_STORED = 5000;
const TRACE_RATE = 200;
const TRACE_SECONDS = Math.min(SECONDS, 15);

test(`a trace view of ${TRACE_STORED} logs stays responsive while ${TRACE_RATE} more arrive each second`, { timeout: (TRACE_SECONDS + 90) * 1000 }, async () => {
  const traceId = randomHex(16);
  const spanId = randomHex(8);
  const traced = (message, n) => ({
    service: SERVICES[n % SERVICES.length], level: LEVELS[n % LEVELS.length], message,
    trace_id: traceId, span_id: spanId,
  });
  for (let batch = 0; batch < TRACE_STORED / 1000; batch++) {
    await hub.sendEvents(Array.from({ length: 1000 }, (_, i) => traced(`stored ${batch}-${i}`, i)));
  }
  await hub.sendSpans([{
    service: 'frontend', traceId, spanId, name: 'GET /checkout', start: Date.now() - 60000,
    end: Date.now() + 60000,
  }]);

  const page = await openPage(browser);
  await page.goto(`${hub.base}/trace/${traceId}`);
  await page.locator('#connection[data-state="connected"]').waitFor();
  const logsShown = (count) => page.waitForFunction((text) => document.querySelector('#trace-summary')
    .textContent.startsWith(text), `1 spans · ${count} logs`, { timeout: 60000 });
  await logsShown(TRACE_STORED);
  await recordFrames(page);
  const { sent, seconds } = await load({
    rate: TRACE_RATE, seconds: TRACE_SECONDS, event: (n) => traced(`live ${n}`, n),
  });
  await logsShown(TRACE_STORED + sent);
  const p95 = await frameTimes(page,
    `trace of ${TRACE_STORED} logs, ${sent} more in ${seconds.toFixed(1)} s (${Math.round(sent / seconds)}/s)`);

  // Windowed: a screenful of rows exists, not one per log, and the list holds them all.
  const nodes = await page.locator('#trace-logs .row').count();
  assert.ok(nodes < 100, `${nodes} row nodes for ${TRACE_STORED + sent} logs`);
  assert.equal(await page.evaluate(() => window.tracetail.trace.rows.count), TRACE_STORED + sent);
  assert.ok(await page.locator('#waterfall .span-log').count() <= 400, 'ticks share a node when close in time');
  assert.ok(p95 < P95_LIMIT_MS, `p95 frame time ${p95.toFixed(1)} ms is over ${P95_LIMIT_MS} ms`);
  assert.deepEqual(page.problems, []);
});
