// The page: view state kept in the URL (so a view is a shareable link), client-side routing
// between the live tail (`/`) and the trace view (`/trace/{trace_id}`), and the filter bar.

import { LEVELS, zoneLabel } from './format.js';
import { ConnectionStatus } from './status.js';
import { TailView } from './tail.js';
import { TraceView } from './trace.js';

/** Rows kept by default; `limit` in the URL changes it, within `MIN_LIMIT`..`MAX_LIMIT`. */
const DEFAULT_LIMIT = 10000;
const MIN_LIMIT = 100;
const MAX_LIMIT = 200000;
/** How often the service list is refreshed, ms. */
const SERVICES_EVERY_MS = 10000;

const $ = (id) => document.getElementById(id);

/** A row limit typed or linked, within the bounds; `DEFAULT_LIMIT` when not a number. */
function rowLimit(text) {
  const limit = Number.parseInt(text || '', 10);
  if (Number.isNaN(limit)) return DEFAULT_LIMIT;
  return Math.min(Math.max(limit, MIN_LIMIT), MAX_LIMIT);
}

/**
 * The view state in a URL: filters, order, row limit, and the open trace (whatever follows
 * `/trace/`; the trace view tells when it is no trace id). Unknown levels mean any level.
 */
function readState(location) {
  const query = new URLSearchParams(location.search);
  const trace = /^\/trace\/([^/]+)\/?$/.exec(location.pathname);
  const level = (query.get('level') || '').toUpperCase();
  return {
    service: query.get('service') || '',
    level: LEVELS.includes(level) ? level : '',
    q: query.get('q') || '',
    trace_id: (query.get('trace_id') || '').toLowerCase(),
    order: query.get('order') === 'asc' ? 'asc' : 'desc',
    limit: rowLimit(query.get('limit')),
    openTrace: trace ? trace[1].toLowerCase() : null,
  };
}

function stateUrl(state) {
  const query = new URLSearchParams();
  for (const key of ['service', 'level', 'q', 'trace_id']) if (state[key]) query.set(key, state[key]);
  if (state.order === 'asc') query.set('order', 'asc');
  if (state.limit !== DEFAULT_LIMIT) query.set('limit', String(state.limit));
  const path = state.openTrace ? `/trace/${state.openTrace}` : '/';
  const search = query.toString();
  return search ? `${path}?${search}` : path;
}

let state = readState(window.location);
const status = new ConnectionStatus($('connection'), $('banners'));
const tail = new TailView(
  { viewport: $('rows'), count: $('row-count'), held: $('held-count'), pause: $('pause') },
  {
    status,
    limit: state.limit,
    newestFirst: state.order !== 'asc',
    onService: (service) => change({ service }),
  },
);
const trace = new TraceView(
  {
    title: $('trace-id'), waterfall: $('waterfall'), logs: $('trace-logs'),
    noLogs: $('trace-no-logs'), summary: $('trace-summary'),
  },
  { status, onService: (service) => change({ service, openTrace: null }, { push: true }) },
);

/** Applies a change to the view state, records it in the URL, and shows it. */
function change(patch, { push = false } = {}) {
  state = { ...state, ...patch };
  const url = stateUrl(state);
  if (push) window.history.pushState(null, '', url);
  else window.history.replaceState(null, '', url);
  show();
}

function show() {
  $('service').value = state.service;
  if ($('service').value !== state.service) addServiceOption(state.service);
  $('service').value = state.service;
  $('level').value = state.level;
  if (document.activeElement !== $('q')) $('q').value = state.q;
  if (document.activeElement !== $('trace-filter')) $('trace-filter').value = state.trace_id;
  $('order').value = state.order;
  $('limit').value = String(state.limit);

  const tracing = state.openTrace !== null;
  $('tail-view').hidden = tracing;
  $('trace-view').hidden = !tracing;
  if (tracing) {
    tail.stop();
    trace.open(state.openTrace);
    document.title = `trace ${state.openTrace.slice(0, 8)} — tracetail`;
  } else {
    trace.close();
    trace.traceId = null;
    tail.apply(state);
    document.title = 'tracetail';
  }
}

