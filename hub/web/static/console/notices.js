// The notice composer: choose cells (on the map, or without a mouse: the
// selected incident's cell, the map centre's cell), write, send (`notice`).

import { h } from '../shared/dom.js';
import { errorText } from '../shared/errors.js';
import { t } from '../shared/i18n.js';

const MAX_CELLS = 500;

export class NoticeComposer {
  /**
   * @param {HTMLElement} root the composer's <section>
   * @param opts {commands, cellAt(lat, lon) → Promise<cell>, map: IncidentMap, selectedCell() → cell|null}
   */
  constructor(root, { commands, cellAt, map, selectedCell }) {
    this.commands = commands;
    this.cellAt = cellAt;
    this.map = map;
    this.selectedCell = selectedCell;
    this.cells = [];
    this.build(root);
  }

  build(root) {
    const el = (this.el = {});
    el.text = h('textarea', { id: 'notice-text', rows: '3', maxlength: '1000' });
    el.severity = h('select', { id: 'notice-severity' },
      ['info', 'warning', 'danger'].map((s) => h('option', { value: s }, t(`console.notice.severity.${s}`))));
    el.pick = h('button', { type: 'button', 'aria-pressed': 'false', onclick: () => this.togglePicking() },
      t('console.notice.pick'));
    el.cells = h('ul', { class: 'notice-cells', 'aria-label': t('console.notice.cells') });
    el.status = h('p', { class: 'feedback', role: 'status', 'aria-live': 'polite' });
    el.error = h('p', { class: 'error', role: 'alert' });
    const button = (key, onclick, cls = '') => h('button', { type: 'button', class: cls, onclick }, t(key));
    root.append(
      h('label', { for: 'notice-text' }, t('console.notice.text')), el.text,
      h('div', { class: 'action-row' },
        h('label', { for: 'notice-severity' }, t('console.notice.severityLabel')), el.severity),
      h('div', { class: 'action-row' }, el.pick,
        button('console.notice.addSelected', () => this.addSelected()),
        button('console.notice.addCentre', () => this.addCentre())),
      el.cells,
      h('div', { class: 'action-row' }, button('console.notice.send', () => this.send(), 'primary')),
      el.status, el.error);
    this.renderCells();
  }

  togglePicking(on = this.el.pick.getAttribute('aria-pressed') !== 'true') {
    this.el.pick.setAttribute('aria-pressed', String(on));
    this.map.setPicking(on);
  }

  /** A map click while picking: add its cell, or remove it when already chosen. */
  async pickAt(latlng) {
    try {
      this.toggleCell(await this.cellAt(latlng.lat, latlng.lng));
    } catch (err) {
      this.el.error.textContent = t('console.notice.outside');
    }
  }

  addSelected() {
    const cell = this.selectedCell();
    if (cell) this.addCell(cell);
    else this.el.error.textContent = t('console.notice.noSelection');
  }

  addCentre() {
    const { lat, lng } = this.map.centre();
    return this.pickAt({ lat, lng });
  }

  addCell(cell) {
    this.el.error.textContent = '';
    if (!this.cells.includes(cell) && this.cells.length < MAX_CELLS) this.cells.push(cell);
    this.renderCells();
  }

  toggleCell(cell) {
    if (this.cells.includes(cell)) this.removeCell(cell);
    else this.addCell(cell);
  }

  removeCell(cell) {
    this.cells = this.cells.filter((c) => c !== cell);
    this.renderCells();
  }

  renderCells() {
    this.el.cells.replaceChildren(...this.cells.map((cell) => h('li', {}, h('code', {}, cell), ' ',
      h('button', { type: 'button', class: 'small', onclick: () => this.removeCell(cell),
        'aria-label': t('console.notice.removeCell', { cell }) }, '×'))));
    if (!this.cells.length) this.el.cells.append(h('li', { class: 'muted' }, t('console.notice.noCells')));
    this.map.showNoticeCells(this.cells);
  }

  async send() {
    const text = this.el.text.value.trim();
    this.el.error.textContent = '';
    if (!text || !this.cells.length) {
      this.el.error.textContent = t('console.notice.incomplete');
      return false;
    }
    this.el.status.textContent = t('console.feedback.sending');
    try {
      await this.commands.notice([...this.cells], text, this.el.severity.value);
      this.el.status.textContent = t('console.notice.sent', { n: this.cells.length });
      this.el.text.value = '';
      this.cells = [];
      this.renderCells();
      this.togglePicking(false);
      return true;
    } catch (err) {
      this.el.status.textContent = '';
      this.el.error.textContent = errorText(err, 'console.errors');
      return false;
    }
  }
}
