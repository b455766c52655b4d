// The citizen app's wiring: token → tenant → stored state → connection → views.
// Data flows one way: socket (and the resident's actions) → state.reduce →
// stored in IndexedDB → views patched. Reports wait in the state's outbox
// until the hub acks them; each is sent with the ref it got when created.

import { claims, requireToken, signInAgain } from '/static/shared/auth.js';
import { cellAt, tenant as fetchTenant } from '/static/shared/api.js';
import { Connection } from '/static/shared/connection.js';
import { $, h } from '/static/shared/dom.js';
import { categoryLabel, t, translate } from '/static/shared/i18n.js';
import { connectionBadge } from '/static/shared/status.js';
import { clock, setTimeZone } from '/static/shared/time.js';
import { around, inside } from './area.js';
import { Position } from './position.js';
import * as S from './state.js';
import { Saver, load, loadAll, remove, save } from './store.js';
import { PinMap } from './views/map.js';
import { Notices } from './views/notices.js';
import { ReportForm } from './views/report.js';
import { Nearby } from './views/nearby.js';
import { Timeline } from './views/timeline.js';

const RETRY_MS = 3000; // a report whose send timed out is sent again (same ref) after this
const FOLLOW_RADIUS_M = 300; // about one res-9 cell width: my cell and its ring
const FOLLOW_MAX_CELLS = 100;
const NEIGHBOUR_CELLS = 50; // the hub's limit for the neighbours' feed

class CitizenApp {
  constructor({ token, tenant, key, state }) {
    this.token = token;
    this.tenant = tenant;
    this.state = state;
    this.saver = new Saver(key);
    this.outboxKey = `outbox:${key}:`;
    this.inFlight = new Set(); // refs being sent now (not persisted: a reload sends again)
    this.cancelAfterSend = new Set(); // refs whose Cancel was tapped while they were being sent
    this.cells = new Map(); // "lat,lon" → cell, for citizen.follow
    this.followed = []; // the cells the hub last accepted
    this.conn = new Connection({
      token,
      offsets: state.inbox ? { inbox: state.inbox } : {},
      onMessage: (msg) => this.dispatch(msg),
      onStatus: (status, info) => this.statusChanged(status, info),
    });
    this.views();
  }

  views() {
    const label = (id) => {
      const c = this.tenant.categories.find((x) => x.id === id);
      return c ? categoryLabel(c) : t('app.unknown_category');
    };
    this.map = new PinMap($('#map'), this.tenant, { onMove: () => this.position.pinMoved(), pinLabel: t('app.pin') });
    this.position = new Position(this.map, $('#geo-message'), () => this.follow());
    this.form = new ReportForm($('#report'), this.tenant.categories, categoryLabel, (d) => this.report(d));
    this.timeline = new Timeline($('#mine'), {
      label, clock, onCancel: (a) => this.cancel(a), announce: (text) => { $('#announcer').textContent = text; },
      onReply: (a, text) => this.reply(a, text), onRate: (a, score, comment) => this.rate(a, score, comment),
    });
    this.notices = new Notices($('#notices'), { clock, onDismiss: (id) => this.dispatch({ type: 'notice.dismiss', notice: id }) });
    this.nearby = new Nearby($('#nearby'), {
      label, clock, onOptIn: (on) => this.watch(on), onMeToo: (inc) => this.meToo(inc),
    });
    $('#locate').addEventListener('click', () => this.position.locate());
  }

  async start() {
    await this.adoptOutbox();
    connectionBadge($('#connection'), this.conn);
    this.render();
    this.conn.start();
    this.position.locate({ auto: true });
  }

  dispatch(msg) {
    const next = S.reduce(this.state, msg);
    if (next === this.state) return;
    this.forgetSent(this.state, next);
    this.state = next;
    this.saver.put(next).catch((error) => console.error('app: could not store the state', error));
    this.render();
  }

  render() {
    this.timeline.render(this.state.alerts);
    this.notices.render(this.state.notices);
    this.nearby.render(this.state);
  }

  statusChanged(status, info) {
    if (status === 'live') this.online();
    // The token expired or was refused: sign in again (waiting reports stay on disk).
    if (status === 'closed' && info?.auth) signInAgain('citizen');
  }

  online() {
    this.flush();
    this.flushReplies();
    this.follow();
  }

  // -- the conversation with the control room, and the rating ------------------------

  /** An answer is kept (with its ref) until the hub took it: written offline, it goes later. */
  reply(a, text) {
    this.dispatch({ type: 'reply', ref: uuid(), alert: a.alert, text });
    this.flushReplies();
  }

