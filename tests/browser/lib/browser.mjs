// Debian's Chromium, driven by playwright-core: never a downloaded browser.

import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { Hub } from './hub.mjs';

const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];

/** Where the tests save screenshots (ignored by git). */
export const SCREENSHOTS = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'screenshots');

export async function launch() {
  return chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true });
}

/**
 * A new page that fails the test on any uncaught page error or console error, except those
 * `allowed` matches (a killed server makes the browser log failed requests).
 */
export async function openPage(browser, { colorScheme = 'light', allowed = null } = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme });
  const page = await context.newPage();
  page.problems = [];
  page.on('pageerror', (error) => page.problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    if (allowed && allowed.test(message.text())) return;
    page.problems.push(`console error: ${message.text()}`);
  });
  return page;
}

export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path });
  return path;
}

/** Waits until the page's connection state says connected. */
export async function connected(page) {
  await page.locator('#connection[data-state="connected"]').waitFor({ timeout: 10000 });
}

/** A hub started with `options` (see `Hub.start`) and a browser, for the tests of one file. */
export async function startHubAndBrowser(options) {
  return { hub: await Hub.start(options), browser: await launch() };
}

/** Closes what `startHubAndBrowser` started, whatever of it did start. */
export async function stopHubAndBrowser({ hub, browser }) {
  await browser?.close();
  await hub?.stop();
}
