// Notices for my area as banners at the top of the page, newest first, each
// with its severity (as text too, not only as colour) and a dismiss button.
// The operator's text is shown as text. Banners are added and removed, never rebuilt.

import { h } from '/static/shared/dom.js';
import { t } from '/static/shared/i18n.js';

export class Notices {
  /**
   * @param {HTMLElement} box the `<section id="notices">`
   * @param {{clock(ms: number): string, onDismiss(notice: string): void}} deps
   */
  constructor(box, { clock, onDismiss }) {
    this.box = box;
    this.clock = clock;
    this.onDismiss = onDismiss;
    this.shown = new Map(); // notice id → element
  }

  render(notices) {
    const ids = new Set(notices.map((n) => n.notice));
    for (const [id, el] of this.shown) {
      if (!ids.has(id)) {
        el.remove();
        this.shown.delete(id);
      }
    }
    for (const n of [...notices].reverse()) {
      if (this.shown.has(n.notice)) continue;
      const el = this.banner(n);
      this.shown.set(n.notice, el);
      this.box.prepend(el);
    }
    this.box.hidden = notices.length === 0;
  }

  banner(n) {
    return h('div', { class: `notice notice-${n.severity}`, 'data-notice': n.notice },
      h('p', { class: 'notice-head' },
        h('strong', {}, t(`app.severity.${n.severity}`)),
        n.at ? ` · ${this.clock(n.at)}` : ''),
      h('p', { class: 'notice-text' }, n.text),
      h('button', { type: 'button', class: 'dismiss', onclick: () => this.onDismiss(n.notice) }, t('app.dismiss')));
  }
}
