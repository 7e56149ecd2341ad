// The trace view with real spans: spans and logs of one trace sent over OTLP/HTTP to the real
// hub (built here, or sent by `tracetail demo` through the OpenTelemetry Rust exporter), shown
// in Chromium as a waterfall that keeps growing live.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { copyFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Hub, randomHex } from './lib/hub.mjs';
import {
  connected, openPage, screenshot, startHubAndBrowser, stopHubAndBrowser,
} from './lib/browser.mjs';

let hub;
let browser;

before(async () => ({ hub, browser } = await startHubAndBrowser({ heartbeat: '2s' })));
after(() => stopHubAndBrowser({ hub, browser }));

/** What the waterfall shows, top to bottom. */
async function waterfall(page) {
  return page.$$eval('#waterfall .span-row', (rows) => rows.map((row) => ({
    id: row.dataset.spanId,
    service: row.querySelector('.span-service').textContent,
    name: row.querySelector('.span-name').textContent,
    indent: row.querySelector('.span-label').style.paddingLeft,
    hue: row.style.getPropertyValue('--hue'),
    error: row.querySelector('.span-bar').classList.contains('error'),
    ticks: row.querySelectorAll('.span-log').length,
  })));
}

test('spans and logs sent over OTLP show as a waterfall, and a later span appears live', async () => {
  const traceId = randomHex(16);
  const ids = { root: randomHex(8), order: randomHex(8), reserve: randomHex(8), charge: randomHex(8) };
  const begin = Date.now() - 2000;
  const span = (service, id, parent, name, start, end, extra = {}) => ({
    service, traceId, spanId: ids[id], parentSpanId: parent && ids[parent], name, kind: 'SERVER',
    start: begin + start, end: begin + end, ...extra,
  });
  await hub.sendSpans([
    span('checkout', 'order', 'root', 'POST /orders', 100, 900),
    span('frontend', 'root', null, 'GET /checkout', 0, 1000),
    span('inventory', 'reserve', 'order', 'reserve stock', 150, 300, { kind: 'CLIENT' }),
  ]);
  await hub.sendOtlp([
    { service: 'frontend', message: 'checkout page requested', traceId, spanId: ids.root, time: begin + 10 },
    { service: 'checkout', message: 'order 1042 created', traceId, spanId: ids.order, time: begin + 120 },
    { service: 'inventory', message: 'reserved 2 items', traceId, spanId: ids.reserve, time: begin + 250 },
    { service: 'checkout', message: 'charging card', traceId, spanId: ids.order, time: begin + 400 },
  ]);

  const page = await openPage(browser);
  await page.goto(`${hub.base}/trace/${traceId}`);
  await connected(page);
  await page.waitForFunction(() => document.querySelectorAll('#waterfall .span-row').length === 3
    && document.querySelectorAll('#trace-logs .row').length === 4);
  let rows = await waterfall(page);
  assert.deepEqual(rows.map((row) => [row.service, row.name, row.indent]), [
    ['frontend', 'GET /checkout', '0px'],
    ['checkout', 'POST /orders', '14px'],
    ['inventory', 'reserve stock', '28px'],
  ]);
  assert.deepEqual(rows.map((row) => row.ticks), [1, 2, 1], 'each log sits in its own span\'s lane');

  // A span is coloured like its service's logs, and each service has its own colour.
  const logHues = await page.$$eval('#trace-logs .row .service', (nodes) => Object.fromEntries(
    nodes.map((node) => [node.textContent, node.style.getPropertyValue('--hue')])));
  for (const row of rows) assert.equal(row.hue, logHues[row.service], row.service);
  assert.equal(new Set(rows.map((row) => row.hue)).size, 3);
  const spanNames = await page.$$eval('#trace-logs .row .trace', (nodes) => nodes.map((n) => n.textContent));
  assert.deepEqual(spanNames, ['GET /checkout', 'POST /orders', 'reserve stock', 'POST /orders']);

  // A span (and its log) sent while the page is open appears in place.
  await hub.sendSpans([span('payments', 'charge', 'order', 'charge card', 420, 850,
    { kind: 'CLIENT', error: 'card declined' })]);
  await hub.sendOtlp([{ service: 'payments', level: 'ERROR', message: 'card declined', traceId,
    spanId: ids.charge, time: begin + 800 }]);
  await page.waitForFunction(() => document.querySelectorAll('#waterfall .span-row').length === 4
    && document.querySelectorAll('#trace-logs .row').length === 5);
  rows = await waterfall(page);
  assert.deepEqual(rows.map((row) => row.name),
    ['GET /checkout', 'POST /orders', 'reserve stock', 'charge card']);
  assert.deepEqual(rows[3], {
    id: ids.charge, service: 'payments', name: 'charge card', indent: '28px', hue: rows[3].hue,
    error: true, ticks: 1,
  });
  assert.equal(new Set(rows.map((row) => row.hue)).size, 4);
  assert.match(await page.textContent('#trace-summary'), /^4 spans · 5 logs · 4 services/);
  await screenshot(page, 'trace-spans');
  assert.deepEqual(page.problems, []);
});

