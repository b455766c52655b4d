// Pure tests of the patrol tablet (hub/web/static/unit): state reducers (replays and
// duplicates included), the position throttle, and what a reload keeps.
import {
  initialState, reduce, currentOffer, overdueOffers, byPriority, myIncident, refusedOfferState,
} from '../../hub/web/static/unit/state.js';
import { Throttle } from '../../hub/web/static/unit/position.js';
import { load, restore, save } from '../../hub/web/static/unit/store.js';
import { distanceM, distanceText } from '../../hub/web/static/unit/incident.js';

function eq(a, b, what = '') {
  const x = JSON.stringify(a), y = JSON.stringify(b);
  if (x !== y) throw new Error(`${what}: ${x} !== ${y}`);
}

const inc = (id, extra = {}) => ({ id, category: 'noise', priority: 4, score: 40, status: 'open',
  cell: '893963a62cfffff', lat: 43.18, lon: 3.0, reports: 1, text: '', opened_at: 1, updated_at: 1, ...extra });

export function test_snapshot_then_incident_events() {
  let s = initialState('u1');
  s = reduce(s, { type: 'snapshot', incidents: [inc('in1'), inc('in2', { priority: 1, score: 100 })], units: [] });
  eq(byPriority(s).map((i) => i.id), ['in2', 'in1'], 'order');
  s = reduce(s, { type: 'incident', incident: inc('in3', { priority: 2, score: 80 }) });
  eq(byPriority(s).map((i) => i.id), ['in2', 'in3', 'in1'], 'inserted');
  s = reduce(s, { type: 'incident', incident: inc('in2', { status: 'closed', updated_at: 2 }) });
  eq(byPriority(s).map((i) => i.id), ['in3', 'in1'], 'terminal leaves');
}

export function test_unchanged_incidents_keep_their_identity() {
  let s = reduce(initialState('u1'), { type: 'snapshot', incidents: [inc('in1'), inc('in2')] });
  const before = s.incidents.get('in1');
  s = reduce(s, { type: 'incident', incident: inc('in2', { reports: 2, updated_at: 2 }) });
  if (s.incidents.get('in1') !== before) throw new Error('in1 was replaced');
  s = reduce(s, { type: 'snapshot', incidents: [inc('in1'), inc('in2', { reports: 2, updated_at: 2 })] });
  if (s.incidents.get('in1') !== before) throw new Error('in1 replaced by an identical snapshot');
}

export function test_offer_accept_makes_the_mission() {
  let s = initialState('u1');
  s = reduce(s, { type: 'assignment', assignment: 'as1', incident: inc('in1'), expires_at: 10_000 });
  eq(currentOffer(s, 5_000).assignment, 'as1', 'open');
  eq(currentOffer(s, 10_000), null, 'past the deadline');
  s = reduce(s, { type: 'assignment.state', assignment: 'as1', incident: 'in1', unit: 'u1', state: 'accepted' });
  eq(currentOffer(s, 5_000), null, 'closed');
  eq(myIncident(s).id, 'in1', 'mission');
  eq(myIncident(s).status, 'dispatched', 'dispatched');
  eq(s.status, 'en_route', 'status');
  s = reduce(s, { type: 'local.mission.status', incident: 'in1', status: 'on_scene' });
  eq([myIncident(s).status, s.status], ['on_scene', 'on_scene'], 'on scene');
  s = reduce(s, { type: 'local.mission.status', incident: 'in1', status: 'resolved' });
  eq([myIncident(s), s.status], [null, 'available'], 'resolved');
}

export function test_a_duplicate_offer_never_reopens() {
  let s = initialState('u1');
  const offer = { type: 'assignment', assignment: 'as1', incident: inc('in1'), expires_at: 10_000 };
  s = reduce(s, offer);
  s = reduce(s, { type: 'assignment.state', assignment: 'as1', unit: 'u1', state: 'declined' });
  s = reduce(s, offer);
  eq(currentOffer(s, 1), null, 'still closed');
  eq(s.notice.key, 'offer.declined', 'notice');
}

export function test_expiry_by_the_hub_or_the_clock() {
  let s = initialState('u1');
  s = reduce(s, { type: 'assignment', assignment: 'as1', incident: inc('in1'), expires_at: 10_000 });
  s = reduce(s, { type: 'assignment', assignment: 'as2', incident: inc('in2'), expires_at: 20_000 });
  eq(currentOffer(s, 1).assignment, 'as1', 'nearest deadline first');
  eq(overdueOffers(s, 10_000).map((o) => o.assignment), ['as1'], 'overdue');
  s = reduce(s, { type: 'local.offer.ended', assignment: 'as1', state: 'expired' });
  eq(s.notice.key, 'offer.expired', 'notice');
  eq(currentOffer(s, 10_001).assignment, 'as2', 'next offer');
  s = reduce(s, { type: 'assignment.state', assignment: 'as2', unit: 'u1', state: 'expired' });
  eq(currentOffer(s, 10_001), null, 'hub expiry');
  // The hub's own expiry after the local one changes nothing.
  const same = reduce(s, { type: 'assignment.state', assignment: 'as1', unit: 'u1', state: 'expired' });
  if (same !== s) throw new Error('a second expiry changed the state');
}

export function test_a_cancelled_mission_is_dropped() {
  let s = initialState('u1');
  s = reduce(s, { type: 'assignment', assignment: 'as1', incident: inc('in1'), expires_at: 10_000 });
  s = reduce(s, { type: 'assignment.state', assignment: 'as1', unit: 'u1', state: 'accepted' });
  s = reduce(s, { type: 'assignment.state', assignment: 'as1', incident: 'in1', unit: 'u1', state: 'cancelled', at: 42 });
  eq([myIncident(s), s.notice.key, s.notice.at], [null, 'mission.cancelled', 42], 'cancelled, and when');
}