  async flushReplies() {
    if (this.conn.status !== 'live') return;
    for (const msg of S.pendingReplies(this.state)) {
      try {
        const reply = await this.conn.request(msg);
        // ok (the answer comes back through the inbox) or a refusal that a resend cannot change
        if (reply.type === 'ok' || !S.retryable(reply.code) || reply.code === 'conflict') {
          this.dispatch({ type: 'reply.done', ref: msg.ref });
        }
      } catch {
        return; // offline again: the next `live` sends it, same ref
      }
    }
  }

  // -- neighbours -----------------------------------------------------------------

  /** Opt in (the cells I follow) or out; the hub keeps the choice for my next sessions. */
  async watch(on) {
    const cells = on ? this.followed.slice(0, NEIGHBOUR_CELLS) : [];
    if (on && !cells.length) await this.follow();
    const chosen = on ? this.followed.slice(0, NEIGHBOUR_CELLS) : [];
    const reply = await this.conn.request({ type: 'neighbours.follow', cells: chosen }).catch(() => null);
    if (reply?.type === 'neighbours') {
      this.dispatch({ type: 'neighbours.optin', cells: chosen });
      this.dispatch({ type: 'neighbours', incidents: reply.incidents });
    } else {
      this.render(); // the checkbox shows what the hub holds
    }
  }

  async meToo(inc) {
    const reply = await this.conn.request({ type: 'neighbour.corroborate', ref: uuid(), incident: inc.id }).catch(() => null);
    if (reply?.type === 'alert.ack') {
      this.dispatch({ type: 'metoo', alert: reply.alert, incident: reply.incident, category: inc.category, at: reply.at });
      $('#announcer').textContent = t('app.near.reported');
    }
  }

  async rate(a, score, comment) {
    const msg = { type: 'alert.feedback', ref: uuid(), alert: a.alert, score };
    if (comment) msg.comment = comment;
    const reply = await this.conn.request(msg).catch(() => null);
    if (reply?.type === 'ok' || reply?.code === 'conflict') this.dispatch({ type: 'rated', alert: a.alert, score });
  }

  // -- reports ---------------------------------------------------------------------

  async report({ category, text }) {
    const [lat, lon] = this.map.position();
    if (!inside(this.tenant.outline, lat, lon)) {
      this.form.say(t('app.outside', { town: this.tenant.name }), 'error');
      return false;
    }
    const report = S.newReport({
      ref: uuid(), category, lat, lon, text, accuracy_m: this.position.accuracy(), at: Date.now(),
    });
    this.dispatch({ type: 'report', report });
    // On disk before it leaves: a reload cannot lose it, nor a write of the state by another tab.
    await Promise.all([save(this.outboxKey + report.ref, report), this.saver.put(this.state)]);
    this.form.say(this.conn.status === 'live' ? '' : t('app.kept_offline'));
    this.send(report);
    return true;
  }

  /** Reports kept on disk but missing from the state (written by another tab) wait again. */
  async adoptOutbox() {
    const kept = await loadAll(this.outboxKey).catch(() => []);
    for (const report of kept) {
      const known = this.state.alerts.find((a) => a.ref === report.ref);
      if (!known) this.dispatch({ type: 'report', report });
      else if (known.status !== 'waiting') remove(this.outboxKey + report.ref).catch(() => {});
    }
  }

  /** Delete the disk copy of each report that stopped waiting (acked, failed, taken back). */
  forgetSent(before, after) {
    const waiting = new Set(after.alerts.filter((a) => a.status === 'waiting').map((a) => a.ref));
    for (const a of before.alerts) {
      if (a.status === 'waiting' && !waiting.has(a.ref)) remove(this.outboxKey + a.ref).catch(() => {});
    }
  }

  /** Send every waiting report (each with its own ref). */
  flush() {
    for (const a of this.state.alerts) if (a.status === 'waiting') this.send(a);
  }

  async send(a) {
    if (this.inFlight.has(a.ref) || this.conn.status !== 'live') return;
    this.inFlight.add(a.ref);
    try {
      const reply = await this.conn.request(S.submitMessage(a));
      // The ack itself reaches the state through onMessage; errors are ours to file.
      if (reply.type === 'error') this.failed(a, reply);
    } catch {
      this.retryLater(); // timeout or connection lost: it stays waiting
    } finally {
      this.inFlight.delete(a.ref);
      if (this.cancelAfterSend.delete(a.ref)) this.cancelNow(a.ref);
    }
  }

  /** Carry out a Cancel tapped during the send, on the report as the answer left it:
   * withdrawn at the hub once acked (the ack reached the state before the request
   * settled: connection.js), taken back here when it is still waiting. */
  cancelNow(ref) {
    const a = this.state.alerts.find((x) => x.ref === ref);
    if (a && (S.withdrawable(a) || S.cancellable(a))) this.cancel(a);
  }

