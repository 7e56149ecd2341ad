// The row list of the live tail: bounded, windowed (only the rows in view exist in the DOM),
// newest-first or oldest-first, following the newest row only while the reader is there.

import {
  LEVELS, clockTime, element, eventDetails, fullTime, isToday, onNextFrame, parseTime, serviceHue,
} from './format.js';

/** Height of a collapsed row in CSS pixels; `--row-height` in style.css must agree. */
const ROW_HEIGHT = 24;
/** Rows rendered above and below the visible ones. */
const OVERSCAN = 6;
/** The shortest time between two renders caused by arriving events, ms. */
const DATA_RENDER_MS = 100;

export class RowList {
  /**
   * `viewport` scrolls; `limit` bounds the rows kept (oldest dropped first); `onService` is
   * called when a row's service is chosen. `cells(event, ms)` builds a row's cells (default
   * `rowCells`); `compare`, when given, keeps the rows sorted by it rather than by arrival;
   * `follow` (default true) starts the list following the newest row.
   */
  constructor(viewport, {
    limit, newestFirst, onService, cells = rowCells, compare = null, follow = true,
  }) {
    this.viewport = viewport;
    this.limit = limit;
    this.newestFirst = newestFirst;
    this.onService = onService;
    this.cells = cells;
    this.compare = compare;
    this.followAtStart = follow;
    /** Every kept event, oldest first, each `{event, ms}`. */
    this.rows = [];
    this.expandedId = null;
    this.expandedExtra = 0;
    this.focusId = null;
    this.following = follow;
    this.pendingShift = 0;
    /** Renders on the next frame (scrolling, keys, clicks). */
    this.schedule = onNextFrame(() => this.render());
    this.dataTimer = null;
    this.lastRender = 0;
    this.spacer = element('div', 'spacer');
    this.viewport.append(this.spacer);
    this.pool = [];
    viewport.addEventListener('scroll', () => {
      this.following = this.atNewest();
      this.schedule();
    });
    viewport.addEventListener('click', (click) => this.clicked(click));
    viewport.addEventListener('keydown', (key) => this.key(key));
    new ResizeObserver(() => this.schedule()).observe(viewport);
  }

  /** Appends events (oldest first) and drops the oldest beyond the limit. */
  add(events) {
    if (events.length === 0) return;
    const before = this.rows.length;
    for (const event of events) this.rows.push({ event, ms: parseTime(event.ts) });
    if (this.compare && !sortedFrom(this.rows, before, this.compare)) this.rows.sort(this.compare);
    const dropped = Math.max(0, this.rows.length - this.limit);
    if (dropped > 0) this.rows.splice(0, dropped);
    // Keep what the reader looks at in place when rows come or go above it.
    if (!this.pinnedToNewest()) {
      const shift = this.newestFirst ? events.length - Math.min(dropped, events.length) : -dropped;
      this.pendingShift += shift * ROW_HEIGHT;
    }
    this.scheduleData();
  }

  clear() {
    this.rows = [];
    this.expandedId = null;
    this.following = this.followAtStart;
    this.schedule();
  }

  /** Builds the shown rows' cells again on the next frame (what `cells` shows has changed). */
  refresh() {
    for (const node of this.pool) node.stale = true;
    this.schedule();
  }

  setLimit(limit) {
    this.limit = limit;
    if (this.rows.length > limit) this.rows.splice(0, this.rows.length - limit);
    this.schedule();
  }

  setOrder(newestFirst) {
    this.newestFirst = newestFirst;
    this.following = true;
    this.schedule();
  }

  get count() {
    return this.rows.length;
  }

  /**
   * Whether the view scrolls along with arriving rows: only while the reader is at the newest
   * row, has no row expanded and no row focused (a row the reader works with stays where it is,
   * under the reader's eyes).
   */
  pinnedToNewest() {
    const focused = document.activeElement;
    const rowFocused = focused !== null && focused.parentElement === this.spacer;
    return this.following && this.expandedId === null && !rowFocused;
  }