export function test_the_mission_follows_its_incident_and_comes_back_from_a_snapshot() {
  let s = initialState('u1');
  s = reduce(s, { type: 'snapshot', incidents: [inc('in1', { status: 'on_scene', unit: 'u1', assignment: 'as9' })] });
  eq([myIncident(s).id, s.mission.assignment], ['in1', 'as9'], 'recovered');
  s = reduce(s, { type: 'incident', incident: inc('in1', { status: 'closed', unit: 'u1', updated_at: 5 }) });
  eq(myIncident(s), null, 'closed by the operator');
  // Someone else's incident is not my mission.
  s = reduce(s, { type: 'incident', incident: inc('in2', { status: 'dispatched', unit: 'u2' }) });
  eq(myIncident(s), null, 'not mine');
}

export function test_other_units_assignment_states_are_ignored() {
  let s = reduce(initialState('u1'), { type: 'assignment', assignment: 'as1', incident: inc('in1'), expires_at: 10 });
  const same = reduce(s, { type: 'assignment.state', assignment: 'as1', unit: 'u2', state: 'accepted' });
  if (same !== s) throw new Error('changed by another unit');
}

export function test_reset_clears_incidents_not_the_offer() {
  let s = reduce(initialState('u1'), { type: 'snapshot', incidents: [inc('in1')] });
  s = reduce(s, { type: 'assignment', assignment: 'as1', incident: inc('in1'), expires_at: 10 });
  s = reduce(s, { type: 'reset', stream: 'events' });
  eq([s.incidents.size, currentOffer(s, 1).assignment], [0, 'as1'], 'reset');
  if (reduce(s, { type: 'unknown' }) !== s) throw new Error('unknown type changed the state');
}

export function test_throttle_sends_at_most_once_a_second_and_keeps_the_latest() {
  const th = new Throttle(1000);
  eq(th.offer('a', 0), true, 'first');
  eq(th.offer('b', 300), false, 'too soon');
  eq(th.offer('c', 600), false, 'too soon');
  eq(th.waitMs(600), 400, 'wait');
  eq(th.due(900), null, 'not yet');
  eq(th.due(1000), 'c', 'latest kept');
  eq(th.offer('d', 1500), false, 'after a trailing send');
  eq(th.due(2000), 'd', 'next');
  eq(th.due(3000), null, 'nothing kept');
}

export function test_a_fix_that_could_not_be_sent_is_kept_uncounted() {
  const th = new Throttle(1000);
  eq(th.offer('a', 0), true, 'first');
  eq(th.offer('b', 1500), true, 'allowed');
  th.failed('b'); // no connection
  eq(th.due(1600), 'b', 'kept, and the slot is still open');
  th.failed('b');
  eq(th.offer('c', 1700), true, 'a newer fix takes the slot');
  eq(th.due(1800), null, 'c replaced b');
}

export function test_store_round_trip_keeps_open_offers_and_the_mission() {
  const mem = new Map();
  const storage = { getItem: (k) => mem.get(k) ?? null, setItem: (k, v) => mem.set(k, v) };
  let s = initialState('u1');
  s = reduce(s, { type: 'assignment', assignment: 'as1', incident: inc('in1'), expires_at: 10 });
  s = reduce(s, { type: 'assignment', assignment: 'as2', incident: inc('in2'), expires_at: 10 });
  s = reduce(s, { type: 'assignment.state', assignment: 'as2', unit: 'u1', state: 'accepted' });
  save(s, '5-0', storage);
  const saved = load('u1', storage);
  eq(saved.inbox, '5-0', 'offset');
  const back = restore(initialState('u1'), saved);
  eq([currentOffer(back, 1).assignment, myIncident(back).id, back.status], ['as1', 'in2', 'en_route'], 'restored');
  eq(load('u2', storage), null, 'another unit');
  storage.setItem('vigie.unit.u3', '{not json');
  eq(load('u3', storage), null, 'garbage');
}

export function test_distances_read_as_an_officer_reads_them() {
  // One minute of latitude is one nautical mile (1852 m), give or take the Earth's shape.
  const m = distanceM(43, 3, 43 + 1 / 60, 3);
  if (Math.abs(m - 1853) > 5) throw new Error(`one minute of latitude: ${m}`);
  eq(distanceM(43.18, 3.0, 43.18, 3.0), 0, 'same point');
  eq([distanceText(3), distanceText(347), distanceText(2449), distanceText(12600)], ['10 m', '350 m', '2.4 km', '13 km'], 'texts');
}

export function test_an_answer_refused_as_over_is_expired_or_cancelled_by_the_deadline() {
  // The hub's conflict reply names no state: the offer's deadline (hub time) decides.
  const offer = { assignment: 'as1', expires_at: 100_000 };
  eq(refusedOfferState(offer, 100_000), 'expired', 'at the deadline');
  eq(refusedOfferState(offer, 130_000), 'expired', 'well past it');
  eq(refusedOfferState(offer, 99_500), 'expired', 'within the clock slack');
  eq(refusedOfferState(offer, 90_000), 'cancelled', 'ten seconds before: ended by someone');
  let s = initialState('u1');
  s = reduce(s, { type: 'assignment', assignment: 'as1', incident: inc('in1'), expires_at: 100_000 });
  s = reduce(s, { type: 'local.offer.ended', assignment: 'as1', state: refusedOfferState(offer, 90_000), at: 90_000 });
  eq(s.offers.get('as1').state, 'cancelled', 'the offer closes as cancelled');
  eq(s.notice.key, 'offer.cancelled', 'and the officer is told so');
}
