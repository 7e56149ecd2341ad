// tracetail.js in a web app of another origin: with `--cors-origin` naming it, the page
// imports the module from the hub, streams with an Authorization header and reads the
// stream's trace context; without, the browser refuses, as it must for a hub with no
// authentication of its own.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, test } from 'node:test';
import { Hub, randomHex } from './lib/hub.mjs';
import { launch, openPage } from './lib/browser.mjs';

let site;
let siteOrigin;
let open;
let closed;
let browser;

before(async () => {
  // The other web app: one empty page on its own port, so its own origin.
  site = createServer((request, response) => {
    response.writeHead(200, { 'content-type': 'text/html' });
    response.end('<!doctype html><title>another app</title>');
  });
  await new Promise((done) => site.listen(0, '127.0.0.1', done));
  siteOrigin = `http://127.0.0.1:${site.address().port}`;
  open = await Hub.start({ args: ['--cors-origin', siteOrigin] });
  closed = await Hub.start();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await open?.stop();
  await closed?.stop();
  await new Promise((done) => (site ? site.close(done) : done()));
});

/** In the page: import tracetail.js from `base`, stream until `marker` arrives, then close. */
async function streamFromPage(page, base, marker) {
  return page.evaluate(async ({ base, marker }) => {
    const { TracetailStream } = await import(`${base}/tracetail.js`);
    const statuses = [];
    let stream;
    const message = await new Promise((resolve, reject) => {
      setTimeout(() => reject(new Error(`no event; statuses ${JSON.stringify(statuses)}`)), 10000);
      stream = new TracetailStream(`${base}/v1/stream`, {
        filters: { q: marker },
        headers: { Authorization: 'Bearer for-a-proxy-in-front' },
        onStatus: (status) => {
          statuses.push(status.state);
          if (status.state === 'connected') {
            fetch(`${base}/v1/events`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ service: 'web', message: marker }),
            }).catch(reject);
          }
        },
        onEvent: (event) => {
          if (event.type === 'log') resolve(event.json().message);
        },
      });
    });
    const traceparent = stream.traceparent();
    stream.close();
    return { message, traceparent, statuses };
  }, { base, marker });
}

test('a page of an allowed origin imports tracetail.js, streams with Authorization, and joins the trace', async () => {
  const page = await openPage(browser);
  await page.goto(`${siteOrigin}/`);
  const marker = `cors-${randomHex(4)}`;
  const result = await streamFromPage(page, open.base, marker);
  assert.equal(result.message, marker);
  assert.match(result.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);

  // The preflight of such a request is answered for that origin, and only for it.
  const preflight = (origin) => fetch(`${open.base}/v1/stream`, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': 'GET',
      'access-control-request-headers': 'authorization,last-event-id',
    },
  });
  const allowed = await preflight(siteOrigin);
  assert.equal(allowed.status, 200);
  assert.equal(allowed.headers.get('access-control-allow-origin'), siteOrigin);
  assert.match(allowed.headers.get('access-control-allow-headers'), /authorization/);
  const other = await preflight('http://elsewhere.example');
  assert.equal(other.headers.get('access-control-allow-origin'), null);
  assert.deepEqual(page.problems, []);
});

test('without --cors-origin the browser keeps other origins out', async () => {
  const page = await openPage(browser, { allowed: /CORS|Failed to load|Failed to fetch/ });
  await page.goto(`${siteOrigin}/`);
  const error = await page.evaluate(async (base) => {
    try {
      await import(`${base}/tracetail.js`);
      return 'imported';
    } catch (caught) {
      return caught.message;
    }
  }, closed.base);
  assert.match(error, /Failed to fetch dynamically imported module/);
});
