// The web UI against the real hub in real Chromium: loading, live rows, filters, the trace
// view, pause and resume, row details, and the screenshots of the main views.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Hub, randomHex } from './lib/hub.mjs';
import {
  connected, openPage, screenshot, startHubAndBrowser, stopHubAndBrowser,
} from './lib/browser.mjs';

let hub;
let browser;

before(async () => ({ hub, browser } = await startHubAndBrowser({ heartbeat: '2s' })));
after(() => stopHubAndBrowser({ hub, browser }));

/** Text in the rows and bars with less than 4.5:1 contrast (WCAG AA) to the page. */
async function lowContrast(page) {
  return page.evaluate(() => {
    const channels = (color) => color.match(/[\d.]+/g).slice(0, 3).map(Number);
    const luminance = (color) => {
      const [r, g, b] = channels(color).map((value) => {
        const c = value / 255;
        return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
      });
      return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const background = luminance(getComputedStyle(document.body).backgroundColor);
    const low = new Set();
    const selector = '#rows .row:not([hidden]) > *, .toolbar, .columns, #connection, .bar label';
    for (const node of document.querySelectorAll(selector)) {
      const text = luminance(getComputedStyle(node).color);
      const ratio = (Math.max(text, background) + 0.05) / (Math.min(text, background) + 0.05);
      if (ratio < 4.5) low.add(`${node.className || node.tagName}: ${getComputedStyle(node).color} (${ratio.toFixed(2)})`);
    }
    // Every service colour, not only those on screen.
    const probe = document.createElement('button');
    probe.className = 'service';
    document.querySelector('#rows').append(probe);
    for (let hue = 0; hue < 360; hue++) {
      probe.style.setProperty('--hue', hue);
      const text = luminance(getComputedStyle(probe).color);
      const ratio = (Math.max(text, background) + 0.05) / (Math.min(text, background) + 0.05);
      if (ratio < 4.5) low.add(`service hue ${hue} (${ratio.toFixed(2)})`);
    }
    probe.remove();
    return [...low];
  });
}

/** Messages of the rows the tail shows, top to bottom. */
async function rowMessages(page) {
  return page.$$eval('#rows .row:not([hidden])', (rows) => rows
    .map((row) => ({ top: new DOMMatrix(getComputedStyle(row).transform).m42, text: row.querySelector('.message').textContent }))
    .sort((a, b) => a.top - b.top)
    .map((row) => row.text));
}

test('the page loads with its filters, the time zone and a live connection', async () => {
  const page = await openPage(browser);
  const response = await page.goto(hub.base + '/');
  assert.equal(response.status(), 200);
  assert.equal(await page.title(), 'tracetail');
  await connected(page);
  assert.match(await page.textContent('#zone'), /^Times in .+ \(UTC[+-]\d\d:\d\d\)$/);
  const levels = await page.$$eval('#level option', (options) => options.map((option) => option.value));
  assert.deepEqual(levels, ['', 'TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL']);
  assert.deepEqual(page.problems, []);
});

test('events sent over OTLP appear within one second', async () => {
  const page = await openPage(browser);
  await page.goto(hub.base + '/');
  await connected(page);
  const marker = `otlp-arrival-${randomHex(4)}`;
  const sentAt = Date.now();
  await hub.sendOtlp([
    { service: 'checkout', message: `${marker} card declined`, level: 'ERROR', attributes: { order: 1042 } },
  ]);
  await page.locator('#rows .row', { hasText: marker }).waitFor({ timeout: 1000 });
  const elapsed = Date.now() - sentAt;
  console.log(`# OTLP record visible in the page ${elapsed} ms after the request began`);
  const row = page.locator('#rows .row', { hasText: marker });
  assert.equal(await row.locator('.level').textContent(), 'ERROR');
  assert.equal(await row.locator('.service').textContent(), 'checkout');
  assert.deepEqual(page.problems, []);
});

test('choosing a service narrows the rows to it and puts it in the URL', async () => {
  const run = randomHex(4);
  const events = [];
  for (let i = 0; i < 6; i++) {
    events.push({ service: i % 2 ? 'inventory' : 'payments', message: `narrow-${run}-${i}` });
  }
  await hub.sendEvents(events);
  const page = await openPage(browser);
  await page.goto(`${hub.base}/?q=narrow-${run}`);
  await connected(page);
  await page.locator('#rows .row', { hasText: `narrow-${run}-5` }).waitFor();
  assert.equal((await rowMessages(page)).length, 6);

  // The service list comes from GET /v1/services, with counts.
  await page.locator('#service option[value="inventory"]').waitFor({ state: 'attached' });
  const label = await page.textContent('#service option[value="inventory"]');
  assert.match(label, /^inventory \(\d+\)$/);
  await page.selectOption('#service', 'inventory');
  await page.waitForURL(/service=inventory/);
  await page.waitForFunction(() => document.querySelectorAll('#rows .row:not([hidden])').length === 3);
  assert.deepEqual(await rowMessages(page), [`narrow-${run}-5`, `narrow-${run}-3`, `narrow-${run}-1`]);
  const services = await page.$$eval('#rows .row:not([hidden]) .service', (nodes) => nodes.map((n) => n.textContent));
  assert.deepEqual(services, ['inventory', 'inventory', 'inventory']);

  // The URL alone restores the view, and live events still pass the filter.
  const shared = await openPage(browser);
  await shared.goto(page.url());
  await connected(shared);
  assert.equal(await shared.inputValue('#service'), 'inventory');
  assert.equal(await shared.inputValue('#q'), `narrow-${run}`);
  await hub.sendEvents([
    { service: 'payments', message: `narrow-${run}-live-payments` },
    { service: 'inventory', message: `narrow-${run}-live-inventory` },
  ]);
  await shared.locator('#rows .row', { hasText: `narrow-${run}-live-inventory` }).waitFor();
  assert.equal(await shared.locator('#rows .row', { hasText: 'live-payments' }).count(), 0);
  assert.deepEqual(page.problems, []);
  assert.deepEqual(shared.problems, []);
});

test('a minimum level hides the less severe rows', async () => {
  const run = randomHex(4);
  await hub.sendEvents(['DEBUG', 'INFO', 'WARN', 'ERROR'].map((level) => ({
    service: 'frontend', level, message: `level-${run}-${level}`,
  })));
  const page = await openPage(browser);
  await page.goto(`${hub.base}/?q=level-${run}`);
  await connected(page);
  await page.locator('#rows .row', { hasText: `level-${run}-ERROR` }).waitFor();
  await page.selectOption('#level', 'WARN');
  await page.waitForURL(/level=WARN/);
  await page.waitForFunction(() => document.querySelectorAll('#rows .row:not([hidden])').length === 2);
  assert.deepEqual(await rowMessages(page), [`level-${run}-ERROR`, `level-${run}-WARN`]);
});

test('clicking a trace id opens the trace view with every log of that trace', async () => {
  const run = randomHex(4);
  const traceId = randomHex(16);
  const records = [
    ['frontend', 'GET /checkout', 'INFO'],
    ['checkout', 'reserving items', 'INFO'],
    ['inventory', 'reserved 3 items', 'DEBUG'],
    ['payments', 'card declined', 'ERROR'],
    ['checkout', 'order failed', 'WARN'],
  ].map(([service, message, level]) => ({
    service, level, message: `${message} ${run}`, traceId, spanId: randomHex(8),
  }));
  const noise = [{ service: 'frontend', message: `other trace ${run}`, traceId: randomHex(16), spanId: randomHex(8) }];
  for (const record of [...records.slice(0, 3), ...noise]) await hub.sendOtlp([record]);

  const page = await openPage(browser);
  await page.goto(`${hub.base}/?q=${run}`);
  await connected(page);
  await page.locator('#rows .row', { hasText: `other trace ${run}` }).waitFor();
  await page.locator(`#rows .row a.trace[href="/trace/${traceId}"]`).first().click();
  await page.waitForURL(`${hub.base}/trace/${traceId}?q=${run}`);
  await page.locator('#trace-logs .row').nth(2).waitFor();

  // The trace keeps updating live.
  await hub.sendOtlp(records.slice(3));
  await page.waitForFunction(() => document.querySelectorAll('#trace-logs .row').length === 5);
  const messages = await page.$$eval('#trace-logs .row .message', (nodes) => nodes.map((n) => n.textContent));
  assert.deepEqual(messages, records.map((record) => record.message));
  assert.equal(await page.textContent('#trace-id'), traceId);
  assert.match(await page.textContent('#trace-summary'), /0 spans · 5 logs · 4 services/);
  const hues = await page.$$eval('#trace-logs .row .service', (nodes) => nodes.map((n) => n.style.getPropertyValue('--hue')));
  assert.equal(new Set(hues).size, 4, 'each service has its own colour');
  await screenshot(page, 'trace-logs');

  // Back to the live tail, with the filters kept.
  await page.goBack();
  await page.waitForURL(`${hub.base}/?q=${run}`);
  await page.locator('#tail-view').waitFor();
  assert.equal(await page.isHidden('#trace-view'), true);
  assert.deepEqual(page.problems, []);
});

test('spans render as a waterfall: tree order, service colours, offset and duration bars', async () => {
  const traceId = randomHex(16);
  const page = await openPage(browser);
  await page.goto(`${hub.base}/trace/${traceId}`);
  await connected(page);
  const base = Date.parse('2026-12-03T16:21:10Z');
  const at = (ms) => new Date(base + ms).toISOString().replace('Z', '000000Z').replace(/\.(\d{3})000000Z/, '.$1000000Z');
  const span = (id, parent, service, name, start, end, extra = {}) => ({
    trace_id: traceId, span_id: id, ...(parent ? { parent_span_id: parent } : {}), name, kind: 'SERVER',
    service, start: at(start), end: at(end), duration_ms: end - start, status: { code: 'UNSET' },
    attributes: {}, resource: { 'service.name': service }, events: [], ...extra,
  });
  const spans = [
    span('00000000000000c1', '00000000000000b1', 'payments', 'charge card', 300, 900,
      { status: { code: 'ERROR', message: 'card declined' } }),
    span('00000000000000a1', null, 'frontend', 'GET /checkout', 0, 1000),
    span('00000000000000b2', '00000000000000a1', 'inventory', 'reserve', 100, 200),
    span('00000000000000b1', '00000000000000a1', 'checkout', 'POST /orders', 250, 950),
  ];
  // Arriving out of order, as `event: span` may.
  await page.evaluate((items) => { for (const item of items) window.tracetail.trace.addSpan(item); }, spans);
  await page.waitForFunction(() => document.querySelectorAll('#waterfall .span-row').length === 4);
  const rows = await page.$$eval('#waterfall .span-row', (nodes) => nodes.map((node) => {
    const bar = node.querySelector('.span-bar');
    return {
      name: node.querySelector('.span-name').textContent,
      indent: node.querySelector('.span-label').style.paddingLeft,
      left: Number.parseFloat(bar.style.left),
      width: Number.parseFloat(bar.style.width),
      error: bar.classList.contains('error'),
      duration: node.querySelector('.span-duration').textContent,
      offset: node.querySelector('.span-offset').textContent,
      hue: node.style.getPropertyValue('--hue'),
    };
  }));
  assert.deepEqual(rows.map((row) => row.name), ['GET /checkout', 'reserve', 'POST /orders', 'charge card']);
  assert.deepEqual(rows.map((row) => row.indent), ['0px', '14px', '14px', '28px']);
  assert.deepEqual(rows.map((row) => Math.round(row.left)), [0, 10, 25, 30]);
  assert.deepEqual(rows.map((row) => Math.round(row.width)), [100, 10, 70, 60]);
  assert.deepEqual(rows.map((row) => row.error), [false, false, false, true]);
  assert.deepEqual(rows.map((row) => row.duration), ['1.00 s', '100 ms', '700 ms', '600 ms']);
  assert.equal(rows[3].offset, '+300 ms');
  assert.equal(new Set(rows.map((row) => row.hue)).size, 4);
  assert.match(await page.textContent('#trace-summary'), /^4 spans · 0 logs/);

  // Logs of the trace sit inside their span's lane and name their span.
  await hub.sendOtlp([{ service: 'payments', level: 'ERROR', message: 'card declined', traceId, spanId: '00000000000000c1' }]);
  await page.locator('#trace-logs .row').waitFor();
  assert.equal(await page.textContent('#trace-logs .row .trace'), 'charge card');
  assert.equal(await page.locator('#waterfall .span-row[data-span-id="00000000000000c1"] .span-log').count(), 1);
  await screenshot(page, 'trace-waterfall');
  assert.deepEqual(page.problems, []);
});

test('pause holds arriving events with a count, and resume flushes them', async () => {
  const run = randomHex(4);
  const page = await openPage(browser);
  await page.goto(`${hub.base}/?q=pause-${run}`);
  await connected(page);
  await hub.sendEvents([{ service: 'frontend', message: `pause-${run}-before` }]);
  await page.locator('#rows .row', { hasText: `pause-${run}-before` }).waitFor();

  await page.click('#pause');
  assert.equal(await page.getAttribute('#pause', 'aria-pressed'), 'true');
  const held = Array.from({ length: 7 }, (_, i) => ({ service: 'frontend', message: `pause-${run}-held-${i}` }));
  await hub.sendEvents(held);
  await page.waitForFunction(() => document.querySelector('#held-count').textContent === '7 held');
  assert.deepEqual(await rowMessages(page), [`pause-${run}-before`]);
  await screenshot(page, 'paused');

  await page.click('#pause');
  await page.waitForFunction(() => document.querySelectorAll('#rows .row:not([hidden])').length === 8);
  assert.equal(await page.textContent('#held-count'), '');
  const shown = await rowMessages(page);
  assert.deepEqual(shown, [...held.map((event) => event.message).reverse(), `pause-${run}-before`]);

  await page.click('#clear');
  await page.waitForFunction(() => document.querySelectorAll('#rows .row:not([hidden])').length === 0);
  assert.equal(await page.textContent('#row-count'), '0 rows');
  assert.deepEqual(page.problems, []);
});

test('a row expands with the keyboard to show attributes and resource, and copies as JSON', async () => {
  const run = randomHex(4);
  await hub.sendOtlp([{ service: 'checkout', level: 'WARN', message: `expand-${run}`, attributes: { order: 1042, user: 'Ada Lovelace' } }]);
  const page = await openPage(browser);
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
  await page.goto(`${hub.base}/?q=expand-${run}`);
  await connected(page);
  await page.locator('#rows .row').first().waitFor();

  await page.focus('#rows');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
  const details = page.locator('#rows .row.expanded .details');
  await details.waitFor();
  const text = await details.textContent();
  assert.match(text, /order1042/);
  assert.match(text, /userAda Lovelace/);
  assert.match(text, /service\.namecheckout/);
  assert.match(text, /host\.namebrowser-test/);
  await details.locator('button.copy').click();
  await page.locator('#rows button.copy', { hasText: 'Copied' }).waitFor();
  const copied = JSON.parse(await page.evaluate(() => navigator.clipboard.readText()));
  assert.equal(copied.message, `expand-${run}`);
  assert.equal(copied.attributes.order, 1042);
  await screenshot(page, 'tail-expanded');

  // Back on the row (the copy button had the focus), Enter collapses it.
  await page.focus('#rows .row.expanded');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => !document.querySelector('#rows .row.expanded'));
  assert.deepEqual(page.problems, []);
});

