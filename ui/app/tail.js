// The live tail: recent history first, then the live stream resumed exactly after it; pause
// holds arriving events and resume flushes them.

import { TracetailStream } from '/tracetail.js';
import { onNextFrame } from './format.js';
import { RowList } from './rows.js';

/** Events of recent history shown when a view opens. */
const HISTORY = 200;

/** The stream filters of a view state, as query parameters. */
export function streamFilters(state) {
  return { service: state.service, level: state.level, q: state.q, trace_id: state.trace_id };
}

export class TailView {
  /**
   * `elements` holds the view's nodes (`viewport`, `count`, `held`, `pause`); `status` is the
   * shared `ConnectionStatus`; `onService` narrows the view to a service.
   */
  constructor(elements, { status, onService, limit, newestFirst }) {
    this.elements = elements;
    this.status = status;
    this.rows = new RowList(elements.viewport, { limit, newestFirst, onService });
    this.stream = null;
    this.generation = 0;
    this.paused = false;
    this.held = [];
    this.heldTotal = 0;
    this.incoming = [];
    this.filterKey = null;
    /** Hands the events of one frame to the rows at once, then updates the counts. */
    this.scheduleFlush = onNextFrame(() => {
      this.rows.add(this.incoming);
      this.incoming = [];
      this.updateCounts();
    });
  }

  /** Shows `state`'s filters; restarts the stream only when they changed. */
  apply(state) {
    this.rows.setOrder(state.order !== 'asc');
    if (state.limit !== this.rows.limit) this.rows.setLimit(state.limit);
    const key = JSON.stringify(streamFilters(state));
    if (key === this.filterKey) return;
    this.filterKey = key;
    this.restart(streamFilters(state));
  }

  async restart(filters) {
    const generation = ++this.generation;
    if (this.stream) this.stream.close();
    this.stream = null;
    this.rows.clear();
    this.held = [];
    this.heldTotal = 0;
    this.incoming = [];
    this.status.clearBanners();
    this.updateCounts();

    const history = await this.history(filters);
    if (generation !== this.generation) return;
    const events = history ? history.events.slice().reverse() : [];
    this.rows.add(events);
    const options = { filters: { ...filters } };
    if (events.length > 0) {
      options.lastEventId = events[events.length - 1].id;
    } else if (history && history.next === null) {
      // Nothing matching is stored: replay from the start catches what arrived meanwhile.
      options.filters.since = '0';
    }
    this.stream = new TracetailStream('/v1/stream', {
      ...options,
      onEvent: (event) => this.received(event),
      onStatus: (status) => this.status.show(status),
    });
    this.updateCounts();
  }

  async history(filters) {
    const query = new URLSearchParams({ limit: String(HISTORY), order: 'desc' });
    for (const [key, value] of Object.entries(filters)) if (value) query.set(key, value);
    try {
      const response = await fetch(`/v1/logs?${query}`);
      if (!response.ok) return null;
      return await response.json();
    } catch {
      return null;
    }
  }

  received(message) {
    if (message.type === 'gap') {
      this.status.gap(message.json());
      return;
    }
    if (message.type !== 'log') return;
    const event = message.json();
    if (this.paused) {
      this.held.push(event);
      this.heldTotal += 1;
      // Only the newest `limit` held events can ever be shown.
      if (this.held.length > this.rows.limit * 2) this.held.splice(0, this.held.length - this.rows.limit);
    } else {
      this.incoming.push(event);
    }
    this.scheduleFlush();
  }

  /** Stops the stream (the view is hidden); `apply` starts it again. */
  stop() {
    this.generation += 1;
    if (this.stream) this.stream.close();
    this.stream = null;
    this.filterKey = null;
  }

  setPaused(paused) {
    this.paused = paused;
    if (!paused) {
      this.rows.add(this.incoming.concat(this.held));
      this.incoming = [];
      this.held = [];
      this.heldTotal = 0;
    }
    this.updateCounts();
  }

  clear() {
    this.rows.clear();
    this.incoming = [];
    this.held = [];
    this.heldTotal = 0;
    this.updateCounts();
  }

  updateCounts() {
    const { count, held, pause } = this.elements;
    const rows = this.rows.count;
    count.textContent = `${rows.toLocaleString()} ${rows === 1 ? 'row' : 'rows'}`;
    held.textContent = this.paused ? `${this.heldTotal.toLocaleString()} held` : '';
    pause.textContent = this.paused ? 'Resume' : 'Pause';
    pause.setAttribute('aria-pressed', String(this.paused));
  }
}
