// Pure tests of the citizen app: the reducers of my alerts, the outbox of
// waiting reports, notices, and the area geometry (tests/browser/test_js_units.py runs them).
import {
  FINISHED_KEPT, NOTICES_KEPT, answerable, cancellable, initial, mergeSteps, newReport, outbox, pendingReplies,
  rateable, reduce, timeline,
} from '../../hub/web/static/app/state.js';
import { around, inside } from '../../hub/web/static/app/area.js';

function eq(a, b, what = '') {
  const x = JSON.stringify(a), y = JSON.stringify(b);
  if (x !== y) throw new Error(`${what}: ${x} !== ${y}`);
}

function ok(value, what) {
  if (!value) throw new Error(what);
}

const report = (ref, at = 1000, extra = {}) => ({
  type: 'report', report: newReport({ ref, category: 'noise', lat: 43.18, lon: 3.0, at, ...extra }),
});
const ack = (ref, alert, at = 1100) => ({ type: 'alert.ack', ref, alert, incident: 'in1', status: 'received', at });
const status = (alert, s, at, offset) => ({
  type: 'alert.status', alert, status: s, at, note: 'n', stream: 'inbox', offset: offset ?? `${at}-0`,
});

export function test_a_report_waits_in_the_outbox_with_its_ref_until_acked() {
  let s = reduce(initial(), report('r1', 1000, { text: 'loud music', accuracy_m: 12 }));
  eq(s.alerts[0].status, 'waiting', 'status');
  eq(outbox(s), [{ type: 'alert.submit', ref: 'r1', category: 'noise', lat: 43.18, lon: 3.0, text: 'loud music', accuracy_m: 12 }], 'outbox');
  s = reduce(s, ack('r1', 'al1'));
  eq(outbox(s), [], 'sent');
  eq([s.alerts[0].alert, s.alerts[0].status], ['al1', 'received'], 'acked');
  eq(s.alerts[0].steps, [{ status: 'received', at: 1100 }], 'steps');
}

export function test_no_text_no_accuracy_are_left_out_of_the_message() {
  const s = reduce(initial(), report('r1'));
  eq(Object.keys(outbox(s)[0]).sort(), ['category', 'lat', 'lon', 'ref', 'type'], 'fields');
}

export function test_the_same_ack_twice_changes_nothing() {
  let s = reduce(reduce(initial(), report('r1')), ack('r1', 'al1'));
  const again = reduce(s, ack('r1', 'al1'));
  eq(again.alerts, s.alerts, 'same alerts');
  eq(again.alerts.length, 1, 'one alert');
}

export function test_an_ack_for_a_ref_i_do_not_know_is_ignored() {
  const s = initial();
  ok(reduce(s, ack('other', 'al9')) === s, 'state replaced');
}

export function test_statuses_build_the_timeline_in_order_and_move_the_inbox_offset() {
  let s = reduce(reduce(initial(), report('r1')), ack('r1', 'al1'));
  s = reduce(s, status('al1', 'acknowledged', 2000));
  s = reduce(s, status('al1', 'dispatched', 3000));
  eq(s.alerts[0].status, 'dispatched', 'status');
  eq(s.inbox, '3000-0', 'offset');
  eq(timeline(s.alerts[0]).map((st) => [st.status, st.reached]), [
    ['received', true], ['acknowledged', true], ['dispatched', true], ['on_scene', false], ['resolved', false],
  ], 'timeline');
  ok(!cancellable(s.alerts[0]), 'dispatched is not cancellable');
}

export function test_a_replayed_status_is_not_a_second_step() {
  let s = reduce(reduce(initial(), report('r1')), ack('r1', 'al1'));
  s = reduce(s, status('al1', 'acknowledged', 2000));
  const before = s.alerts;
  s = reduce(s, status('al1', 'acknowledged', 2000));
  ok(s.alerts === before, 'alerts replaced by a replay');
}

export function test_cancellable_while_nobody_works_on_it() {
  let s = reduce(initial(), report('r1'));
  ok(!cancellable(s.alerts[0]), 'waiting: no alert id to cancel yet');
  s = reduce(s, ack('r1', 'al1'));
  ok(cancellable(s.alerts[0]), 'received');
  s = reduce(s, status('al1', 'acknowledged', 2000));
  ok(cancellable(s.alerts[0]), 'acknowledged');
  s = reduce(s, status('al1', 'cancelled', 2500));
  ok(!cancellable(s.alerts[0]), 'cancelled');
  eq(timeline(s.alerts[0]).map((st) => st.status), ['received', 'acknowledged', 'cancelled'], 'no course ahead once final');
}

