// Killing and restarting the hub: the page reconnects by itself and shows every event sent
// while it was away exactly once, in order, then keeps following live.

import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Hub, randomHex } from './lib/hub.mjs';
import { launch, openPage, screenshot } from './lib/browser.mjs';

let hub;
let browser;

before(async () => {
  hub = await Hub.start({ heartbeat: '1s', retry: '200ms' });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await hub?.stop();
});

const messages = (page) => page.$$eval('#rows .row:not([hidden]) .message', (nodes) => nodes.map((node) => node.textContent));

test('after a kill -9 and restart the page shows the events sent meanwhile exactly once', async () => {
  const run = randomHex(4);
  const batch = (name, count) => Array.from({ length: count }, (_, i) => ({ service: 'checkout', message: `${run}-${name}-${i}` }));
  // A killed server makes Chromium log the failed stream request.
  const page = await openPage(browser, { allowed: /ERR_CONNECTION_REFUSED|ERR_INCOMPLETE_CHUNKED_ENCODING|Failed to load resource|network error/ });
  await page.goto(`${hub.base}/?q=${run}&order=asc`);
  await page.locator('#connection[data-state="connected"]').waitFor();
  const before = batch('before', 5);
  await hub.sendEvents(before);
  await page.waitForFunction((n) => document.querySelectorAll('#rows .row:not([hidden])').length === n, before.length);

  // Hold the page's next stream requests until the events of the outage are stored, so they
  // can only reach it by resuming from its cursor.
  const held = [];
  const cursors = [];
  await page.route('**/v1/stream**', (route) => {
    cursors.push(route.request().headers()['last-event-id']);
    held.push(route);
  });
  await hub.kill();
  await page.locator('#connection[data-state="reconnecting"]').waitFor();
  assert.match(await page.textContent('#connection'), /^reconnecting in \d+ s \(at \d\d:\d\d:\d\d\.\d{3}; (network|closed by server)\)$/);
  await screenshot(page, 'reconnecting');

  await hub.restart();
  const meanwhile = batch('meanwhile', 10);
  await hub.sendEvents(meanwhile);
  while (held.length === 0) await new Promise((done) => setTimeout(done, 50));
  for (const route of held) await route.continue();
  await page.unroute('**/v1/stream**');

  const live = batch('after', 3);
  await page.locator('#connection[data-state="connected"]').waitFor();
  await hub.sendEvents(live);
  const all = [...before, ...meanwhile, ...live].map((event) => event.message);
  await page.waitForFunction((last) => [...document.querySelectorAll('#rows .row .message')].some((n) => n.textContent === last), all.at(-1));
  // Whatever else arrives would come now; give it a moment to show.
  await new Promise((done) => setTimeout(done, 500));
  const shown = (await messages(page)).filter((message) => message.startsWith(run));
  assert.deepEqual(shown, all);
  const resumedFrom = cursors[0];
  assert.ok(resumedFrom, 'the reconnect sent Last-Event-ID');
  const stored = await (await fetch(`${hub.base}/v1/logs?q=${run}-before-4`)).json();
  assert.equal(resumedFrom, stored.events[0].id, 'resumed after the last event shown');
  assert.equal(await page.locator('.banner-gap').count(), 0, 'no gap: nothing was missed');
  assert.deepEqual(page.problems, []);
});

test('a hub whose data was wiped answers the resume with a gap, and the page shows a banner', async () => {
  const run = randomHex(4);
  const page = await openPage(browser, { allowed: /ERR_CONNECTION_REFUSED|ERR_INCOMPLETE_CHUNKED_ENCODING|Failed to load resource|network error/ });
  await page.goto(`${hub.base}/?q=${run}`);
  await page.locator('#connection[data-state="connected"]').waitFor();
  await hub.sendEvents([{ service: 'checkout', message: `${run}-old` }]);
  await page.locator('#rows .row', { hasText: `${run}-old` }).waitFor();

  await hub.kill();
  rmSync(join(hub.dir, 'data'), { recursive: true, force: true });
  await hub.restart();
  await hub.sendEvents([{ service: 'checkout', message: `${run}-new` }]);

  const banner = page.locator('.banner-gap');
  await banner.waitFor({ timeout: 15000 });
  assert.match(await banner.textContent(), /Events were missed: .* because the cursor belongs to another store/);
  await page.locator('#rows .row', { hasText: `${run}-new` }).waitFor();
  await screenshot(page, 'gap-banner');
  assert.deepEqual(page.problems, []);
});

test('a hub that stops answering trips the idle watchdog; the page warns, then reconnects', async () => {
  const run = randomHex(4);
  const page = await openPage(browser, { allowed: /Failed to load resource|network error/ });
  await page.goto(`${hub.base}/?q=${run}`);
  await page.locator('#connection[data-state="connected"]').waitFor();
  // The indicator names the reason only until the next attempt, 200 ms later: record its texts.
  await page.evaluate(() => {
    window.indicatorTexts_ = [];
    const indicator = document.querySelector('#connection');
    new MutationObserver(() => window.indicatorTexts_.push(indicator.textContent))
      .observe(indicator, { childList: true, characterData: true, subtree: true });
  });

  // Frozen, not dead: the connection stays open but no byte (not even a heartbeat) comes.
  hub.process.kill('SIGSTOP');
  try {
    const warning = page.locator('.banner-idle');
    await warning.waitFor({ timeout: 15000 });
    assert.match(await warning.textContent(), /No event or heartbeat arrived for three heartbeat intervals/);
    const texts = await page.evaluate(() => window.indicatorTexts_);
    assert.ok(texts.some((text) => /^reconnecting in \d+ s .*idle\)$/.test(text)), texts.join(' | '));
  } finally {
    hub.process.kill('SIGCONT');
  }
  await page.locator('#connection[data-state="connected"]').waitFor({ timeout: 15000 });
  assert.equal(await page.locator('.banner-idle').count(), 0, 'the warning goes once connected again');
  await hub.sendEvents([{ service: 'checkout', message: `${run}-after` }]);
  await page.locator('#rows .row', { hasText: `${run}-after` }).waitFor();
  assert.deepEqual(page.problems, []);
});