  atNewest() {
    const { scrollTop, clientHeight, scrollHeight } = this.viewport;
    if (this.newestFirst) return scrollTop <= ROW_HEIGHT / 2;
    return scrollTop + clientHeight >= scrollHeight - ROW_HEIGHT / 2;
  }


  /**
   * Renders arriving rows at most every `DATA_RENDER_MS`: under a flood of events most frames
   * then only run the browser's own work, and the list still updates ten times a second.
   */
  scheduleData() {
    if (this.schedule.pending() || this.dataTimer) return;
    const wait = this.lastRender + DATA_RENDER_MS - performance.now();
    if (wait <= 0) {
      this.schedule();
      return;
    }
    this.dataTimer = setTimeout(() => {
      this.dataTimer = null;
      this.schedule();
    }, wait);
  }

  /** The row at display position `position` (0 is the top). */
  rowAt(position) {
    const index = this.newestFirst ? this.rows.length - 1 - position : position;
    return this.rows[index];
  }

  positionOf(id) {
    const index = this.rows.findIndex((row) => row.event.id === id);
    if (index < 0) return -1;
    return this.newestFirst ? this.rows.length - 1 - index : index;
  }

  topOf(position, expandedPosition) {
    const extra = expandedPosition >= 0 && position > expandedPosition ? this.expandedExtra : 0;
    return position * ROW_HEIGHT + extra;
  }

  render() {
    this.lastRender = performance.now();
    const viewport = this.viewport;
    const expandedPosition = this.expandedId === null ? -1 : this.positionOf(this.expandedId);
    if (expandedPosition < 0) this.expandedExtra = 0;
    const total = this.rows.length * ROW_HEIGHT + this.expandedExtra;
    this.spacer.style.height = `${total}px`;

    if (this.pinnedToNewest()) {
      viewport.scrollTop = this.newestFirst ? 0 : total;
    } else if (this.pendingShift) {
      viewport.scrollTop += this.pendingShift;
    }
    this.pendingShift = 0;

    const top = viewport.scrollTop;
    const first = Math.max(0, Math.floor((top - this.expandedExtra) / ROW_HEIGHT) - OVERSCAN);
    const visible = Math.ceil(viewport.clientHeight / ROW_HEIGHT) + 2 * OVERSCAN;
    const last = Math.min(this.rows.length - 1, first + visible + (this.expandedExtra ? visible : 0));
    // Nodes that already show an event in range keep it; only new rows are built.
    const wanted = new Map();
    let dated = false;
    for (let position = first; position <= last; position++) {
      const row = this.rowAt(position);
      wanted.set(row.event.id, position);
      dated ||= !isToday(row.ms);
    }
    // A time not from today carries its date: the time column widens for it (and its header).
    viewport.parentElement.classList.toggle('dated', dated);
    const free = [];
    const shown = new Map();
    for (const node of this.pool) {
      if (!node.hidden && wanted.has(node.dataset.id)) shown.set(node.dataset.id, node);
      else free.push(node);
    }
    for (const [id, position] of wanted) {
      const node = shown.get(id) || free.pop() || this.newNode();
      node.hidden = false;
      this.fill(node, this.rowAt(position), position === expandedPosition);
      const y = this.topOf(position, expandedPosition);
      if (node.y !== y) {
        node.y = y;
        node.style.transform = `translateY(${y}px)`;
      }
    }
    for (const node of free) node.hidden = true;

    if (expandedPosition >= 0) this.measureExpanded();
  }

  /** Rows grow when expanded; their real height moves every row below. */
  measureExpanded() {
    const node = this.pool.find((candidate) => !candidate.hidden && candidate.dataset.id === this.expandedId);
    if (!node) return;
    const extra = node.offsetHeight - ROW_HEIGHT;
    if (extra !== this.expandedExtra) {
      this.expandedExtra = extra;
      this.schedule();
    }
  }

