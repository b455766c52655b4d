// Pure tests of the shared modules (run in Chromium by test_js_units.py).
import { backoffMs, compareOffsets, Connection, reconnects, BACKOFF_CAP_MS } from '../../hub/web/static/shared/connection.js';
import { claims, usable } from '../../hub/web/static/shared/auth.js';
import { h } from '../../hub/web/static/shared/dom.js';
import { setLang, t } from '../../hub/web/static/shared/i18n.js';
import { age } from '../../hub/web/static/shared/time.js';
import { safeNext } from '../../hub/web/static/signin/next.js';

function eq(actual, expected, what = '') {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: got ${a}, expected ${e}`);
}

export function test_close_code_rule() {
  const final = [1000, 1002, 1003, 1007, 1008, 1009, 1010, 4400, 4401, 4407];
  const again = [1001, 1006, 1011, 1012, 1013, 4000, 4408, 4429, 4500];
  eq(final.map(reconnects), final.map(() => false), 'final codes');
  eq(again.map(reconnects), again.map(() => true), 'reconnect codes');
}

export function test_offsets_compare_numerically() {
  eq(compareOffsets('10-0', '9-5') > 0, true, 'ms before seq');
  eq(compareOffsets('10-2', '10-10') < 0, true, 'seq as a number');
  eq(compareOffsets('10-2', '10-2'), 0, 'equal');
}

export function test_backoff_doubles_to_the_cap_with_jitter() {
  eq(backoffMs(0, () => 1), 500, 'first');
  eq(backoffMs(3, () => 1), 4000, 'fourth');
  eq(backoffMs(20, () => 1), BACKOFF_CAP_MS, 'capped');
  eq(backoffMs(20, () => 0), BACKOFF_CAP_MS / 2, 'jitter floor');
}

class FakeSocket {
  static last = null;
  constructor(url, protocols) {
    this.url = url;
    this.protocols = protocols;
    this.sent = [];
    FakeSocket.last = this;
  }
  send(frame) {
    this.sent.push(JSON.parse(frame));
  }
  close() {}
  deliver(msg) {
    this.onmessage({ data: JSON.stringify(msg) });
  }
}

export function test_connection_dedupes_by_offset_and_forgets_on_reset() {
  const got = [];
  const conn = new Connection({ token: 'tk', url: 'ws://x/ws', WebSocket: FakeSocket, onMessage: (m) => got.push(m) });
  conn.start();
  const ws = FakeSocket.last;
  ws.onopen();
  eq(ws.sent[0], { type: 'hello', token: 'tk' }, 'hello');
  eq(ws.protocols, ['vigie.v1.json'], 'subprotocol');
  ws.deliver({ type: 'welcome', heartbeat_s: 25 });
  eq(conn.status, 'live', 'live after welcome');
  ws.deliver({ type: 'incident', stream: 'events', offset: '5-0' });
  ws.deliver({ type: 'incident', stream: 'events', offset: '5-0' }); // replayed: dropped
  ws.deliver({ type: 'incident', stream: 'events', offset: '4-9' }); // older: dropped
  ws.deliver({ type: 'alert.status', stream: 'inbox', offset: '4-9' }); // another stream
  eq(got.map((m) => m.offset || m.type), ['welcome', '5-0', '4-9'], 'delivered');
  eq(conn.offsets, { events: '5-0', inbox: '4-9' }, 'offsets');
  ws.deliver({ type: 'reset', stream: 'events' });
  eq(conn.offsets, { inbox: '4-9' }, 'reset forgets');
  ws.deliver({ type: 'snapshot', stream: 'events', offset: '3-0', incidents: [] });
  eq(conn.offsets.events, '3-0', 'fresh snapshot');
  conn.close();
}

export async function test_request_matches_the_reply_by_ref() {
  const conn = new Connection({ token: 'tk', url: 'ws://x/ws', WebSocket: FakeSocket });
  conn.start();
  const ws = FakeSocket.last;
  ws.onopen();
  ws.deliver({ type: 'welcome', heartbeat_s: 25 });
  const pending = conn.request({ type: 'alert.cancel', alert: 'al1' });
  const ref = ws.sent[1].ref;
  eq(typeof ref, 'string', 'a ref was added');
  ws.deliver({ type: 'ok', ref });
  eq((await pending).type, 'ok', 'resolved with the reply');
  const same = conn.request({ type: 'alert.cancel', alert: 'al1', ref: 'mine' });
  eq(ws.sent[2].ref, 'mine', 'the given ref is kept');
  ws.onclose({ code: 1006, reason: '' });
  let reason = null;
  await same.catch((error) => {
    reason = error.reason;
  });
  eq(reason, 'lost', 'rejected on loss');
  eq(conn.status, 'reconnecting', 'reconnecting after 1006');
  conn.close();
}

export function test_connection_stops_on_4401_with_auth_flag() {
  const statuses = [];
  const conn = new Connection({ token: 'tk', url: 'ws://x/ws', WebSocket: FakeSocket, onStatus: (s, i) => statuses.push([s, i.auth]) });
  conn.start();
  FakeSocket.last.onclose({ code: 4401, reason: 'token' });
  eq(statuses.at(-1), ['closed', true], 'closed, sign in again');
  eq(conn.send({ type: 'x' }), false, 'nothing sent when not live');
}

function jwt(payload) {
  const utf8 = String.fromCharCode(...new TextEncoder().encode(JSON.stringify(payload)));
  const b64 = btoa(utf8).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  return `e30.${b64}.sig`;
}

export function test_claims_and_usable() {
  const token = jwt({ sub: 'op-é', role: 'console', tenant: 'narbonne', exp: 2000 });
  eq(claims(token), { sub: 'op-é', role: 'console', tenant: 'narbonne', exp: 2000 }, 'claims');
  eq(usable(token, 'console', 1999 * 1000), true, 'valid');
  eq(usable(token, 'console', 2000 * 1000), false, 'expired');
  eq(usable(token, 'unit', 0), false, 'wrong role');
  eq(claims('garbage'), null, 'garbage');
}

export function test_h_makes_text_never_html() {
  const el = h('p', { class: 'x', dataset: { id: 'in1' } }, '<img src=x onerror=alert(1)>', null, ['a', 'b']);
  eq(el.textContent, '<img src=x onerror=alert(1)>ab', 'text');
  eq(el.querySelector('img'), null, 'no element parsed');
  eq(el.dataset.id, 'in1', 'dataset');
  let refused = false;
  try {
    h('p', { onclick: 'alert(1)' });
  } catch {
    refused = true;
  }
  eq(refused, true, 'string handlers refused');
}

export function test_t_fills_placeholders_and_falls_back_to_the_key() {
  setLang('en');
  eq(t('common.reconnectingIn', { s: 3 }), 'Reconnecting in 3 s', 'en');
  setLang('fr');
  eq(t('common.reconnectingIn', { s: 3 }), 'Reconnexion dans 3 s', 'fr');
  eq(t('nothing.here'), 'nothing.here', 'missing key');
}

export function test_age() {
  eq(age(0, 59000), '59 s', 's');
  eq(age(0, 180000), '3 min', 'min');
  eq(age(0, 7200000), '2 h', 'h');
}

export function test_sign_in_goes_only_to_this_site() {
  eq(safeNext('/console?lang=en', 'console'), '/console?lang=en', 'path');
  eq(safeNext('//evil.example/x', 'unit'), '/unit', 'protocol-relative');
  eq(safeNext('/\\evil.example', 'unit'), '/unit', 'backslash');
  eq(safeNext('https://evil.example', 'citizen'), '/app', 'absolute');
  eq(safeNext(null, 'console'), '/console', 'none');
}

export function test_stored_offsets_resume_in_hello() {
  const conn = new Connection({ token: 'tk', url: 'ws://x/ws', WebSocket: FakeSocket, offsets: { inbox: '7-1' } });
  conn.start();
  FakeSocket.last.onopen();
  eq(FakeSocket.last.sent[0], { type: 'hello', token: 'tk', resume: { inbox: '7-1' } }, 'hello resumes the inbox');
  conn.close();
}
