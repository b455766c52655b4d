// Pure tests of the console's state (hub/web/static/console/state.js): each
// reducer, the hub's order, and a reset rebuilt from the snapshot without duplicates.
import {
  initial, reduce, neighbour, offerOf, secondsLeft, isStale, unitChoices, urgentUnacknowledged, STALE_MS,
} from '../../hub/web/static/console/state.js';

function eq(a, b, what = '') {
  const x = JSON.stringify(a), y = JSON.stringify(b);
  if (x !== y) throw new Error(`${what}: ${x} !== ${y}`);
}

const inc = (id, extra = {}) => ({ id, category: 'noise', priority: 4, score: 40, status: 'open',
  cell: '893963a62cfffff', lat: 43.18, lon: 3.0, reports: 1, text: '', opened_at: 1, updated_at: 1, ...extra });
const unit = (id, extra = {}) => ({ id, status: 'available', lat: 43.18, lon: 3.0, cell: '893963a62cfffff',
  online: true, last_seen: 1000, sector: ['873963a62ffffff'], ...extra });

function run(state, ...msgs) {
  let changes;
  for (const msg of msgs) ({ state, changes } = reduce(state, msg));
  return { state, changes };
}

export function test_snapshot_orders_by_score_and_drops_terminal() {
  const { state, changes } = run(initial(), { type: 'snapshot', incidents: [
    inc('in1', { score: 10 }), inc('in2', { score: 90 }), inc('in3', { status: 'closed' }),
  ], units: [unit('u1')] });
  eq(state.order, ['in2', 'in1'], 'order');
  eq(state.ready, true, 'ready');
  eq([...state.units.keys()], ['u1'], 'units');
  eq(changes.all, true, 'all');
}

export function test_incident_added_updated_removed() {
  let { state } = run(initial(), { type: 'snapshot', incidents: [inc('in1')], units: [] });
  let changes;
  ({ state, changes } = reduce(state, { type: 'incident', incident: inc('in2', { priority: 1, score: 100 }) }));
  eq([...changes.added], ['in2'], 'added');
  eq(state.order, ['in2', 'in1'], 'new head');
  eq(changes.order, true, 'order changed');
  ({ state, changes } = reduce(state, { type: 'incident', incident: inc('in1', { reports: 2, updated_at: 5 }) }));
  eq(changes.added.size, 0, 'an update is not new');
  eq(changes.order, false, 'same order');
  eq(state.incidents.get('in1').reports, 2, 'patched');
  ({ state, changes } = reduce(state, { type: 'incident', incident: inc('in2', { status: 'merged', updated_at: 9 }) }));
  eq([...changes.removed], ['in2'], 'removed');
  eq(state.order, ['in1'], 'gone from the order');
}

export function test_older_view_does_not_overwrite() {
  let { state } = run(initial(), { type: 'snapshot', incidents: [inc('in1', { updated_at: 10, reports: 3 })], units: [] });
  ({ state } = reduce(state, { type: 'incident', incident: inc('in1', { updated_at: 5, reports: 1 }) }));
  eq(state.incidents.get('in1').reports, 3, 'kept the newer view');
}

export function test_queue_message_reorders() {
  let { state } = run(initial(), { type: 'snapshot', incidents: [inc('in1', { score: 50 }), inc('in2', { score: 40 })], units: [] });
  let changes;
  ({ state, changes } = reduce(state, { type: 'queue', incidents: [{ id: 'in2', score: 70 }, { id: 'gone', score: 1 }], waiting: 2 }));
  eq(state.order, ['in2', 'in1'], 'aged incident first');
  eq(changes.order, true, 'order changed');
  eq(state.waiting, 2, 'waiting');
  eq(state.incidents.has('gone'), false, 'unknown ids ignored');
}

export function test_reset_then_snapshot_has_no_duplicates() {
  let { state } = run(initial(), { type: 'snapshot', incidents: [inc('in1'), inc('in2')], units: [unit('u1')] },
    { type: 'incident', incident: inc('in3') });
  ({ state } = reduce(state, { type: 'reset', stream: 'events' }));
  eq(state.ready, false, 'waiting for the snapshot');
  eq(state.order.length, 3, 'screen kept meanwhile');
  ({ state } = reduce(state, { type: 'snapshot', incidents: [inc('in2'), inc('in3'), inc('in4')], units: [unit('u1')] }));
  eq([...state.incidents.keys()].sort(), ['in2', 'in3', 'in4'], 'exactly the snapshot');
  eq(new Set(state.order).size, state.order.length, 'no duplicate');
  eq(state.ready, true, 'ready again');
}