export function test_merged_then_the_target_goes_on() {
  let s = reduce(reduce(initial(), report('r1')), ack('r1', 'al1'));
  s = reduce(s, status('al1', 'merged', 2000));
  eq(timeline(s.alerts[0]).map((st) => st.status), ['received', 'merged', 'acknowledged', 'dispatched', 'on_scene', 'resolved'], 'ahead');
  s = reduce(s, status('al1', 'dispatched', 3000));
  s = reduce(s, status('al1', 'resolved', 4000));
  eq(s.alerts[0].status, 'resolved', 'final');
}

export function test_a_status_of_an_alert_this_device_forgot_is_shown() {
  const s = reduce(initial(), status('al7', 'acknowledged', 2000));
  eq([s.alerts[0].alert, s.alerts[0].status, s.alerts[0].category], ['al7', 'acknowledged', null], 'kept');
}

export function test_a_status_before_its_ack_is_folded_in() {
  let s = reduce(initial(), report('r1'));
  s = reduce(s, status('al1', 'acknowledged', 2000));
  s = reduce(s, ack('r1', 'al1', 1100));
  eq(s.alerts.length, 1, 'one alert');
  eq(s.alerts[0].steps.map((st) => st.status), ['received', 'acknowledged'], 'steps');
  eq(s.alerts[0].status, 'acknowledged', 'latest');
}

export function test_a_permanent_error_fails_the_report_a_transient_one_keeps_it() {
  let s = reduce(initial(), report('r1'));
  s = reduce(s, { type: 'report.failed', ref: 'r1', code: 'unavailable', retry_after_s: 2 });
  eq(outbox(s).length, 1, 'still waiting after unavailable');
  s = reduce(s, { type: 'report.failed', ref: 'r1', code: 'out_of_area', message: 'outside' });
  eq(outbox(s).length, 0, 'not resent');
  eq([s.alerts[0].status, s.alerts[0].error.code], ['failed', 'out_of_area'], 'failed');
}

export function test_a_cancel_error_is_shown_on_the_alert_and_cleared_by_news() {
  let s = reduce(reduce(initial(), report('r1')), ack('r1', 'al1'));
  s = reduce(s, { type: 'cancel.failed', ref: 'r1', code: 'conflict' });
  eq(s.alerts[0].error.code, 'conflict', 'error');
  s = reduce(s, status('al1', 'dispatched', 3000));
  eq(s.alerts[0].error, null, 'cleared');
}

export function test_inbox_reset_forgets_the_offset() {
  let s = reduce(initial(), status('al1', 'acknowledged', 2000));
  s = reduce(s, { type: 'reset', stream: 'inbox' });
  eq(s.inbox, null, 'offset');
  eq(s.alerts.length, 1, 'alerts kept');
}

export function test_notices_newest_first_deduplicated_and_bounded() {
  let s = initial();
  for (let i = 1; i <= NOTICES_KEPT + 2; i++) s = reduce(s, { type: 'notice', notice: `nt${i}`, text: `t${i}`, severity: 'warning', at: i });
  s = reduce(s, { type: 'notice', notice: `nt${NOTICES_KEPT + 2}`, text: 'again', at: 99 });
  eq(s.notices.length, NOTICES_KEPT, 'bounded');
  eq(s.notices[0].text, `t${NOTICES_KEPT + 2}`, 'newest first, not duplicated');
  s = reduce(s, { type: 'notice', notice: 'nt-x', text: 'x', severity: '<b>' });
  eq(s.notices[0].severity, 'info', 'unknown severity reads as info');
  s = reduce(s, { type: 'notice.dismiss', notice: 'nt-x' });
  ok(!s.notices.some((n) => n.notice === 'nt-x'), 'dismissed');
}

export function test_finished_alerts_are_bounded_live_ones_kept() {
  let s = reduce(initial(), report('live', 1));
  for (let i = 0; i < FINISHED_KEPT + 5; i++) {
    s = reduce(reduce(s, report(`r${i}`, 10 + i)), ack(`r${i}`, `al${i}`, 10 + i));
    s = reduce(s, status(`al${i}`, 'resolved', 100 + i));
  }
  eq(s.alerts.length, FINISHED_KEPT + 1, 'bounded');
  ok(s.alerts.some((a) => a.ref === 'live'), 'the waiting report is kept');
  ok(!s.alerts.some((a) => a.ref === 'r0'), 'the oldest finished one went');
}

