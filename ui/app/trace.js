// The trace view: one trace's spans as a waterfall and its logs in time order, kept live by a
// `trace_id` stream (the hub replays the whole stored trace first, then continues live).

import { TracetailStream } from '/tracetail.js';
import { RowList, rowCells } from './rows.js';
import { duration, element, onNextFrame, parseTime, serviceHue } from './format.js';

/** A trace id as the hub takes it. */
const TRACE_ID = /^[0-9a-f]{32}$/;

/** Ticks of logs in one span's lane are merged per this share of the trace's duration. */
const TICK_BIN = 1 / 400;

export class TraceView {
  /**
   * `elements`: `title`, `waterfall`, `logs` (the scrolling log list), `noLogs` (shown while
   * there are none), `summary`; `status`: the
   * `ConnectionStatus`; `onService` shows the live tail of a service.
   */
  constructor(elements, { status, onService }) {
    this.elements = elements;
    this.status = status;
    this.stream = null;
    this.rows = new RowList(elements.logs, {
      limit: Infinity,
      newestFirst: false,
      follow: false,
      onService,
      cells: (event, ms) => this.cells(event, ms),
      compare: (a, b) => a.ms - b.ms || compareIds(a.event.id, b.event.id),
    });
    this.schedule = onNextFrame(() => this.render());
    this.reset(null);
  }

  reset(traceId) {
    this.traceId = traceId;
    this.spans = new Map();
    this.logIds = new Set();
    this.services = new Set();
    /** Logs by span id, for the ticks in the span lanes. */
    this.logsBySpan = new Map();
    /** Logs not yet handed to the rows, and what of the waterfall must be drawn again. */
    this.incoming = [];
    this.spansChanged = true;
    this.changedLanes = new Set();
    this.lanes = new Map();
    this.rows.clear();
  }

  /** Shows trace `traceId` (32 hex), live. */
  open(traceId) {
    if (traceId === this.traceId && this.stream) return;
    this.close();
    this.reset(traceId);
    this.elements.title.textContent = traceId;
    this.status.clearBanners();
    if (!TRACE_ID.test(traceId)) {
      this.invalid(traceId);
      return;
    }
    this.render();
    this.stream = new TracetailStream('/v1/stream', {
      filters: { trace_id: traceId },
      onEvent: (event) => this.received(event),
      onStatus: (status) => this.status.show(status),
    });
  }

  /** Says that `text` (from the URL) is no trace id, instead of showing an empty trace. */
  invalid(text) {
    const { summary, waterfall, noLogs } = this.elements;
    summary.textContent = 'not a trace id';
    const message = element('p', 'empty',
      `“${text}” is not a trace id: a trace id is 32 hex digits.`);
    message.setAttribute('role', 'alert');
    waterfall.replaceChildren(message);
    noLogs.hidden = true;
  }

  close() {
    if (this.stream) this.stream.close();
    this.stream = null;
  }

  received(message) {
    if (message.type === 'log') this.addLog(message.json());
    else if (message.type === 'span') this.addSpan(message.json());
    else if (message.type === 'gap') this.status.gap(message.json());
  }

  /** Adds one log event (event JSON of the wire contract); shown on the next frame. */
  addLog(event) {
    if (this.logIds.has(event.id)) return;
    this.logIds.add(event.id);
    this.services.add(event.service);
    this.incoming.push(event);
    if (event.span_id) {
      if (!this.logsBySpan.has(event.span_id)) this.logsBySpan.set(event.span_id, []);
      this.logsBySpan.get(event.span_id).push({ event, ms: parseTime(event.ts) });
      this.changedLanes.add(event.span_id);
    }
    this.schedule();
  }

  /** Adds or replaces one span (span JSON of the wire contract); shown on the next frame. */
  addSpan(span) {
    this.spans.set(span.span_id, {
      span,
      start: parseTime(span.start),
      end: parseTime(span.end),
    });
    this.services.add(span.service);
    this.spansChanged = true;
    this.schedule();
  }

  /** Draws what changed since the last frame: new log rows, new spans, new ticks. */
  render() {
    const { summary } = this.elements;
    const logs = this.logIds.size;
    summary.textContent =
      `${this.spans.size} spans · ${logs} logs · ${this.services.size} services`;
    this.rows.add(this.incoming);
    this.incoming = [];
    this.elements.noLogs.hidden = logs > 0;

    if (this.spansChanged) {
      // Log rows name their span: a new span can rename rows already shown.
      this.rows.refresh();
      this.renderWaterfall();
    } else {
      for (const spanId of this.changedLanes) this.renderTicks(spanId);
    }
    this.spansChanged = false;
    this.changedLanes.clear();
  }