export function test_unit_changes_merge_fields() {
  let { state } = run(initial(), { type: 'snapshot', incidents: [], units: [unit('u1')] });
  ({ state } = reduce(state, { type: 'unit', change: 'position', unit: { id: 'u1', status: 'available', lat: 43.2, lon: 3.1, cell: 'x', online: true, last_seen: 2000 } }));
  eq(state.units.get('u1').sector, ['873963a62ffffff'], 'sector kept (positions do not carry it)');
  eq(state.units.get('u1').lat, 43.2, 'moved');
  ({ state } = reduce(state, { type: 'unit', change: 'offline', unit: { id: 'u1', status: 'available', last_seen: 3000 } }));
  eq(state.units.get('u1').online, false, 'offline');
  ({ state } = reduce(state, { type: 'unit', change: 'status', unit: { id: 'u2', status: 'busy', online: true } }));
  eq(state.units.get('u2').status, 'busy', 'a new unit appears');
}

export function test_offers_and_countdown() {
  let { state } = run(initial(), { type: 'snapshot', incidents: [inc('in1')], units: [unit('u1')] });
  const offered = { type: 'assignment.state', assignment: 'as1', incident: 'in1', unit: 'u1', state: 'offered', at: 1000, expires_at: 61_000 };
  let changes;
  ({ state, changes } = reduce(state, offered));
  eq(offerOf(state, 'u1').assignment, 'as1', 'pending');
  eq(changes.units.has('u1') && changes.incidents.has('in1'), true, 'rows to patch');
  eq(secondsLeft(offerOf(state, 'u1'), 31_500), 30, 'countdown');
  eq(secondsLeft(offerOf(state, 'u1'), 99_000), 0, 'never negative');
  ({ state } = reduce(state, { ...offered, state: 'expired', at: 61_000 }));
  eq(offerOf(state, 'u1'), null, 'no longer pending');
  eq(state.lastOffer.get('in1').state, 'expired', 'the queue can say it expired');
}

export function test_recommended_units_first() {
  let { state } = run(initial(), { type: 'snapshot', incidents: [inc('in1')], units: [unit('u1'), unit('u2'), unit('u3')] });
  ({ state } = reduce(state, { type: 'recommendation', incident: 'in1', units: [{ unit: 'u3', grid_distance: 1, reason: 'near' }], at: 1 }));
  eq(unitChoices(state, 'in1').map((c) => [c.unit, c.recommended]), [['u3', true], ['u1', false], ['u2', false]], 'choices');
}

export function test_unit_choices_put_units_able_to_go_before_busy_and_offline_ones() {
  const units = [unit('a-off', { online: false }), unit('b-busy', { status: 'busy' }), unit('c-free'),
    unit('d-off-busy', { online: false, status: 'busy' }), unit('e-free'), unit('f-duty', { status: 'off_duty' }),
    unit('g-scene', { status: 'on_scene' })];
  const { state } = run(initial(), { type: 'snapshot', incidents: [inc('in1')], units });
  eq(unitChoices(state, 'in1').map((c) => c.unit),
    ['c-free', 'e-free', 'b-busy', 'g-scene', 'f-duty', 'a-off', 'd-off-busy'],
    'no recommendation: the first choice is an online, available unit');
}

export function test_title_count_and_neighbours_and_staleness() {
  const { state } = run(initial(), { type: 'snapshot', incidents: [
    inc('a', { priority: 1, score: 100 }), inc('b', { priority: 2, score: 80, status: 'acknowledged' }),
    inc('c', { priority: 2, score: 70 }), inc('d', { score: 10 }),
  ], units: [] });
  eq(urgentUnacknowledged(state), 2, 'open P1/P2');
  eq(neighbour(state, null, 1), 'a', 'first');
  eq(neighbour(state, 'a', 1), 'b', 'next');
  eq(neighbour(state, 'a', -1), 'a', 'clamped');
  eq(neighbour(state, 'd', 1), 'd', 'clamped at the end');
  eq(isStale({ last_seen: 0 }, STALE_MS + 1), true, 'stale');
  eq(isStale({ last_seen: 1 }, STALE_MS), false, 'fresh');
}

