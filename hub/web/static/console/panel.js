// The incident panel: the selected incident, its reports (texts, times), its
// history (`incident.history`), the recommendation, and the operator's actions
// (acknowledge, assign, merge, set priority, close or reject with a note).

import { clear, h } from '../shared/dom.js';
import { errorText } from '../shared/errors.js';
import { t } from '../shared/i18n.js';
import { clock } from '../shared/time.js';
import { ageOf, priorityBadge, reportCount } from './labels.js';
import { unitChoices } from './state.js';

const DETAILS_DEBOUNCE_MS = 150;

export class IncidentPanel {
  /**
   * @param {HTMLElement} root the panel's <section>
   * @param opts {commands: Commands, fetchIncident(id), label(category), getState()}
   */
  constructor(root, { commands, fetchIncident, label, getState }) {
    this.commands = commands;
    this.fetchIncident = fetchIncident;
    this.label = label;
    this.getState = getState;
    this.id = null;
    this.detailsTimer = null;
    this.choicesKey = '';
    this.build(root);
  }

  // -- building ------------------------------------------------------------------------

  build(root) {
    const el = (this.el = {});
    el.empty = h('p', { class: 'empty' }, t('console.panel.empty'));
    el.summary = h('p', { class: 'summary' });
    el.latest = h('p', { class: 'latest' });
    el.unit = h('select', { id: 'assign-unit' });
    el.mergeWith = h('select', { id: 'merge-with' });
    el.priority = h('select', { id: 'set-priority' },
      [1, 2, 3, 4, 5].map((p) => h('option', { value: String(p) }, `P${p}`)));
    el.note = h('textarea', { id: 'incident-note', rows: '2', maxlength: '1000' });
    el.feedback = h('p', { class: 'feedback', role: 'status', 'aria-live': 'polite' });
    el.error = h('p', { class: 'error', role: 'alert' });
    el.recommendation = h('ol', { class: 'recommendation' });
    el.reports = h('ol', { class: 'reports' });
    el.history = h('ol', { class: 'history' });
    el.recurrence = h('p', { class: 'recurrence', id: 'incident-recurrence' });
    el.talk = h('ol', { class: 'talk', id: 'incident-talk' });
    el.message = h('textarea', { id: 'incident-message', rows: '2', maxlength: '1000' });
    const button = (key, action, cls = '') =>
      h('button', { type: 'button', class: cls, onclick: () => this[action]() }, t(key));
    el.detail = h('div', { class: 'detail', hidden: true },
      el.summary, el.recurrence, el.latest,
      h('div', { class: 'actions' },
        h('div', { class: 'action-row' }, button('console.actions.acknowledge', 'acknowledge', 'primary')),
        h('div', { class: 'action-row' },
          h('label', { for: 'assign-unit' }, t('console.actions.unit')), el.unit,
          button('console.actions.assign', 'assign', 'primary')),
        h('div', { class: 'action-row' },
          h('label', { for: 'merge-with' }, t('console.actions.mergeWith')), el.mergeWith,
          button('console.actions.merge', 'merge')),
        h('div', { class: 'action-row' },
          h('label', { for: 'set-priority' }, t('console.actions.priority')), el.priority,
          button('console.actions.setPriority', 'setPriority')),
        h('div', { class: 'action-row note-row' },
          h('label', { for: 'incident-note' }, t('console.actions.note')), el.note,
          button('console.actions.close', 'close'), button('console.actions.reject', 'reject', 'danger'))),
      el.feedback, el.error,
      h('h3', {}, t('console.panel.recommendation')), el.recommendation,
      h('h3', {}, t('console.talk.title')), el.talk,
      h('div', { class: 'action-row note-row' },
        h('label', { for: 'incident-message' }, t('console.talk.label')), el.message,
        button('console.talk.send', 'write', 'primary'),
        button('console.talk.publish', 'publish'), button('console.talk.unpublish', 'unpublish')),
      h('h3', {}, t('console.panel.reports')), el.reports,
      h('h3', {}, t('console.panel.history')), el.history);
    el.mergeWith.addEventListener('focus', () => this.fillMergeChoices());
    root.append(el.empty, el.detail);
  }

  // -- showing -------------------------------------------------------------------------

