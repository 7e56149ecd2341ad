// How values are shown: local times with their zone, levels, service colours.

/** Levels from least to most severe, as the hub names them. */
export const LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'];

const zoneName = Intl.DateTimeFormat().resolvedOptions().timeZone || 'local time';

/** The zone times are shown in, e.g. `Europe/Berlin (UTC+01:00)`. */
export function zoneLabel(date = new Date()) {
  const minutes = -date.getTimezoneOffset();
  const sign = minutes < 0 ? '-' : '+';
  const hours = String(Math.floor(Math.abs(minutes) / 60)).padStart(2, '0');
  const rest = String(Math.abs(minutes) % 60).padStart(2, '0');
  return `${zoneName} (UTC${sign}${hours}:${rest})`;
}

/**
 * An RFC 3339 time with up to nine fractional digits, as epoch milliseconds with a fraction
 * (`Date.parse` keeps only milliseconds). `NaN` when unreadable.
 */
export function parseTime(text) {
  const match = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(text || '');
  if (!match) return Date.parse(text);
  const whole = Date.parse(match[1] + match[3]);
  const fraction = match[2] ? Number(`0.${match[2]}`) * 1000 : 0;
  return whole + fraction;
}

const two = (n) => String(n).padStart(2, '0');

/** `16:21:10.123` in local time, with the date in front when not today. */
export function clockTime(ms) {
  const date = new Date(ms);
  const time = `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}` +
    `.${String(date.getMilliseconds()).padStart(3, '0')}`;
  if (isToday(ms)) return time;
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ${time}`;
}

/** Whether `ms` falls on today's local date. */
export function isToday(ms) {
  return new Date(ms).toDateString() === new Date().toDateString();
}

/** The full local time with the zone, for titles and details. */
export function fullTime(ms, original) {
  const date = new Date(ms);
  const day = `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())}`;
  const nanos = /\.(\d+)/.exec(original || '');
  const fraction = nanos ? nanos[1] : String(date.getMilliseconds()).padStart(3, '0');
  return `${day} ${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}` +
    `.${fraction} ${zoneLabel(date)}`;
}

/** Hues closer than this, in degrees, are hard to tell apart. */
const HUE_GAP = 30;
/** The hue of each service seen on this page. */
const hues = new Map();

/**
 * The hue of a service, the same everywhere on the page. A service's first choice comes from a
 * hash of its name; when that is within `HUE_GAP` of a service seen before, it takes the hue
 * farthest from all of them instead, so the services on a page differ visibly.
 */
export function serviceHue(name) {
  if (hues.has(name)) return hues.get(name);
  let hue = nameHash(name) % 360;
  if ([...hues.values()].some((taken) => hueDistance(hue, taken) < HUE_GAP)) {
    let farthest = -1;
    for (let candidate = 0; candidate < 360; candidate++) {
      const nearest = Math.min(...[...hues.values()].map((taken) => hueDistance(candidate, taken)));
      if (nearest > farthest) [hue, farthest] = [candidate, nearest];
    }
  }
  hues.set(name, hue);
  return hue;
}

/** FNV-1a of `text`, as an unsigned 32-bit number. */
function nameHash(text) {
  let hash = 2166136261;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 16777619);
  }
  return hash >>> 0;
}

/** Degrees between two hues around the colour wheel. */
function hueDistance(a, b) {
  const apart = Math.abs(a - b) % 360;
  return Math.min(apart, 360 - apart);
}

/** `1.25 s`, `310 ms`, `42 µs`. */
export function duration(ms) {
  if (ms >= 1000) return `${(ms / 1000).toFixed(ms >= 10000 ? 1 : 2)} s`;
  if (ms >= 1) return `${ms.toFixed(ms >= 100 ? 0 : 1)} ms`;
  return `${Math.round(ms * 1000)} µs`;
}

/**
 * A function that runs `work` on the next animation frame, once however often it is called
 * before then. `pending()` tells whether a run is waiting.
 */
export function onNextFrame(work) {
  let waiting = false;
  const schedule = () => {
    if (waiting) return;
    waiting = true;
    requestAnimationFrame(() => {
      waiting = false;
      work();
    });
  };
  schedule.pending = () => waiting;
  return schedule;
}

/** Creates an element with a class and text. */
export function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Copies text to the clipboard, with a fallback where the async API is refused. */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = element('textarea');
    area.value = text;
    document.body.append(area);
    area.select();
    const done = document.execCommand('copy');
    area.remove();
    return done;
  }
}

/** The details of an event (attributes, resource, ids) as a `<div>`, with copy as JSON. */
export function eventDetails(event) {
  const box = element('div', 'details');
  const ts = parseTime(event.ts);
  const facts = [
    ['time', fullTime(ts, event.ts)],
    ['cursor', event.id],
    ['trace_id', event.trace_id || '—'],
    ['span_id', event.span_id || '—'],
    ['severity', String(event.severity)],
  ];
  box.append(table('event', facts));
  box.append(table('attributes', Object.entries(event.attributes || {}).map(jsonPair)));
  box.append(table('resource', Object.entries(event.resource || {}).map(jsonPair)));
  const copy = element('button', 'copy', 'Copy as JSON');
  copy.type = 'button';
  copy.addEventListener('click', async (click) => {
    click.stopPropagation();
    const done = await copyText(JSON.stringify(event, null, 2));
    copy.textContent = done ? 'Copied' : 'Copy failed';
  });
  box.append(copy);
  return box;
}

function jsonPair([key, value]) {
  return [key, typeof value === 'string' ? value : JSON.stringify(value)];
}

function table(caption, pairs) {
  const node = element('table', 'pairs');
  node.append(element('caption', '', caption));
  if (pairs.length === 0) {
    const row = node.insertRow();
    row.append(element('td', 'empty', 'none'));
  }
  for (const [key, value] of pairs) {
    const row = node.insertRow();
    row.append(element('th', '', key), element('td', '', value));
  }
  return node;
}
