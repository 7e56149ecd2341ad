// The connection state, always visible: connected, reconnecting (with the time of the next
// attempt), ended or failed; a banner per gap; a warning when the stream went quiet.

import { clockTime, element } from './format.js';

export class ConnectionStatus {
  /** `indicator` shows the state; `banners` collects gap and idle warnings. */
  constructor(indicator, banners) {
    this.indicator = indicator;
    this.banners = banners;
    this.countdown = null;
    this.idleBanner = null;
  }

  /** Shows a status from `TracetailStream`'s `onStatus`. */
  show(status) {
    clearInterval(this.countdown);
    this.indicator.dataset.state = status.state;
    if (status.state === 'connected') {
      this.indicator.textContent = 'connected';
      this.clearIdle();
    } else if (status.state === 'connecting') {
      this.indicator.textContent = 'connecting…';
    } else if (status.state === 'reconnecting') {
      if (status.reason === 'idle') this.warnIdle();
      const tick = () => {
        const seconds = Math.max(0, Math.ceil((status.retryAt - Date.now()) / 1000));
        this.indicator.textContent =
          `reconnecting in ${seconds} s (at ${clockTime(status.retryAt)}; ${status.reason})`;
      };
      tick();
      this.countdown = setInterval(tick, 250);
    } else if (status.state === 'failed') {
      this.indicator.textContent = `stopped: ${status.error ? status.error.message : 'error'}`;
    } else if (status.state === 'ended') {
      this.indicator.textContent = 'ended by the server';
    }
  }

  /** A banner for `event: gap`: events were missed, and which. */
  gap(gap) {
    const reasons = {
      evicted: 'they were dropped by retention before they could be sent',
      unknown: 'the cursor belongs to another store (the data directory was replaced)',
      future: 'the cursor is ahead of the newest stored event',
      malformed: 'the cursor was not readable',
    };
    const why = reasons[gap.reason] || gap.reason;
    const text = `Events were missed: asked to resume after ${gap.requested || '(none)'}, ` +
      `resumed after ${gap.resumed_from || '(the start)'} because ${why}.`;
    this.banner('gap', text);
  }

  warnIdle() {
    if (this.idleBanner) return;
    this.idleBanner = this.banner('idle',
      'No event or heartbeat arrived for three heartbeat intervals: the connection is being replaced.');
  }

  clearIdle() {
    if (this.idleBanner) this.idleBanner.remove();
    this.idleBanner = null;
  }

  banner(kind, text) {
    const node = element('div', `banner banner-${kind}`);
    node.setAttribute('role', 'alert');
    node.append(element('span', '', text));
    const dismiss = element('button', 'dismiss', 'Dismiss');
    dismiss.type = 'button';
    dismiss.addEventListener('click', () => {
      node.remove();
      if (node === this.idleBanner) this.idleBanner = null;
    });
    node.append(dismiss);
    this.banners.append(node);
    return node;
  }

  clearBanners() {
    this.banners.replaceChildren();
    this.idleBanner = null;
  }
}