export function test_unknown_messages_change_nothing() {
  const s = initial();
  const { state } = reduce(s, { type: 'welcome' });
  eq(state === s, true, 'same state');
}

export function test_a_closed_incident_takes_its_offer_and_recommendation_with_it() {
  let { state } = run(initial(), { type: 'snapshot', incidents: [inc('in1'), inc('in2')], units: [unit('u1')] },
    { type: 'recommendation', incident: 'in1', units: [{ unit: 'u1' }], at: 1 },
    { type: 'recommendation', incident: 'in2', units: [{ unit: 'u1' }], at: 1 },
    { type: 'assignment.state', assignment: 'as1', incident: 'in1', unit: 'u1', state: 'expired', at: 2 });
  ({ state } = reduce(state, { type: 'incident', incident: inc('in1', { status: 'closed', updated_at: 3 }) }));
  eq([...state.recommendations.keys()], ['in2'], 'recommendations');
  eq(state.lastOffer.has('in1'), false, 'last offer');
  ({ state } = reduce(state, { type: 'snapshot', incidents: [inc('in3')], units: [] }));
  eq(state.recommendations.size + state.lastOffer.size, 0, 'a snapshot keeps only live ones');
}

const offer = (assignment, incident, unitId, extra = {}) => ({ type: 'assignment.state', assignment, incident,
  unit: unitId, state: 'offered', at: 1000, expires_at: 61_000, ...extra });

export function test_a_snapshot_with_offers_shows_them_with_their_countdown() {
  const { state, changes } = run(initial(), { type: 'snapshot', incidents: [inc('in1'), inc('in2')],
    units: [unit('u1'), unit('u2')], offers: [offer('as1', 'in1', 'u1'), offer('as9', 'gone', 'u2')] });
  eq(offerOf(state, 'u1').assignment, 'as1', 'pending after a reload');
  eq(secondsLeft(offerOf(state, 'u1'), 31_500), 30, 'countdown from its expires_at');
  eq(offerOf(state, 'u2'), null, 'not for an incident that is not live');
  eq(state.lastOffer.get('in1').unit, 'u1', 'the queue line knows to whom');
  eq([...state.lastOffer.keys()], ['in1'], 'nothing for the others');
  eq(changes.all, true, 'every row redrawn');
}

export function test_a_snapshot_with_offers_replaces_the_known_ones() {
  let { state } = run(initial(), { type: 'snapshot', incidents: [inc('in1'), inc('in2'), inc('in3')], units: [unit('u1')] },
    offer('as1', 'in1', 'u1'), offer('as2', 'in2', 'u1'),
    { type: 'assignment.state', assignment: 'as3', incident: 'in3', unit: 'u1', state: 'declined', at: 2 });
  ({ state } = reduce(state, { type: 'reset', stream: 'events' }));
  ({ state } = reduce(state, { type: 'snapshot', incidents: [inc('in1'), inc('in2'), inc('in3')], units: [unit('u1')],
    offers: [offer('as2', 'in2', 'u1', { expires_at: 90_000 })] }));
  eq([...state.offers.keys()], ['as2'], 'as1 ended while resyncing');
  eq(state.offers.get('as2').expires_at, 90_000, 'the snapshot\'s own');
  eq(state.lastOffer.has('in1'), false, 'no countdown left for the ended one');
  eq(state.lastOffer.get('in3').state, 'declined', 'how an offer ended is kept');
  ({ state } = reduce(state, { type: 'snapshot', incidents: [inc('in2')], units: [unit('u1')], offers: [] }));
  eq(state.offers.size + state.lastOffer.size, 0, 'an empty list: none pending');
}

export function test_a_snapshot_without_offers_keeps_the_known_ones() {
  let { state } = run(initial(), { type: 'snapshot', incidents: [inc('in1'), inc('in2')], units: [unit('u1')] },
    offer('as1', 'in1', 'u1'), offer('as2', 'in2', 'u1'));
  ({ state } = reduce(state, { type: 'snapshot', incidents: [inc('in1')], units: [unit('u1')] })); // an older hub
  eq([...state.offers.keys()], ['as1'], 'kept for live incidents only');
  eq(state.lastOffer.get('in1').state, 'offered', 'last offer kept');
  eq(state.lastOffer.has('in2'), false, 'gone with its incident');
}