  /** Builds the waterfall again, one row per span in tree order; only when spans change. */
  renderWaterfall() {
    const { waterfall } = this.elements;
    this.lanes = new Map();
    if (this.spans.size === 0) {
      waterfall.replaceChildren(element('p', 'empty', 'No spans of this trace are stored (yet).'));
      return;
    }
    const ordered = treeOrder([...this.spans.values()]);
    const begin = Math.min(...ordered.map(({ entry }) => entry.start));
    const finish = Math.max(...ordered.map(({ entry }) => entry.end));
    this.range = { begin, total: Math.max(finish - begin, 1e-6) };

    const rows = ordered.map(({ entry, depth }) => this.spanRow(entry, depth));
    waterfall.replaceChildren(...rows);
    for (const spanId of this.lanes.keys()) this.renderTicks(spanId);
  }

  spanRow({ span, start, end }, depth) {
    const { begin, total } = this.range;
    const row = element('div', 'span-row');
    row.dataset.spanId = span.span_id;
    row.style.setProperty('--hue', serviceHue(span.service));
    const label = element('div', 'span-label');
    label.style.paddingLeft = `${depth * 14}px`;
    label.append(element('span', 'span-service', span.service), element('span', 'span-name', span.name));
    const lane = element('div', 'span-lane');
    const bar = element('div', 'span-bar');
    if (span.status && span.status.code === 'ERROR') bar.classList.add('error');
    bar.style.left = `${((start - begin) / total) * 100}%`;
    bar.style.width = `${Math.max(((end - start) / total) * 100, 0.2)}%`;
    bar.title = `${span.name} (${span.kind || 'UNSPECIFIED'}): ${duration(end - start)}` +
      (span.status && span.status.message ? ` — ${span.status.message}` : '');
    lane.append(bar);
    this.lanes.set(span.span_id, { lane, bar });
    const offset = element('span', 'span-offset', `+${duration(start - begin)}`);
    const length = element('span', 'span-duration', duration(span.duration_ms ?? end - start));
    row.append(label, lane, offset, length);
    return row;
  }

  /**
   * Draws the log ticks in one span's lane. Logs close in time share a tick (the most severe
   * level shows), so a span with thousands of logs still has a few hundred nodes at most.
   */
  renderTicks(spanId) {
    const place = this.lanes.get(spanId);
    if (!place) return;
    const { begin, total } = this.range;
    const bins = new Map();
    for (const log of this.logsBySpan.get(spanId) || []) {
      const bin = Math.round((log.ms - begin) / total / TICK_BIN);
      const seen = bins.get(bin);
      if (!seen) bins.set(bin, { log, count: 1 });
      else {
        seen.count += 1;
        if (log.event.severity > seen.log.event.severity) seen.log = log;
      }
    }
    const ticks = [...bins.values()].map(({ log, count }) => {
      const tick = element('div', `span-log level-${log.event.level}`);
      tick.style.left = `${((log.ms - begin) / total) * 100}%`;
      tick.title = count === 1 ? `${log.event.level} ${log.event.message}`
        : `${count} logs, the most severe: ${log.event.level} ${log.event.message}`;
      return tick;
    });
    place.lane.replaceChildren(place.bar, ...ticks);
  }

  /** A log row's cells; in a trace view the trace column names the span instead. */
  cells(event, ms) {
    const cells = rowCells(event, ms);
    const span = this.spans.get(event.span_id);
    cells[3] = element('span', 'trace', span ? span.span.name : (event.span_id || '—').slice(0, 8));
    return cells;
  }
}

/** Cursors compare by length, then text (`epoch-seq` with a growing number). */
function compareIds(a, b) {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

/** Spans depth-first from the roots, children by start time; orphans count as roots. */
function treeOrder(entries) {
  const byId = new Map(entries.map((entry) => [entry.span.span_id, entry]));
  const children = new Map();
  const roots = [];
  for (const entry of entries) {
    const parent = entry.span.parent_span_id;
    if (parent && byId.has(parent) && parent !== entry.span.span_id) {
      if (!children.has(parent)) children.set(parent, []);
      children.get(parent).push(entry);
    } else {
      roots.push(entry);
    }
  }
  const byStart = (a, b) => a.start - b.start;
  const ordered = [];
  const seen = new Set();
  const visit = (entry, depth) => {
    if (seen.has(entry.span.span_id)) return;
    seen.add(entry.span.span_id);
    ordered.push({ entry, depth });
    for (const child of (children.get(entry.span.span_id) || []).sort(byStart)) visit(child, depth + 1);
  };
  for (const root of roots.sort(byStart)) visit(root, 0);
  return ordered;
}
