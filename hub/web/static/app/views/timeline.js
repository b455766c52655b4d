// My reports, newest first, each with its timeline (received → acknowledged →
// dispatched → on scene → resolved, or merged / rejected / cancelled) and the
// times of the steps reached. Rows are patched: a row is rebuilt only when its
// alert object changed (the reducers replace only the alerts they change).

import { h, clear } from '/static/shared/dom.js';
import { errorText as sayError } from '/static/shared/errors.js';
import { t } from '/static/shared/i18n.js';
import { STATUSES, answerable, cancellable, rateable, timeline, withdrawable } from '../state.js';

export class Timeline {
  /**
   * @param {HTMLElement} list the `<ol id="mine">`
   * @param {{label(category: string|null): string, clock(ms: number): string,
   *          onCancel(alert: object): void, announce(text: string): void}} deps
   */
  constructor(list, { label, clock, onCancel, announce, onReply = () => {}, onRate = () => {} }) {
    this.onReply = onReply;
    this.onRate = onRate;
    this.list = list;
    this.label = label;
    this.clock = clock;
    this.onCancel = onCancel;
    this.announce = announce;
    this.rows = new Map(); // ref → {alert, el}
    this.empty = list.parentElement.querySelector('#mine-empty');
  }

  render(alerts) {
    const refs = new Set(alerts.map((a) => a.ref));
    for (const [ref, row] of this.rows) {
      if (!refs.has(ref)) {
        row.el.remove();
        this.rows.delete(ref);
      }
    }
    const newest = [...alerts].sort((x, y) => y.created_at - x.created_at);
    newest.forEach((a, i) => {
      const el = this.patch(a);
      const there = this.list.children[i];
      if (there !== el) this.list.insertBefore(el, there ?? null);
    });
    this.empty.hidden = alerts.length > 0;
  }

  patch(a) {
    const row = this.rows.get(a.ref);
    if (row && row.alert === a) return row.el;
    const el = row ? row.el : h('li', { class: 'alert', 'data-ref': a.ref });
    this.fill(el, a);
    if (row && row.alert.status !== a.status) {
      this.announce(t('app.announce', { category: this.label(a.category), status: statusText(a.status) }));
    }
    this.rows.set(a.ref, { alert: a, el });
    return el;
  }

  fill(el, a) {
    clear(el);
    el.dataset.status = a.status;
    el.append(
      h('h3', { class: 'alert-title' }, this.label(a.category),
        h('span', { class: 'alert-time' }, ` · ${this.clock(a.created_at)}`)),
      h('p', { class: 'alert-status' }, statusText(a.status)),
    );
    if (a.text) el.append(h('p', { class: 'alert-text' }, a.text));
    if (a.status === 'waiting') el.append(h('p', { class: 'hint' }, t('app.waiting_hint')));
    const steps = timeline(a);
    if (steps.length) el.append(h('ol', { class: 'steps', 'aria-label': t('app.timeline') }, ...steps.map((st) => this.step(st))));
    if (a.messages?.length) el.append(this.conversation(a));
    if (answerable(a) && a.messages?.some((m) => m.from === 'control_room')) el.append(this.replyForm(a));
    if (rateable(a)) el.append(this.rateForm(a));
    if (a.rated) el.append(h('p', { class: 'rated' }, t('app.talk.thanks', { score: a.rated })));
    if (a.error) el.append(h('p', { class: 'alert-error', role: 'alert' }, errorText(a.error)));
    if (cancellable(a) || withdrawable(a)) {
      const cancel = h('button', { type: 'button', class: 'cancel', onclick: () => {
        cancel.disabled = true; // one withdrawal at a time; the answer rebuilds the row
        this.onCancel(a);
      } }, t('app.cancel'));
      el.append(cancel);
    }
  }

  /** The control room's messages and my answers: "the control room", never a name. */
  conversation(a) {
    return h('ol', { class: 'talk', 'aria-label': t('app.talk.title') }, ...a.messages.map((m) =>
      h('li', { class: m.from === 'control_room' ? 'from-room' : 'from-me' },
        h('strong', {}, m.from === 'control_room' ? t('app.talk.controlRoom') : t('app.talk.me')), ' ',
        h('time', { datetime: new Date(m.at).toISOString() }, this.clock(m.at)), ' ', m.text)));
  }

  replyForm(a) {
    const id = `reply-${a.alert}`;
    const text = h('textarea', { id, rows: '2', maxlength: '1000' });
    const form = h('form', { class: 'reply', onsubmit: (e) => {
      e.preventDefault();
      if (text.value.trim()) this.onReply(a, text.value.trim());
    } }, h('label', { for: id }, t('app.talk.answer')), text, h('button', { type: 'submit' }, t('app.talk.send')));
    return form;
  }

  rateForm(a) {
    const name = `rate-${a.alert}`;
    const comment = h('textarea', { id: `${name}-comment`, rows: '2', maxlength: '1000' });
    const scores = [1, 2, 3, 4, 5].map((n) => h('label', {},
      h('input', { type: 'radio', name, value: String(n) }), ` ${n}`));
    return h('form', { class: 'rate', onsubmit: (e) => {
      e.preventDefault();
      const chosen = e.target.querySelector(`input[name="${name}"]:checked`);
      if (chosen) this.onRate(a, Number(chosen.value), comment.value.trim());
    } },
    h('fieldset', {}, h('legend', {}, t('app.talk.rate')), ...scores),
    h('label', { for: `${name}-comment` }, t('app.talk.comment')), comment,
    h('button', { type: 'submit' }, t('app.talk.sendRating')));
  }

  step(st) {
    return h('li', { class: st.reached ? 'step reached' : 'step ahead', 'data-status': st.status },
      h('span', { class: 'step-label' }, statusText(st.status)),
      st.at ? h('time', { datetime: new Date(st.at).toISOString() }, this.clock(st.at)) : '');
  }
}

/** A status in words; one this app does not know yet as the hub names it. */
function statusText(status) {
  return STATUSES.has(status) ? t(`app.status.${status}`) : String(status);
}

/**
 * The resident-facing text of a report's error, by its code: the app's words
 * (`app.error.<code>`) where it has some, else the shared ones (shared/errors.js).
 * The hub's own message is for developers and is never shown.
 */
export function errorText(error) {
  return sayError(error, 'app.error');
}
