// The queue: live incidents in the hub's order, one row each with the priority
// as colour, shape and text, the category, age, reports, status and any offer.
// Rows are patched when their incident changes and moved when the order does.

import { h } from '../shared/dom.js';
import { t } from '../shared/i18n.js';
import { ageOf, offerLine, priorityBadge, reportCount } from './labels.js';

const FRESH_MS = 10_000; // how long a new incident stays highlighted

function sep() {
  return h('span', { class: 'sep' }, ' · ');
}

function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

export class Queue {
  /** @param {HTMLElement} list the <ol> named "Queue"; opts {label(category), onSelect(id)} */
  constructor(list, { label, onSelect }) {
    this.list = list;
    this.label = label;
    this.onSelect = onSelect;
    this.rows = new Map();  // incident id → {li, parts}
    this.fresh = new Map(); // incident id → time it appeared
    this.selected = null;
    // One listener for all rows: a click or Tab into a row selects its incident.
    const choose = (event) => {
      const li = event.target.closest?.('li[data-id]');
      if (li && this.rows.has(li.dataset.id)) this.onSelect(li.dataset.id);
    };
    list.addEventListener('click', choose);
    list.addEventListener('focusin', choose);
  }

  update(state, changes, now) {
    if (changes.all) {
      for (const id of [...this.rows.keys()]) if (!state.incidents.has(id)) this.remove(id);
      for (const id of state.incidents.keys()) this.patch(state, id, now);
    } else {
      for (const id of changes.removed) this.remove(id);
      for (const id of changes.added) this.fresh.set(id, now);
      for (const id of changes.incidents) if (state.incidents.has(id)) this.patch(state, id, now);
    }
    if (changes.order || changes.added.size) this.reorder(state.order);
    this.fixTabStop();
  }

  /** One row is in the tab order: the selected one, else the first. */
  fixTabStop() {
    const stop = this.rows.get(this.selected)?.li || this.list.firstElementChild;
    if (stop && stop.tabIndex !== 0) {
      for (const li of this.list.querySelectorAll('li[tabindex="0"]')) li.tabIndex = -1;
      stop.tabIndex = 0;
    }
  }

  /** Ages and highlights change with time alone. */
  tick(state, now) {
    for (const [id, row] of this.rows) {
      const inc = state.incidents.get(id);
      if (!inc) continue;
      setText(row.parts.age, ageOf(inc.opened_at, now));
      setText(row.parts.offer, offerLine(state, inc, now));
    }
    for (const [id, at] of this.fresh) {
      if (now - at > FRESH_MS) {
        this.fresh.delete(id);
        this.rows.get(id)?.li.classList.remove('fresh');
      }
    }
  }

  patch(state, id, now) {
    const inc = state.incidents.get(id);
    const row = this.rows.get(id) || this.create(id);
    const { parts } = row;
    // Only what differs is written: every write costs the whole list a layout.
    const classes = [`queue-row row-p${inc.priority} status-${inc.status}`,
      this.fresh.has(id) ? 'fresh' : '', this.selected === id ? 'selected' : ''].filter(Boolean).join(' ');
    if (row.li.className !== classes) row.li.className = classes;
    if (row.priority !== inc.priority) {
      row.priority = inc.priority;
      parts.badge.replaceWith((parts.badge = priorityBadge(inc.priority)));
    }
    setText(parts.category, this.label(inc.category));
    setText(parts.age, ageOf(inc.opened_at, now));
    setText(parts.reports, reportCount(inc.reports));
    setText(parts.status, t(`console.status.${inc.status}`));
    setText(parts.offer, offerLine(state, inc, now));
    setText(parts.text, inc.text || '');
  }

  create(id) {
    const parts = {
      badge: h('span'), category: h('span', { class: 'category' }), age: h('span', { class: 'age' }),
      reports: h('span', { class: 'reports' }), status: h('span', { class: 'status' }),
      offer: h('span', { class: 'offer' }), text: h('span', { class: 'text' }),
    };
    // Rows are focusable list items, not buttons: the action buttons' names
    // (Acknowledge, Close…) must not also match a row whose status reads
    // "acknowledged" or "closed". j/k and the arrow keys move between them.
    const li = h('li', { class: 'queue-row', 'data-id': id, tabindex: '-1' },
      parts.badge, ' ', parts.category, sep(), parts.age, sep(), parts.reports, sep(), parts.status, ' ',
      parts.offer, parts.text);
    const row = { li, parts, priority: null };
    this.rows.set(id, row);
    return row;
  }

  remove(id) {
    this.rows.get(id)?.li.remove();
    this.rows.delete(id);
    this.fresh.delete(id);
  }

  /** Move only the rows that are out of place. */
  reorder(order) {
    let cursor = this.list.firstElementChild;
    for (const id of order) {
      const li = this.rows.get(id)?.li;
      if (!li) continue;
      if (li === cursor) cursor = cursor.nextElementSibling;
      else this.list.insertBefore(li, cursor);
    }
  }

  select(id, { focus = false } = {}) {
    if (this.selected) {
      const before = this.rows.get(this.selected);
      before?.li.classList.remove('selected');
      before?.li.removeAttribute('aria-current');
      if (before) before.li.tabIndex = -1;
    }
    this.selected = id;
    const row = id && this.rows.get(id);
    if (!row) return;
    row.li.classList.add('selected');
    row.li.setAttribute('aria-current', 'true');
    this.fixTabStop();
    this.fresh.delete(id);
    row.li.classList.remove('fresh');
    if (focus) row.li.focus();
    row.li.scrollIntoView({ block: 'nearest' });
  }
}
