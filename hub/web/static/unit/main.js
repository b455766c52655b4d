// The patrol tablet's wiring: token → tenant → state → connection → views.
// Data flows one way: every message goes through reduce(), then the views
// render from the new state. User actions are requests to the hub; what the
// hub confirms is fed back into reduce() as a message or a local action.

import { claims, requireToken, signInAgain } from '../shared/auth.js';
import { tenant as fetchTenant } from '../shared/api.js';
import { Connection, newRef } from '../shared/connection.js';
import { $ } from '../shared/dom.js';
import { HubError } from '../shared/errors.js';
import { t, translate } from '../shared/i18n.js';
import { connectionBadge } from '../shared/status.js';
import { clock, setTimeZone } from '../shared/time.js';
import { createDutyView } from './duty.js';
import { createIncidentsView } from './incidents.js';
import { createMapView } from './map.js';
import { createMissionView } from './mission.js';
import { createOfferView } from './offer.js';
import { trackPosition } from './position.js';
import {
  byPriority, currentOffer, initialState, myIncident, overdueOffers, reduce, refusedOfferState,
} from './state.js';
import { load, restore, save } from './store.js';
import { keepScreenOn } from './wakelock.js';

const TICK_MS = 250; // countdown refresh
const AGE_TICK_MS = 15000; // incident ages are shown in minutes
const NOTICE_MS = 60000; // how long a notice stays on screen

async function main() {
  translate();
  const token = await requireToken('unit');
  if (!token) return;
  const me = claims(token).sub;
  $('#unit-id').textContent = me;
  const tenant = await fetchTenant(token).catch(() => null);
  if (tenant && tenant.timezone) setTimeZone(tenant.timezone);
  const saved = load(me);
  const app = new TabletApp(me, tenant, token, restore(initialState(me), saved));
  app.connect(token, saved && saved.inbox ? { inbox: saved.inbox } : {});
  app.trackPosition();
  keepScreenOn((held) => {
    $('#wakelock').textContent = held ? t('unit.screenOn') : '';
  });
}

class TabletApp {
  constructor(me, tenant, token, state) {
    this.me = me;
    this.state = state;
    this.skewMs = 0; // hub clock minus this clock, from the welcome
    this.refs = new Map(); // logical action -> ref, so a retry re-sends the same ref
    this.renderQueued = false;
    this.positions = null; // the position watch, once started
    this.offer = createOfferView($('#offer'), tenant, {
      onAccept: (offer) => this.answerOffer(offer, 'assignment.accept', {}),
      onDecline: (offer, reason) => this.answerOffer(offer, 'assignment.decline', reason ? { reason } : {}),
    });
    this.mission = createMissionView($('#mission'), tenant, {
      onStatus: (incident, status, note) => this.reportStatus(incident, status, note),
    });
    this.duty = createDutyView($('#duty'), { onStatus: (status) => this.setDuty(status) });
    this.incidents = createIncidentsView($('#incidents'), $('#incidents-empty'), tenant);
    this.map = createMapView($('#map'), tenant, token);
    if (!this.map) $('#map').hidden = true;
    this.render();
    setInterval(() => this.tick(), TICK_MS);
    setInterval(() => this.incidents.tick(this.now()), AGE_TICK_MS);
  }

  /** The hub's clock, as far as this tablet knows it (deadlines are hub times). */
  now() {
    return Date.now() + this.skewMs;
  }

  connect(token, offsets) {
    this.conn = new Connection({
      token,
      offsets,
      onMessage: (msg) => this.receive(msg),
      onStatus: (status, info) => this.connectionChanged(status, info),
    });
    connectionBadge($('#connection'), this.conn);
    this.conn.start();
  }

  receive(msg) {
    if (msg.type === 'welcome' && typeof msg.at === 'number') this.skewMs = msg.at - Date.now();
    this.dispatch(msg);
  }

  dispatch(msg) {
    const next = reduce(this.state, msg);
    if (next === this.state) return;
    this.state = next;
    save(next, this.conn && this.conn.offsets ? this.conn.offsets.inbox : null);
    if (!this.renderQueued) {
      this.renderQueued = true;
      queueMicrotask(() => this.render());
    }
  }

