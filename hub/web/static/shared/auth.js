// Tokens: handed over in the URL fragment (#token=<JWT>), kept in sessionStorage.
// The fragment never reaches the server (browsers do not send it), and it is
// removed from the address bar at once, so it stays out of history and screenshots.

import { t } from './i18n.js';

const KEY = 'vigie.token';

function fromFragment() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ''));
  const token = params.get('token');
  if (!token) return null;
  params.delete('token');
  const rest = params.toString();
  history.replaceState(history.state, '', location.pathname + location.search + (rest ? `#${rest}` : ''));
  return token;
}

/** The token from the fragment (stored, then removed from the URL), else the stored one. */
export function takeToken() {
  const handed = fromFragment();
  if (handed) {
    sessionStorage.setItem(KEY, handed);
    return handed;
  }
  return sessionStorage.getItem(KEY);
}

function base64url(text) {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const bytes = Uint8Array.from(atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4)), (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/** The token's claims {sub, role, tenant, exp}, for display only: the hub verifies. */
export function claims(token) {
  try {
    const payload = JSON.parse(base64url(token.split('.')[1]));
    return { sub: payload.sub, role: payload.role, tenant: payload.tenant, exp: payload.exp };
  } catch {
    return null;
  }
}

/** True when the token's claims say `role` and it has not expired (by this clock). */
export function usable(token, role, nowMs = Date.now()) {
  const c = token ? claims(token) : null;
  return Boolean(c && c.role === role && typeof c.exp === 'number' && c.exp * 1000 > nowMs);
}

async function devMode() {
  try {
    const reply = await fetch('/signin', { method: 'HEAD', cache: 'no-store' });
    return reply.ok;
  } catch {
    return false;
  }
}

/** Send the user to the sign-in page (dev mode) or show the signed-out notice. */
export async function signInAgain(role) {
  if (await devMode()) {
    const next = location.pathname + location.search;
    location.assign(`/signin?role=${encodeURIComponent(role)}&next=${encodeURIComponent(next)}`);
    return;
  }
  showSignedOut();
}

/** A usable token for `role`, or null after redirecting to sign-in or showing the notice. */
export async function requireToken(role) {
  const token = takeToken();
  if (usable(token, role)) return token;
  await signInAgain(role);
  return null;
}

/** Forget the stored token. */
export function signOut() {
  sessionStorage.removeItem(KEY);
}

/** A full-page notice: no valid token, and no sign-in page on this hub. */
export function showSignedOut() {
  if (document.getElementById('vigie-signed-out')) return;
  const box = document.createElement('div');
  box.id = 'vigie-signed-out';
  box.className = 'signed-out';
  box.setAttribute('role', 'alert');
  const title = document.createElement('h1');
  title.textContent = t('common.signedOut');
  const text = document.createElement('p');
  text.textContent = t('common.signedOutHelp');
  box.append(title, text);
  document.body.append(box);
}