test('a trace from `tracetail demo` shows every stored span of it, with its logs', async () => {
  // A hub of its own, so the picture shows the demo's traffic only.
  const demoHub = await Hub.withDemo({ count: 12, errorRate: '50%' });
  try {
    const errors = await (await fetch(`${demoHub.base}/v1/logs?level=ERROR&limit=1`)).json();
    const traceId = errors.events[0].trace_id;
    assert.match(traceId, /^[0-9a-f]{32}$/);
    const stored = await (await fetch(`${demoHub.base}/v1/traces/${traceId}`)).json();
    assert.ok(stored.spans.length >= 3, `demo trace has ${stored.spans.length} spans`);

    const page = await openPage(browser);
    await page.goto(`${demoHub.base}/trace/${traceId}`);
    await connected(page);
    await page.waitForFunction((count) => document.querySelectorAll('#waterfall .span-row').length === count
      && document.querySelectorAll('#trace-logs .row').length > 0, stored.spans.length);
    const rows = await waterfall(page);
    assert.deepEqual(rows.map((row) => row.id).sort(), stored.spans.map((span) => span.span_id).sort());
    assert.ok(rows.some((row) => row.error), 'the failed request\'s span is outlined');
    const logCount = await page.locator('#trace-logs .row').count();
    assert.equal(logCount, stored.logs.length);
    const path = await screenshot(page, 'trace-demo-spans');
    if (process.env.TRACETAIL_UPDATE_DOCS === '1') {
      const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
      copyFileSync(path, join(root, 'docs', 'trace.png'));
    }
    assert.deepEqual(page.problems, []);
  } finally {
    await demoHub.stop();
  }
});

test('a trace URL without a trace id says so instead of showing the tail', async () => {
  const page = await openPage(browser);
  await page.goto(`${hub.base}/trace/nothex`);
  await page.locator('#waterfall [role="alert"]').waitFor();
  assert.equal(await page.textContent('#waterfall [role="alert"]'),
    '“nothex” is not a trace id: a trace id is 32 hex digits.');
  assert.equal(await page.isHidden('#tail-view'), true);
  assert.equal(await page.isHidden('#trace-no-logs'), true);
  assert.deepEqual(page.problems, []);
});

test('in a trace view a service, or a filter changed, leads back to the live tail with it', async () => {
  const traceId = randomHex(16);
  await hub.sendOtlp([{ service: 'inventory', message: 'reserved 2 items', traceId, spanId: randomHex(8) }]);
  const page = await openPage(browser);
  await page.goto(`${hub.base}/trace/${traceId}`);
  await page.locator('#trace-logs .row .service').click();
  await page.waitForURL(`${hub.base}/?service=inventory`);
  assert.equal(await page.isVisible('#tail-view'), true);

  await page.goBack();
  await page.waitForURL(`${hub.base}/trace/${traceId}`);
  await page.selectOption('#level', 'WARN');
  await page.waitForURL(`${hub.base}/?level=WARN`);
  assert.equal(await page.isVisible('#tail-view'), true);
  assert.deepEqual(page.problems, []);
});

test('the services of a trace get hues at least 30 degrees apart', async () => {
  // Names whose hashed hues lie within a few degrees of each other.
  const traceId = randomHex(16);
  const root = randomHex(8);
  const now = Date.now();
  await hub.sendSpans(['frontend', 'db', 'gateway', 'users'].map((service, i) => ({
    service, traceId, spanId: i === 0 ? root : randomHex(8), parentSpanId: i === 0 ? null : root,
    name: `${service} op`, start: now + i * 5, end: now + i * 5 + 20,
  })));
  const page = await openPage(browser);
  await page.goto(`${hub.base}/trace/${traceId}`);
  await page.waitForFunction(() => document.querySelectorAll('#waterfall .span-row').length === 4);
  const hues = await page.$$eval('#waterfall .span-row', (rows) => rows.map((row) => Number(row.style.getPropertyValue('--hue'))));
  for (const [i, a] of hues.entries()) {
    for (const b of hues.slice(i + 1)) {
      const apart = Math.min(Math.abs(a - b), 360 - Math.abs(a - b));
      assert.ok(apart >= 30, `hues ${hues.join(', ')}: ${a} and ${b} are ${apart}° apart`);
    }
  }
  assert.deepEqual(page.problems, []);
});