  render() {
    this.renderQueued = false;
    const state = this.state;
    const now = this.now();
    this.offer.render(currentOffer(state, now), now);
    $('main').inert = !$('#offer').hidden;
    this.mission.render(myIncident(state));
    if (this.map) this.map.showIncident(myIncident(state));
    this.duty.render(state.status);
    this.incidents.render(byPriority(state), this.me, now);
    if (state.notice !== this.shownNotice) this.showNotice(state.notice);
  }

  // A notice says when it happened; an old one (replayed history) is not shown.
  showNotice(notice) {
    this.shownNotice = notice;
    clearTimeout(this.noticeTimer);
    const el = $('#notice');
    const at = notice && typeof notice.at === 'number' ? notice.at : this.now();
    const left = NOTICE_MS - (this.now() - at);
    el.textContent = notice && left > 0 ? `${clock(at)} · ${t(`unit.notice.${notice.key}`)}` : '';
    if (el.textContent) this.noticeTimer = setTimeout(() => (el.textContent = ''), left);
  }

  tick() {
    const now = this.now();
    for (const offer of overdueOffers(this.state, now)) {
      const ended = { type: 'local.offer.ended', assignment: offer.assignment, state: 'expired' };
      this.dispatch({ ...ended, at: offer.expires_at });
    }
    this.offer.render(currentOffer(this.state, now), now);
  }

  connectionChanged(status, info) {
    if (status === 'closed' && info && info.auth) {
      signInAgain('unit'); // the token expired or was refused: sign in again
      return;
    }
    // A position taken while the socket was down was kept: send it now.
    if (status === 'live' && this.positions) this.positions.retry();
  }

  trackPosition() {
    const line = $('#position');
    this.positions = trackPosition({
      send: (message) => this.conn.send(message),
      onFix: (position) => {
        const { latitude, longitude } = position.coords;
        this.mission.moved(latitude, longitude);
        if (this.map) this.map.showUnit(latitude, longitude);
        line.textContent = t('unit.geo.shared');
        line.classList.remove('problem');
      },
      onProblem: (kind) => {
        if (!kind) return;
        line.textContent = t(`unit.geo.${kind}`);
        line.classList.add('problem');
      },
    });
  }

  /**
   * Send a command once per logical action: a retry after a lost reply reuses the
   * ref. Rejects with RequestError when no reply came; the views show it, and a
   * HubError, by code (shared/errors.js).
   */
  async command(action, msg) {
    let ref = this.refs.get(action);
    if (!ref) this.refs.set(action, (ref = newRef('u')));
    const reply = await this.conn.request({ ...msg, ref });
    this.refs.delete(action); // a definitive answer: the next click is a new command
    return reply;
  }

  async answerOffer(offer, type, extra) {
    const reply = await this.command(`${type}:${offer.assignment}`, { type, assignment: offer.assignment, ...extra });
    if (reply.type === 'ok') {
      const state = type === 'assignment.accept' ? 'accepted' : 'declined';
      const at = this.now();
      this.dispatch({ type: 'assignment.state', assignment: offer.assignment, unit: this.me, state, at });
      if (state === 'accepted') queueMicrotask(() => $('#on-scene').focus()); // after the render
    } else if (reply.code === 'conflict' || reply.code === 'not_found') {
      // The offer is over: its deadline tells why (the hub's English text never decides).
      const at = this.now();
      const state = refusedOfferState(offer, at);
      this.dispatch({ type: 'local.offer.ended', assignment: offer.assignment, state, at });
    } else {
      throw new HubError(reply, 'unit.errors');
    }
  }

  async reportStatus(incident, status, note) {
    const msg = { type: 'incident.status', incident: incident.id, status };
    if (note) msg.note = note;
    const reply = await this.command(`incident.status:${incident.id}:${status}`, msg);
    if (reply.type === 'ok') {
      this.dispatch({ type: 'local.mission.status', incident: incident.id, status });
    } else if (reply.code === 'forbidden' || reply.code === 'not_found') {
      const gone = { type: 'local.mission.status', incident: incident.id, status: 'gone' };
      this.dispatch({ ...gone, at: this.now() });
    } else {
      throw new HubError(reply, 'unit.errors');
    }
  }

  async setDuty(status) {
    const reply = await this.command(`unit.status:${status}`, { type: 'unit.status', status });
    if (reply.type !== 'ok') throw new HubError(reply, 'unit.errors');
    this.dispatch({ type: 'local.unit.status', status });
  }
}

main();