test('screenshots of the live tail and a trace from `tracetail demo`, light and dark', async () => {
  // A hub of its own, so the picture shows the demo's traffic only.
  const demoHub = await Hub.withDemo({ count: 30, errorRate: '30%' });
  try {
    for (const scheme of ['light', 'dark']) {
      const page = await openPage(browser, { colorScheme: scheme });
      await page.goto(demoHub.base + '/');
      await connected(page);
      await page.waitForFunction(() => document.querySelectorAll('#rows .row:not([hidden])').length > 30);
      const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      assert.equal(background, scheme === 'dark' ? 'rgb(15, 19, 24)' : 'rgb(255, 255, 255)');
      const low = await lowContrast(page);
      assert.deepEqual(low, [], `text under 4.5:1 contrast in the ${scheme} theme`);
      await screenshot(page, `tail-${scheme}`);
      if (scheme === 'light') {
        await page.selectOption('#level', 'ERROR');
        await page.locator('#rows .row:has(.level-ERROR) a.trace').first().click();
        await page.locator('#trace-logs .row').nth(2).waitFor();
        await screenshot(page, 'trace-demo');
      }
      assert.deepEqual(page.problems, []);
    }
  } finally {
    await demoHub.stop();
  }
});

test('GET /v1/services counts what is stored per service', async () => {
  const answer = await (await fetch(`${hub.base}/v1/services`)).json();
  const names = answer.services.map((service) => service.name);
  assert.deepEqual(names, [...names].sort());
  for (const service of answer.services) {
    assert.ok(service.count > 0);
    assert.ok(!Number.isNaN(Date.parse(service.last_seen)));
  }
  const logs = await (await fetch(`${hub.base}/v1/logs?service=payments&limit=10000`)).json();
  const payments = answer.services.find((service) => service.name === 'payments');
  assert.equal(payments.count, logs.events.length);
});