  /** Show incident `id` (or nothing). */
  show(id, now) {
    if (id === this.id) return;
    this.id = id;
    clearTimeout(this.detailsTimer);
    this.el.empty.hidden = Boolean(id);
    this.el.detail.hidden = !id;
    this.el.feedback.textContent = '';
    this.el.error.textContent = '';
    this.el.note.value = '';
    clear(this.el.reports);
    clear(this.el.history);
    clear(this.el.talk);
    this.el.message.value = '';
    if (!id) return;
    const state = this.getState();
    this.choicesKey = '';
    this.renderIncident(state, now);
    this.renderRecommendation(state);
    this.fillMergeChoices();
    this.loadDetails();
    if (!state.recommendations.has(id)) this.commands.recommend(id).catch(() => {}); // arrives as state
  }

  update(state, changes, now) {
    if (!this.id) return;
    if (changes.all || changes.incidents.has(this.id)) {
      if (!state.incidents.has(this.id)) return; // main moves the selection
      this.renderIncident(state, now);
      this.scheduleDetails();
    }
    if (changes.all || changes.recommendations.has(this.id) || changes.units.size) this.renderRecommendation(state);
    if (changes.all || changes.added.size || changes.removed.size) this.fillMergeChoices();
  }

  renderIncident(state, now) {
    const inc = state.incidents.get(this.id);
    if (!inc) return;
    const parts = [this.label(inc.category), inc.id, t(`console.status.${inc.status}`),
      ageOf(inc.opened_at, now), reportCount(inc.reports)];
    if (inc.unit) parts.push(t('console.offer.unit', { unit: inc.unit }));
    this.el.summary.replaceChildren(priorityBadge(inc.priority), ' ', parts.join(' · '));
    this.el.latest.textContent = inc.text || '';
    this.el.recurrence.textContent = inc.recurrence > 1 ? t('console.recurrence', {
      n: inc.recurrence, category: this.label(inc.category), days: inc.recurrence_days }) : '';
    if (document.activeElement !== this.el.priority) this.el.priority.value = String(inc.priority);
  }

  renderRecommendation(state) {
    const rec = state.recommendations.get(this.id);
    this.el.recommendation.replaceChildren(
      ...(rec?.units || []).map((r) => h('li', {}, h('strong', {}, r.unit), ` — ${r.reason || ''}`)));
    if (!rec?.units?.length) {
      const why = rec ? 'console.panel.noUnitToRecommend' : 'console.panel.noRecommendation';
      this.el.recommendation.append(h('li', { class: 'muted' }, t(why)));
    }
    this.fillUnitChoices(state);
  }

  fillUnitChoices(state) {
    const choices = unitChoices(state, this.id);
    const describe = (c) => {
      const u = state.units.get(c.unit);
      let status = u ? t(`console.unitStatus.${u.status}`) : '';
      if (u && !u.online) status = `${status}, ${t('console.units.offline')}`;
      return c.recommended ? t('console.actions.recommendedUnit', { unit: c.unit, status })
        : `${c.unit} (${status})`;
    };
    const key = choices.map(describe).join('|');
    if (key === this.choicesKey) return;
    this.choicesKey = key;
    const keep = this.el.unit.value;
    this.el.unit.replaceChildren(...choices.map((c) => h('option', { value: c.unit }, describe(c))));
    if (keep && choices.some((c) => c.unit === keep) && document.activeElement === this.el.unit) {
      this.el.unit.value = keep;
    }
  }

  fillMergeChoices() {
    const state = this.getState();
    const keep = this.el.mergeWith.value;
    const others = state.order.filter((id) => id !== this.id).map((id) => state.incidents.get(id));
    this.el.mergeWith.replaceChildren(...others.map((inc) =>
      h('option', { value: inc.id }, `P${inc.priority} ${this.label(inc.category)} — ${inc.id}`)));
    if (others.some((inc) => inc.id === keep)) this.el.mergeWith.value = keep;
  }

  // -- reports and history -------------------------------------------------------------

  scheduleDetails() {
    clearTimeout(this.detailsTimer);
    this.detailsTimer = setTimeout(() => this.loadDetails(), DETAILS_DEBOUNCE_MS);
  }