export function test_merge_steps_dedupes_and_sorts() {
  const a = [{ status: 'received', at: 1 }];
  ok(mergeSteps(a, [{ status: 'received', at: 1 }]) === a, 'same array when nothing new');
  eq(mergeSteps(a, [{ status: 'dispatched', at: 3 }, { status: 'acknowledged', at: 2 }]).map((s) => s.at), [1, 2, 3], 'sorted');
}

export function test_inside_the_outline() {
  const square = { type: 'Polygon', coordinates: [[[3, 43], [3.1, 43], [3.1, 43.1], [3, 43.1], [3, 43]]] };
  ok(inside(square, 43.05, 3.05), 'centre');
  ok(!inside(square, 43.2, 3.05), 'north of it');
  ok(!inside(square, 43.05, 2.9), 'west of it');
  ok(inside(null, 0, 0), 'no outline: the hub decides');
}

export function test_around_gives_the_point_and_six_neighbours_at_the_distance() {
  const points = around(43.18, 3.0, 300);
  eq(points.length, 7, 'count');
  eq(points[0], [43.18, 3.0], 'the point itself first');
  for (const [lat, lon] of points.slice(1)) {
    const dy = (lat - 43.18) * 111195;
    const dx = (lon - 3.0) * 111195 * Math.cos((43.18 * Math.PI) / 180);
    const d = Math.hypot(dx, dy);
    ok(Math.abs(d - 300) < 3, `distance ${d}`);
  }
}

export function test_a_waiting_report_can_be_withdrawn_a_sent_one_only_by_cancel() {
  let s = reduce(reduce(initial(), report('r1')), report('r2', 2000));
  s = reduce(s, { type: 'report.withdraw', ref: 'r1' });
  eq(s.alerts.map((a) => a.ref), ['r2'], 'withdrawn');
  s = reduce(s, ack('r2', 'al2'));
  s = reduce(s, { type: 'report.withdraw', ref: 'r2' });
  eq(s.alerts.map((a) => a.ref), ['r2'], 'an acked report stays (alert.cancel withdraws it)');
}


export function test_the_conversation_is_kept_once_per_message_and_answers_wait_with_their_ref() {
  let s = reduce(reduce(initial(), report('r1')), ack('r1', 'al1'));
  ok(answerable(s.alerts[0]), 'answerable while live');
  const ask = { type: 'message', message: 'ms1', alert: 'al1', from: 'control_room', text: 'Still?', at: 2000, stream: 'inbox', offset: '2000-0' };
  s = reduce(reduce(s, ask), ask);
  eq(s.alerts[0].messages.length, 1, 'once');
  s = reduce(s, { type: 'reply', ref: 'x1', alert: 'al1', text: 'Yes' });
  eq(pendingReplies(s), [{ type: 'message.reply', ref: 'x1', alert: 'al1', text: 'Yes' }], 'waits');
  s = reduce(s, { type: 'reply.done', ref: 'x1' });
  eq(pendingReplies(s), [], 'sent');
  ok(!rateable(s.alerts[0]), 'not rateable while live');
  s = reduce(s, status('al1', 'resolved', 3000));
  ok(rateable(s.alerts[0]) && !answerable(s.alerts[0]), 'rateable after the end');
  s = reduce(s, { type: 'rated', alert: 'al1', score: 4 });
  ok(!rateable(s.alerts[0]), 'once');
}

export function test_the_neighbourhood_follows_publication_and_status() {
  const view = (status, published = true) => ({ id: 'in7', category: 'noise', status, cell: 'c', published, opened_at: 1 });
  let s = reduce(initial(), { type: 'neighbours', incidents: [view('open')] });
  eq(s.nearby.map((i) => i.id), ['in7'], 'snapshot');
  s = reduce(s, { type: 'neighbour', incident: view('acknowledged') });
  eq(s.nearby[0].status, 'acknowledged', 'updated');
  s = reduce(s, { type: 'neighbour', incident: view('acknowledged', false) });
  eq(s.nearby, [], 'unpublished');
  s = reduce(s, { type: 'metoo', alert: 'al9', incident: 'in7', category: 'noise', at: 5 });
  eq([s.alerts[0].alert, s.alerts[0].status], ['al9', 'received'], 'my report');
}