function addServiceOption(name) {
  if (!name) return;
  const option = document.createElement('option');
  option.value = name;
  option.textContent = name;
  $('service').append(option);
}

async function refreshServices() {
  try {
    const response = await fetch('/v1/services');
    if (!response.ok) return;
    const { services } = await response.json();
    const select = $('service');
    const options = [new Option('all services', '')];
    for (const service of services) {
      const label = `${service.name} (${service.count.toLocaleString()})`;
      const option = new Option(label, service.name);
      option.title = `last seen ${new Date(service.last_seen).toLocaleString()}`;
      options.push(option);
    }
    if (state.service && !services.some((service) => service.name === state.service)) {
      options.push(new Option(state.service, state.service));
    }
    select.replaceChildren(...options);
    select.value = state.service;
  } catch {
    // The connection indicator already tells when the hub is unreachable.
  }
}

function bindFilters() {
  document.querySelector('form.filters').addEventListener('submit', (submit) => submit.preventDefault());
  for (const level of LEVELS) $('level').append(new Option(`${level} and above`, level));
  // The filters apply to the live tail: changed in a trace view, they go back to it.
  const filter = (patch) => {
    change({ ...patch, openTrace: null }, { push: state.openTrace !== null });
  };
  $('service').addEventListener('change', () => filter({ service: $('service').value }));
  $('service').addEventListener('focus', refreshServices);
  $('level').addEventListener('change', () => filter({ level: $('level').value }));
  $('order').addEventListener('change', () => change({ order: $('order').value }));
  $('limit').addEventListener('change', () => change({ limit: rowLimit($('limit').value) }));
  let typing = null;
  $('q').addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(() => filter({ q: $('q').value.trim() }), 300);
  });
  $('trace-filter').addEventListener('change', () => {
    const value = $('trace-filter').value.trim().toLowerCase();
    if (value === '' || /^[0-9a-f]{32}$/.test(value)) {
      $('trace-filter').setCustomValidity('');
      filter({ trace_id: value });
    } else {
      $('trace-filter').setCustomValidity('a trace id is 32 hex digits');
      $('trace-filter').reportValidity();
    }
  });
  $('pause').addEventListener('click', () => tail.setPaused(!tail.paused));
  $('clear').addEventListener('click', () => tail.clear());
  $('reset-filters').addEventListener('click', () => {
    filter({ service: '', level: '', q: '', trace_id: '' });
  });
}

function bindNavigation() {
  document.addEventListener('click', (click) => {
    const link = click.target.closest('a[href]');
    if (!link || click.ctrlKey || click.metaKey || click.shiftKey || click.button !== 0) return;
    const url = new URL(link.href);
    if (url.origin !== window.location.origin) return;
    const opened = /^\/trace\/([0-9a-f]{32})$/.exec(url.pathname);
    if (opened) {
      click.preventDefault();
      change({ openTrace: opened[1] }, { push: true });
    } else if (url.pathname === '/') {
      click.preventDefault();
      change({ openTrace: null }, { push: true });
    }
  });
  window.addEventListener('popstate', () => {
    state = readState(window.location);
    show();
  });
  document.addEventListener('keydown', (key) => {
    const typing = key.target.closest('input, select, textarea');
    if (key.key === '/' && !typing) {
      key.preventDefault();
      $('q').focus();
    } else if (key.key === 'Escape' && state.openTrace) {
      change({ openTrace: null }, { push: true });
    }
  });
}

for (const zone of document.querySelectorAll('.zone')) zone.textContent = `Times in ${zoneLabel()}`;
bindFilters();
bindNavigation();
show();
refreshServices();
setInterval(refreshServices, SERVICES_EVERY_MS);

// A handle for the browser console (and the browser tests): the two views.
window.tracetail = { tail, trace, get state() { return state; } };
