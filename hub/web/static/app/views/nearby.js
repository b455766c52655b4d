// "Around me": the neighbours' feed. An opt-in (kept by the hub for this resident),
// then the incidents the town published in my area (category, status, time only:
// never a reporter, a text or a point), each with a "me too".

import { h } from '/static/shared/dom.js';
import { t } from '/static/shared/i18n.js';

export class Nearby {
  /**
   * @param {HTMLElement} root the `<section id="nearby">`
   * @param {{label(category): string, clock(ms): string, onOptIn(on: boolean): void,
   *          onMeToo(incident: object): void}} deps
   */
  constructor(root, { label, clock, onOptIn, onMeToo }) {
    this.label = label;
    this.clock = clock;
    this.onMeToo = onMeToo;
    this.optin = h('input', { type: 'checkbox', id: 'nearby-optin', onchange: () => onOptIn(this.optin.checked) });
    this.list = h('ul', { class: 'nearby', id: 'nearby-list' });
    this.say = h('p', { class: 'hint', role: 'status' });
    root.replaceChildren(h('h2', { id: 'nearby-title' }, t('app.near.title')),
      h('p', {}, this.optin, ' ', h('label', { for: 'nearby-optin' }, t('app.near.optin'))), this.list, this.say);
    root.setAttribute('aria-labelledby', 'nearby-title');
  }

  render(state) {
    this.optin.checked = Boolean(state.neighbours);
    this.list.hidden = !state.neighbours;
    const mine = new Set(state.alerts.map((a) => a.incident).filter(Boolean));
    const items = (state.nearby || []).map((inc) => h('li', { 'data-incident': inc.id },
      t('app.near.item', { category: this.label(inc.category), status: t(`app.near.status.${inc.status}`), time: this.clock(inc.opened_at) }),
      mine.has(inc.id) ? null : h('button', { type: 'button', onclick: () => this.onMeToo(inc) }, t('app.near.metoo'))));
    this.list.replaceChildren(...(items.length ? items : [h('li', { class: 'muted' }, t('app.near.none'))]));
  }
}