  failed(a, reply) {
    this.dispatch({ type: 'report.failed', ref: a.ref, code: reply.code, message: reply.message, retry_after_s: reply.retry_after_s });
    if (S.retryable(reply.code)) this.retryLater(1000 * (reply.retry_after_s || RETRY_MS / 1000));
  }

  retryLater(ms = RETRY_MS) {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.flush(), ms);
  }

  async cancel(a) {
    if (S.withdrawable(a)) {
      // Not sent yet: it just stays on the phone. Being sent right now: the hub may
      // already hold it, so the tap waits for the answer (send, cancelNow).
      if (this.inFlight.has(a.ref)) {
        this.cancelAfterSend.add(a.ref);
        return;
      }
      // On disk first, then on screen: a reload right after the tap must not find
      // the report still waiting (in the outbox or the stored state) and send it.
      const withdraw = { type: 'report.withdraw', ref: a.ref };
      await Promise.all([remove(this.outboxKey + a.ref), this.saver.put(S.reduce(this.state, withdraw))])
        .catch((error) => console.error('app: could not store the withdrawal', error));
      this.dispatch(withdraw);
      return;
    }
    try {
      const reply = await this.conn.request({ type: 'alert.cancel', alert: a.alert });
      if (reply.type === 'error') this.dispatch({ type: 'cancel.failed', ref: a.ref, code: reply.code, message: reply.message });
    } catch (error) {
      this.dispatch({ type: 'cancel.failed', ref: a.ref, code: error.reason === 'offline' ? 'offline' : 'timeout' });
    }
  }

  // -- notices for my area ---------------------------------------------------------

  /** Tell the hub which cells I am in (my position's and its ring, my live reports'). */
  async follow() {
    if (this.conn.status !== 'live') return;
    const points = [];
    const device = this.position.device;
    if (device) points.push(...around(device.lat, device.lon, FOLLOW_RADIUS_M));
    for (const a of this.state.alerts) if (!S.FINAL.has(a.status) && a.lat != null) points.push([a.lat, a.lon]);
    const mine = points.filter(([lat, lon]) => inside(this.tenant.outline, lat, lon)); // the hub has no cell elsewhere
    const found = await Promise.all(mine.map(([lat, lon]) => this.cellAt(lat, lon)));
    const cells = [...new Set(found.filter(Boolean))].slice(0, FOLLOW_MAX_CELLS);
    if (!cells.length) return;
    const reply = await this.conn.request({ type: 'citizen.follow', cells }).catch(() => null);
    if (reply?.type === 'ok') this.followed = cells;
  }

  async cellAt(lat, lon) {
    const key = `${lat.toFixed(5)},${lon.toFixed(5)}`;
    if (!this.cells.has(key)) {
      this.cells.set(key, cellAt(this.token, lat, lon).catch(() => {
        this.cells.delete(key); // outside the town, or offline: ask again next time
        return null;
      }));
    }
    return this.cells.get(key);
  }
}

/** A report's ref: random, made once. randomUUID needs a secure context (https, localhost). */
function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}

/**
 * The tenant configuration: from the hub, else the copy kept from the last visit
 * (offline); null if neither. Rejects when the hub refuses the token (401).
 */
async function tenantConfig(token, id) {
  try {
    const tenant = await fetchTenant(token);
    save(`tenant:${id}`, tenant).catch(() => {});
    return tenant;
  } catch (error) {
    if (error.status === 401) throw error;
    return (await load(`tenant:${id}`).catch(() => undefined)) ?? null;
  }
}

function showEmergency(el, numbers) {
  const links = String(numbers).split('/').map((n) => n.trim()).filter(Boolean)
    .map((n) => h('a', { href: `tel:${n.replace(/\s/g, '')}` }, n));
  el.append(t('app.emergency'), ' ', ...links.flatMap((a, i) => (i ? [' / ', a] : [a])));
}

async function main() {
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/app/sw.js', { scope: '/app' }).catch((e) => console.warn('app: no service worker', e));
  }
  translate(document);
  const token = await requireToken('citizen');
  if (!token) return;
  const me = claims(token);
  let tenant;
  try {
    tenant = await tenantConfig(token, me.tenant);
  } catch {
    signInAgain('citizen'); // the hub refused the token
    return;
  }
  if (!tenant) {
    $('#report-message').textContent = t('app.no_config');
    return;
  }
  setTimeZone(tenant.timezone);
  $('#town').textContent = tenant.name;
  if (tenant.text_max_chars) $('#report-text').maxLength = tenant.text_max_chars;
  showEmergency($('#emergency'), tenant.emergency || '17 / 112');
  const key = `state:${me.tenant}:${me.sub}`;
  const state = (await load(key).catch(() => undefined)) ?? S.initial();
  const app = new CitizenApp({ token, tenant, key, state });
  window.vigieApp = app; // for tests and the console of curious developers
  app.start();
}

main();
