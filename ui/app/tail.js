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
    /** Set by `stop`: `apply` with the same filters resumes after `lastId`. */
    this.stopped = false;
    this.lastId = null;
    this.startFrom = {};
    /** Hands the events of one frame to the rows at once, then updates the counts. */
    this.scheduleFlush = onNextFrame(() => {
      this.rows.add(this.incoming);
      this.incoming = [];
      this.updateCounts();
    });
  }

  /**
   * Shows `state`'s filters; restarts the stream only when they changed. After `stop` with the
   * same filters the stream resumes after the last event received: rows, pause and held events
   * stay as they were.
   */
  apply(state) {
    const newestFirst = state.order !== 'asc';
    if (newestFirst !== this.rows.newestFirst) this.rows.setOrder(newestFirst);
    if (state.limit !== this.rows.limit) this.rows.setLimit(state.limit);
    this.updateCounts();
    const filters = streamFilters(state);
    const key = JSON.stringify(filters);
    if (key !== this.filterKey) {
      this.filterKey = key;
      this.restart(filters);
    } else if (this.stopped) {
      this.generation += 1;
      this.connect(filters, this.lastId ? { lastEventId: this.lastId } : this.startFrom);
    }
  }

  async restart(filters) {
    const generation = ++this.generation;
    if (this.stream) this.stream.close();
    this.stream = null;
    this.stopped = false;
    this.lastId = null;
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
    this.startFrom = {};
    if (events.length > 0) {
      this.lastId = events[events.length - 1].id;
    } else if (history && history.next === null) {
      // Nothing matching is stored: replay from the start catches what arrived meanwhile.
      this.startFrom = { since: '0' };
    }
    this.connect(filters, this.lastId ? { lastEventId: this.lastId } : this.startFrom);
    this.updateCounts();
  }

  /** Opens the stream of `filters`, from `lastEventId` or with extra filters (`since`). */
  connect(filters, { lastEventId, ...from }) {
    this.stopped = false;
    const options = { filters: { ...filters, ...from } };
    if (lastEventId) options.lastEventId = lastEventId;
    this.stream = new TracetailStream('/v1/stream', {
      ...options,
      onEvent: (event) => this.received(event),
      onStatus: (status) => this.status.show(status),
    });
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
    this.lastId = event.id;
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

  /** Stops the stream (the view is hidden); `apply` resumes it. */
  stop() {
    this.generation += 1;
    if (this.stream) this.stream.close();
    // Still loading history: nothing to resume from, so the next `apply` starts afresh.
    if (!this.stream && !this.stopped) this.filterKey = null;
    this.stream = null;
    this.stopped = true;
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
