// The report form: one button per category (its label and pictogram), the
// map with the pin, the optional text with its reminder, and Send. The view
// holds the draft (chosen category, text) until Send; where the pin is comes
// from the map view. It talks to the rest of the app through `onSend`.

import { h } from '/static/shared/dom.js';
import { t } from '/static/shared/i18n.js';
import { picto } from '../pictos.js';

export class ReportForm {
  /**
   * @param {HTMLFormElement} form the `<form id="report">` of index.html
   * @param {Array<{id: string}>} categories the tenant's categories
   * @param {(c: object) => string} label a category's label in the page's language
   * @param {(draft: {category: string, text: string}) => Promise<boolean>} onSend
   *        true when the report was taken (the form is then cleared)
   */
  constructor(form, categories, label, onSend) {
    this.form = form;
    this.category = null;
    this.buttons = new Map();
    this.text = form.querySelector('#report-text');
    this.message = form.querySelector('#report-message');
    const list = form.querySelector('#categories');
    for (const c of categories) list.append(this.categoryButton(c, label(c)));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.send(onSend);
    });
  }

  categoryButton(category, text) {
    const button = h('button', {
      type: 'button', class: 'category', 'aria-pressed': 'false', 'data-category': category.id,
      onclick: () => this.pick(category.id),
    }, picto(category.id), h('span', { class: 'category-label' }, text));
    this.buttons.set(category.id, button);
    return h('li', {}, button);
  }

  pick(id) {
    this.category = id;
    for (const [cid, b] of this.buttons) b.setAttribute('aria-pressed', String(cid === id));
    this.say('');
  }

  async send(onSend) {
    if (!this.category) {
      this.say(t('app.pick_first'), 'error');
      this.buttons.values().next().value?.focus();
      return;
    }
    const taken = await onSend({ category: this.category, text: this.text.value.trim() });
    if (taken) this.clear();
  }

  clear() {
    this.category = null;
    for (const b of this.buttons.values()) b.setAttribute('aria-pressed', 'false');
    this.text.value = '';
  }

  /** Show a short message under the form (`kind`: '', 'error', 'info'). */
  say(text, kind = 'info') {
    this.message.textContent = text;
    this.message.dataset.kind = kind;
  }
}