  newNode() {
    const node = element('div', 'row');
    node.setAttribute('role', 'row');
    node.tabIndex = -1;
    this.spacer.append(node);
    this.pool.push(node);
    return node;
  }

  fill(node, row, expanded) {
    const event = row.event;
    const focused = event.id === this.focusId;
    if (!node.stale && node.dataset.id === event.id && node.classList.contains('expanded') === expanded) {
      node.tabIndex = focused ? 0 : -1;
      return;
    }
    node.stale = false;
    node.dataset.id = event.id;
    node.classList.toggle('expanded', expanded);
    node.setAttribute('aria-expanded', String(expanded));
    node.tabIndex = focused ? 0 : -1;
    node.replaceChildren(...this.cells(event, row.ms));
    if (expanded) node.append(eventDetails(event));
  }

  clicked(click) {
    const service = click.target.closest('.service');
    if (service) {
      this.onService(service.textContent);
      return;
    }
    if (click.target.closest('a, button, .details')) return;
    const node = click.target.closest('.row');
    if (node) this.toggle(node.dataset.id);
  }

  toggle(id) {
    this.focusId = id;
    this.expandedId = this.expandedId === id ? null : id;
    this.expandedExtra = 0;
    this.render();
    this.focusRow();
  }

  key(key) {
    if (key.target.closest('.details, a, button')) return;
    const moves = { ArrowDown: 1, ArrowUp: -1, PageDown: 20, PageUp: -20 };
    let position = this.focusId === null ? -1 : this.positionOf(this.focusId);
    if (key.key in moves) {
      position = Math.max(0, Math.min(this.rows.length - 1, position + moves[key.key]));
    } else if (key.key === 'Home') {
      position = 0;
    } else if (key.key === 'End') {
      position = this.rows.length - 1;
    } else if ((key.key === 'Enter' || key.key === ' ') && this.focusId !== null) {
      key.preventDefault();
      this.toggle(this.focusId);
      return;
    } else {
      return;
    }
    key.preventDefault();
    const row = this.rowAt(position);
    if (!row) return;
    this.focusId = row.event.id;
    this.scrollIntoView(position);
    this.render();
    this.focusRow();
  }

  scrollIntoView(position) {
    const expandedPosition = this.expandedId === null ? -1 : this.positionOf(this.expandedId);
    const top = this.topOf(position, expandedPosition);
    const viewport = this.viewport;
    if (top < viewport.scrollTop) viewport.scrollTop = top;
    else if (top + ROW_HEIGHT > viewport.scrollTop + viewport.clientHeight) {
      viewport.scrollTop = top + ROW_HEIGHT - viewport.clientHeight;
    }
    this.following = this.atNewest();
  }

  focusRow() {
    const node = this.pool.find((candidate) => !candidate.hidden && candidate.dataset.id === this.focusId);
    if (node) node.focus({ preventScroll: true });
  }
}

/** Whether `rows` from index `from` on keep the order of `compare` (with the row before). */
function sortedFrom(rows, from, compare) {
  for (let index = Math.max(from, 1); index < rows.length; index++) {
    if (compare(rows[index - 1], rows[index]) > 0) return false;
  }
  return true;
}

/** The cells of a collapsed row. */
export function rowCells(event, ms) {
  const time = element('span', 'time', clockTime(ms));
  time.title = fullTime(ms, event.ts);
  const level = LEVELS.includes(event.level) ? event.level : 'INFO';
  const badge = element('span', `level level-${level}`, event.level);
  const service = element('button', 'service', event.service);
  service.type = 'button';
  service.title = `Show only ${event.service}`;
  service.style.setProperty('--hue', serviceHue(event.service));
  const message = element('span', 'message', event.message);
  let trace;
  if (event.trace_id) {
    trace = element('a', 'trace', event.trace_id.slice(0, 8));
    trace.href = `/trace/${event.trace_id}`;
    trace.title = `Open trace ${event.trace_id}`;
  } else {
    trace = element('span', 'trace none', '—');
  }
  return [time, badge, service, trace, message];
}