  async loadDetails() {
    const id = this.id;
    if (!id) return;
    try {
      const [found, history] = await Promise.all([this.fetchIncident(id), this.commands.history(id)]);
      if (id !== this.id) return;
      this.el.reports.replaceChildren(...(found.reports || []).map((r) =>
        h('li', {}, h('time', {}, clock(r.at)), ' ', r.text || t('console.panel.noText'))));
      this.el.history.replaceChildren(...(history.entries || []).map((e) => this.historyItem(e)));
      const talk = (history.entries || []).filter((e) => e.action === 'message' || e.action === 'feedback');
      this.el.talk.replaceChildren(...(talk.length ? talk.map((e) => this.talkItem(e))
        : [h('li', { class: 'muted' }, t('console.talk.none'))]));
    } catch (err) {
      if (id === this.id) this.el.error.textContent = t('console.errors.details', { message: errorText(err, 'console.errors') });
    }
  }

  historyItem(e) {
    const what = [t(`console.history.${e.action}`)];
    if (e.status) what.push(`→ ${t(`console.status.${e.status}`)}`);
    if (e.unit) what.push(e.unit);
    if (e.into) what.push(`→ ${e.into}`);
    if (Array.isArray(e.from)) what.push(`← ${e.from.join(', ')}`); // a merge's sources (a message's `from` is a side)
    return h('li', {}, h('time', {}, clock(e.at)), ` ${e.by || ''} · ${what.join(' ')}`,
      e.note ? h('span', { class: 'note' }, ` « ${e.note} »`) : null);
  }

  /** One line of the conversation: who (the control room, never a name), when, what. */
  talkItem(e) {
    if (e.action === 'feedback') {
      return h('li', { class: 'rating' }, h('time', {}, clock(e.at)), ' ',
        h('strong', {}, t('console.talk.rating', { score: e.score })), e.comment ? ` « ${e.comment} »` : '');
    }
    const who = e.from === 'control_room' ? t('console.talk.controlRoom') : t('console.talk.reporter');
    return h('li', { class: e.from === 'control_room' ? 'from-room' : 'from-reporter' },
      h('time', {}, clock(e.at)), ' ', h('strong', {}, who), e.alert ? ` (${e.alert})` : '', ' : ', e.text || '');
  }

  /** A `message` or `feedback` about the shown incident arrived: read the trail again. */
  heard(msg) {
    if (msg.incident === this.id) this.scheduleDetails();
  }

  // -- actions -------------------------------------------------------------------------

  async write() {
    const text = this.el.message.value.trim();
    if (!text) return false;
    const ok = await this.run('console.talk.sent',
      (id) => this.commands.send({ type: 'message.send', incident: id, text }));
    if (ok) this.el.message.value = '';
    this.scheduleDetails();
    return ok;
  }

  publish(published = true) {
    return this.run(published ? 'console.talk.published' : 'console.talk.unpublished',
      (id) => this.commands.send({ type: 'incident.publish', incident: id, published }));
  }

  unpublish() {
    return this.publish(false);
  }

  async run(doneKey, action) {
    if (!this.id) return;
    this.el.error.textContent = '';
    this.el.feedback.textContent = t('console.feedback.sending');
    try {
      await action(this.id);
      this.el.feedback.textContent = t(doneKey);
      return true;
    } catch (err) {
      this.el.feedback.textContent = '';
      this.el.error.textContent = errorText(err, 'console.errors');
      return false;
    }
  }

  acknowledge() {
    return this.run('console.feedback.acknowledged', (id) => this.commands.acknowledge(id));
  }

  assign(unit = this.el.unit.value) {
    if (!unit) {
      this.el.error.textContent = t('console.errors.noUnit');
      return Promise.resolve(false);
    }
    return this.run('console.feedback.assigned', (id) => this.commands.assign(id, unit));
  }

  /** `d`: assign the recommended unit, or open the picker when there is none. */
  dispatch() {
    const rec = this.getState().recommendations.get(this.id);
    const best = rec?.units?.[0]?.unit;
    if (best) return this.assign(best);
    this.el.unit.focus();
    return Promise.resolve(false);
  }

  merge() {
    const other = this.el.mergeWith.value;
    if (!other) return Promise.resolve(false);
    return this.run('console.feedback.merged', (id) => this.commands.merge(id, other));
  }

  setPriority() {
    const priority = Number(this.el.priority.value);
    return this.run('console.feedback.prioritySet', (id) => this.commands.setPriority(id, priority));
  }

  close() {
    return this.run('console.feedback.closed', (id) => this.commands.close(id, this.el.note.value.trim()));
  }

  reject() {
    return this.run('console.feedback.rejected', (id) => this.commands.reject(id, this.el.note.value.trim()));
  }
}
