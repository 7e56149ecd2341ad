// The trace view: one trace's spans as a waterfall and its logs in time order, kept live by a
// `trace_id` stream (the hub replays the whole stored trace first, then continues live).

import { TracetailStream } from '/tracetail.js';
import { rowCells } from './rows.js';
import { duration, element, eventDetails, onNextFrame, parseTime, serviceHue } from './format.js';

export class TraceView {
  /** `elements`: `title`, `waterfall`, `logs`, `summary`; `status`: the `ConnectionStatus`. */
  constructor(elements, { status }) {
    this.elements = elements;
    this.status = status;
    this.stream = null;
    this.schedule = onNextFrame(() => this.render());
    this.reset(null);
    elements.logs.addEventListener('click', (click) => this.clicked(click));
    elements.logs.addEventListener('keydown', (key) => {
      if ((key.key === 'Enter' || key.key === ' ') && key.target.classList.contains('row')) {
        key.preventDefault();
        this.toggle(key.target);
      }
    });
  }

  reset(traceId) {
    this.traceId = traceId;
    this.spans = new Map();
    this.logs = [];
    this.logIds = new Set();
  }

  /** Shows trace `traceId` (32 hex), live. */
  open(traceId) {
    if (traceId === this.traceId && this.stream) return;
    this.close();
    this.reset(traceId);
    this.elements.title.textContent = traceId;
    this.status.clearBanners();
    this.render();
    this.stream = new TracetailStream('/v1/stream', {
      filters: { trace_id: traceId },
      onEvent: (event) => this.received(event),
      onStatus: (status) => this.status.show(status),
    });
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

  /** Adds one log event (event JSON of the wire contract). */
  addLog(event) {
    if (this.logIds.has(event.id)) return;
    this.logIds.add(event.id);
    this.logs.push({ event, ms: parseTime(event.ts) });
    this.schedule();
  }

  /** Adds or replaces one span (span JSON of the wire contract). */
  addSpan(span) {
    this.spans.set(span.span_id, {
      span,
      start: parseTime(span.start),
      end: parseTime(span.end),
    });
    this.schedule();
  }

  render() {
    this.logs.sort((a, b) => a.ms - b.ms || compareIds(a.event.id, b.event.id));
    const services = new Set([...this.spans.values()].map((entry) => entry.span.service));
    for (const { event } of this.logs) services.add(event.service);
    const { summary } = this.elements;
    summary.textContent = `${this.spans.size} spans · ${this.logs.length} logs · ` +
      `${services.size} services`;
    this.renderWaterfall();
    this.renderLogs();
  }

  renderWaterfall() {
    const { waterfall } = this.elements;
    if (this.spans.size === 0) {
      waterfall.replaceChildren(element('p', 'empty', 'No spans of this trace are stored (yet).'));
      return;
    }
    const ordered = treeOrder([...this.spans.values()]);
    const begin = Math.min(...ordered.map(({ entry }) => entry.start));
    const finish = Math.max(...ordered.map(({ entry }) => entry.end));
    const total = Math.max(finish - begin, 1e-6);
    const logsBySpan = new Map();
    for (const log of this.logs) {
      if (!log.event.span_id) continue;
      if (!logsBySpan.has(log.event.span_id)) logsBySpan.set(log.event.span_id, []);
      logsBySpan.get(log.event.span_id).push(log);
    }

    const rows = ordered.map(({ entry, depth }) => {
      const { span, start, end } = entry;
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
      for (const log of logsBySpan.get(span.span_id) || []) {
        const tick = element('div', `span-log level-${log.event.level}`);
        tick.style.left = `${((log.ms - begin) / total) * 100}%`;
        tick.title = `${log.event.level} ${log.event.message}`;
        lane.append(tick);
      }
      const offset = element('span', 'span-offset', `+${duration(start - begin)}`);
      const length = element('span', 'span-duration', duration(span.duration_ms ?? end - start));
      row.append(label, lane, offset, length);
      return row;
    });
    waterfall.replaceChildren(...rows);
  }

  renderLogs() {
    const { logs } = this.elements;
    const nodes = this.logs.map(({ event, ms }) => {
      const row = element('div', 'row');
      row.tabIndex = 0;
      row.setAttribute('role', 'row');
      row.dataset.id = event.id;
      const span = this.spans.get(event.span_id);
      const cells = rowCells(event, ms);
      // In a trace view the trace column names the span instead.
      cells[3] = element('span', 'trace', span ? span.span.name : (event.span_id || '—').slice(0, 8));
      row.append(...cells);
      if (this.expanded === event.id) {
        row.classList.add('expanded');
        row.append(eventDetails(event));
      }
      return row;
    });
    if (nodes.length === 0) nodes.push(element('p', 'empty', 'No logs of this trace are stored (yet).'));
    logs.replaceChildren(...nodes);
  }

  clicked(click) {
    if (click.target.closest('a, button, .details')) return;
    const row = click.target.closest('.row');
    if (row) this.toggle(row);
  }

  toggle(row) {
    this.expanded = this.expanded === row.dataset.id ? null : row.dataset.id;
    this.render();
    const again = this.elements.logs.querySelector(`.row[data-id="${CSS.escape(row.dataset.id)}"]`);
    if (again) again.focus();
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
