// Rendering under load: 1,000 events/s for 30 s into the live tail; the 95th percentile of
// frame times (requestAnimationFrame deltas) must stay under 50 ms.

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

/** Sends `RATE` events a second for `SECONDS`, in batches every `TICK_MS`, paced by the clock. */
async function load(run) {
  const perTick = (RATE * TICK_MS) / 1000;
  const ticks = (SECONDS * 1000) / TICK_MS;
  const started = Date.now();
  const levels = ['DEBUG', 'INFO', 'INFO', 'INFO', 'WARN', 'ERROR'];
  const services = ['frontend', 'checkout', 'inventory', 'payments'];
  let sent = 0;
  for (let tick = 0; tick < ticks; tick++) {
    const events = [];
    for (let i = 0; i < perTick; i++, sent++) {
      events.push({
        service: services[sent % services.length], level: levels[sent % levels.length],
        message: `${run} request ${sent} handled in ${sent % 300} ms`, trace_id: randomHex(16),
        span_id: randomHex(8), attributes: { n: sent, route: '/checkout' },
      });
    }
    await hub.sendEvents(events);
    const due = started + (tick + 1) * TICK_MS;
    if (due > Date.now()) await sleep(due - Date.now());
  }
  return { sent, seconds: (Date.now() - started) / 1000 };
}

test(`the live tail stays responsive at ${RATE} events/s for ${SECONDS} s`, { timeout: (SECONDS + 60) * 1000 }, async () => {
  const run = randomHex(4);
  const page = await openPage(browser);
  await page.goto(hub.base + '/');
  await page.locator('#connection[data-state="connected"]').waitFor();
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

  const { sent, seconds } = await load(run);
  const lastMessage = `${run} request ${sent - 1} handled in ${(sent - 1) % 300} ms`;
  await page.locator('#rows .row', { hasText: lastMessage }).waitFor({ timeout: 20000 });
  const frames = await page.evaluate(() => {
    window.stopFrames_ = true;
    return window.frames_.slice(1);
  });
  const sorted = [...frames].sort((a, b) => a - b);
  const p95 = sorted[Math.floor(sorted.length * 0.95)];
  const p50 = sorted[Math.floor(sorted.length * 0.5)];
  const worst = sorted.at(-1);
  console.log(`# ${sent} events in ${seconds.toFixed(1)} s (${Math.round(sent / seconds)}/s): ` +
    `${frames.length} frames, frame time p50 ${p50.toFixed(1)} ms, p95 ${p95.toFixed(1)} ms, max ${worst.toFixed(1)} ms`);

  // Bounded: the default limit of 10,000 rows, the newest at the top.
  assert.equal(await page.textContent('#row-count'), `${Math.min(sent, 10000).toLocaleString('en-US')} rows`);
  const top = await page.$$eval('#rows .row:not([hidden])', (rows) => rows
    .map((row) => ({ y: new DOMMatrix(getComputedStyle(row).transform).m42, text: row.querySelector('.message').textContent }))
    .sort((a, b) => a.y - b.y)[0].text);
  assert.equal(top, lastMessage);
  assert.ok(p95 < P95_LIMIT_MS, `p95 frame time ${p95.toFixed(1)} ms is over ${P95_LIMIT_MS} ms`);
  assert.deepEqual(page.problems, []);
});
