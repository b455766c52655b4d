// The unit board: every unit with its status, when it was last seen, its
// coverage and its pending offer with the countdown to the offer's deadline.

import { h } from '../shared/dom.js';
import { t } from '../shared/i18n.js';
import { coverageLine, since, unitOfferLine } from './labels.js';
import { isStale } from './state.js';

function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

export class UnitBoard {
  /**
   * @param {HTMLElement} tbody the board's table body
   * @param {{name: string, cell: string}[]} [sectors] the tenant's named sectors
   */
  constructor(tbody, sectors = []) {
    this.tbody = tbody;
    this.rows = new Map(); // unit id → {tr, cells}
    this.sectorNames = new Map(sectors.map((s) => [s.cell, s.name]));
  }

  update(state, changes, now) {
    const ids = changes.all ? new Set([...this.rows.keys(), ...state.units.keys()]) : changes.units;
    let added = false;
    for (const id of ids) {
      const u = state.units.get(id);
      if (!u) {
        this.rows.get(id)?.tr.remove();
        this.rows.delete(id);
        continue;
      }
      if (!this.rows.has(id)) { this.create(id); added = true; }
      this.patch(state, id, now);
    }
    if (changes.offers) for (const id of this.rows.keys()) this.patchOffer(state, id, now);
    if (added) this.sort();
  }

  /** Last-seen ages and countdowns change with time alone. */
  tick(state, now) {
    for (const [id, row] of this.rows) {
      const u = state.units.get(id);
      if (!u) continue;
      setText(row.cells.seen, since(u.last_seen, now));
      row.tr.classList.toggle('stale', isStale(u, now));
      this.patchOffer(state, id, now);
    }
  }

  create(id) {
    const cells = {
      id: h('th', { scope: 'row' }, id), status: h('td'), seen: h('td'), coverage: h('td'), offer: h('td'),
    };
    const tr = h('tr', { 'data-unit': id }, cells.id, cells.status, cells.seen, cells.coverage, cells.offer);
    this.rows.set(id, { tr, cells });
  }

  patch(state, id, now) {
    const u = state.units.get(id);
    const { tr, cells } = this.rows.get(id);
    tr.className = `unit-row unit-${u.status} ${u.online ? 'online' : 'offline'}`;
    tr.classList.toggle('stale', isStale(u, now));
    const status = t(`console.unitStatus.${u.status}`);
    setText(cells.status, u.online ? status : `${status} (${t('console.units.offline')})`);
    setText(cells.seen, since(u.last_seen, now));
    setText(cells.coverage, coverageLine(u, this.sectorNames));
    this.patchOffer(state, id, now);
  }

  patchOffer(state, id, now) {
    const row = this.rows.get(id);
    const text = unitOfferLine(state, id, now);
    setText(row.cells.offer, text);
    row.tr.classList.toggle('offered', Boolean(text));
  }

  sort() {
    const ids = [...this.rows.keys()].sort();
    for (const id of ids) this.tbody.append(this.rows.get(id).tr);
  }
}
