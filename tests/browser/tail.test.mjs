// The live tail's state under the reader's actions: a visit to a trace and back, a new row
// limit, an expanded row while events keep arriving, times from another day, odd URLs.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { randomHex } from './lib/hub.mjs';
import { connected, openPage, startHubAndBrowser, stopHubAndBrowser } from './lib/browser.mjs';

let hub;
let browser;

before(async () => ({ hub, browser } = await startHubAndBrowser({ heartbeat: '2s' })));
after(() => stopHubAndBrowser({ hub, browser }));

/** Events of `run`, `count` of them, message `${run} ${prefix} ${i}`. */
function events(run, prefix, count, extra = {}) {
  return Array.from({ length: count }, (_, i) => ({ service: 'frontend', message: `${run} ${prefix} ${i}`, ...extra }));
}

/** A page showing the live tail of `run`'s events, connected. */
async function tailOf(run) {
  const page = await openPage(browser);
  await page.goto(`${hub.base}/?q=${run}`);
  await connected(page);
  return page;
}

/** Waits until the tail holds `count` rows and has drawn them. */
async function settled(page, count) {
  await page.waitForFunction((expected) => {
    const rows = window.tracetail.tail.rows;
    return rows.count === expected && !rows.schedule.pending() && rows.dataTimer === null;
  }, count);
}

/** The messages the tail holds, oldest first. */
function heldRows(page) {
  return page.evaluate(() => window.tracetail.tail.rows.rows.map((row) => row.event.message));
}

test('back from a trace, the tail keeps its rows, its pause and its held events', async () => {
  const run = randomHex(4);
  const traceId = randomHex(16);
  await hub.sendEvents(events(run, 'stored', 300));
  const page = await tailOf(run);
  await hub.sendEvents([...events(run, 'live', 99), { service: 'frontend', message: `${run} traced`, trace_id: traceId }]);
  await settled(page, 300);

  await page.click('#pause');
  await hub.sendEvents(events(run, 'held', 1));
  await page.waitForFunction(() => document.querySelector('#held-count').textContent === '1 held');
  const before = await heldRows(page);

  await page.locator(`#rows a.trace[href="/trace/${traceId}"]`).click();
  await page.waitForURL(`${hub.base}/trace/${traceId}?q=${run}`);
  await page.locator('#trace-logs .row').waitFor();
  // The same link clicked again, as a double click may: the trace view is shown once more.
  await page.evaluate((id) => document.querySelector(`#rows a.trace[href="/trace/${id}"]`).click(), traceId);
  await page.keyboard.press('Escape');
  await page.waitForURL(`${hub.base}/?q=${run}`);

  // Still paused, with the same rows and the held event still held.
  await hub.sendEvents(events(run, 'meanwhile', 1));
  await page.waitForFunction(() => document.querySelector('#held-count').textContent === '2 held');
  assert.equal(await page.textContent('#pause'), 'Resume');
  assert.equal(await page.textContent('#row-count'), '300 rows');
  assert.deepEqual(await heldRows(page), before);

  await page.click('#pause');
  await settled(page, 302);
  const after = await heldRows(page);
  assert.deepEqual(after.slice(-2), [`${run} held 0`, `${run} meanwhile 0`]);
  assert.equal(new Set(after).size, after.length, 'no event is shown twice');
  assert.deepEqual(page.problems, []);
});

test('a smaller row limit updates the row count at once', async () => {
  const run = randomHex(4);
  await hub.sendEvents(events(run, 'kept', 300));
  const page = await tailOf(run);
  await page.waitForFunction(() => document.querySelector('#row-count').textContent === '200 rows');
  await hub.sendEvents(events(run, 'live', 50));
  await page.waitForFunction(() => document.querySelector('#row-count').textContent === '250 rows');

  await page.fill('#limit', '100');
  await page.press('#limit', 'Enter');
  await page.waitForURL(/limit=100/);
  assert.equal(await page.evaluate(() => window.tracetail.tail.rows.count), 100);
  assert.equal(await page.textContent('#row-count'), '100 rows');
  assert.deepEqual(page.problems, []);
});

test('a row the reader expands or focuses stays in place, newest first, while events arrive', async () => {
  const run = randomHex(4);
  await hub.sendEvents(events(run, 'old', 50));
  const page = await tailOf(run);
  await settled(page, 50);
  let count = 50;
  /** Sends 30 events, drawn in five batches; whether `row` kept its place on screen. */
  const keepsPlace = async (row) => {
    const top = await row.evaluate((node) => node.getBoundingClientRect().top);
    for (let batch = 0; batch < 5; batch++) {
      await hub.sendEvents(events(run, `new-${count}`, 6));
      count += 6;
      await settled(page, count);
    }
    return (await row.evaluate((node) => node.getBoundingClientRect().top)) === top;
  };

  const expanded = page.locator('#rows .row.expanded');
  await page.locator('#rows .row:not([hidden])', { hasText: `${run} old 47` }).click();
  await expanded.waitFor();
  assert.equal(await keepsPlace(expanded), true, 'the expanded row moved');
  assert.match(await expanded.textContent(), new RegExp(`${run} old 47`));

  // Collapsed, then the newest row focused with the keyboard.
  await page.keyboard.press('Enter');
  await page.keyboard.press('Home');
  const focused = page.locator('#rows .row:focus');
  const newest = await focused.locator('.message').textContent();
  assert.equal(await keepsPlace(focused), true, 'the focused row moved');
  assert.equal(await focused.locator('.message').textContent(), newest);
  assert.deepEqual(page.problems, []);
});

test('a time from another day shows its date and time in full', async () => {
  const run = randomHex(4);
  const twoDaysAgo = new Date(Date.now() - 2 * 86400e3);
  await hub.sendEvents([{ service: 'frontend', message: `${run} old`, ts: twoDaysAgo.toISOString() }]);
  const page = await tailOf(run);
  const time = page.locator('#rows .row:not([hidden]) .time');
  await time.waitFor();
  const shown = await time.evaluate((node) => ({
    text: node.textContent, fits: node.scrollWidth <= node.clientWidth,
  }));
  const day = await page.evaluate((ms) => {
    const date = new Date(ms);
    const two = (n) => String(n).padStart(2, '0');
    return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())}`;
  }, twoDaysAgo.getTime());
  assert.match(shown.text, new RegExp(`^${day} \\d\\d:\\d\\d:\\d\\d\\.\\d{3}$`));
  assert.equal(shown.fits, true, `"${shown.text}" is cut off`);
  // The header's time column is as wide as the rows'.
  const widths = await page.evaluate(() => [
    document.querySelector('#tail-view .columns span').getBoundingClientRect().width,
    document.querySelector('#rows .row:not([hidden]) .time').getBoundingClientRect().width,
  ]);
  assert.equal(widths[0], widths[1]);
  assert.deepEqual(page.problems, []);
});

test('a URL with an unknown level or a limit out of range shows what the tail applies', async () => {
  const page = await openPage(browser);
  await page.goto(`${hub.base}/?level=bogus&limit=5`);
  await connected(page);
  assert.equal(await page.inputValue('#level'), '');
  assert.equal(await page.inputValue('#limit'), '100');
  assert.equal(await page.evaluate(() => window.tracetail.tail.rows.limit), 100);

  await page.goto(`${hub.base}/?limit=999999999`);
  await connected(page);
  assert.equal(await page.inputValue('#limit'), '200000');
  assert.equal(await page.evaluate(() => window.tracetail.tail.rows.limit), 200000);
  assert.deepEqual(page.problems, []);
});
