// Where the sign-in page goes after minting a token.

const HOME = { console: '/console', unit: '/unit', citizen: '/app' };

/** `next` when it is a path of this site, else the role's app (never another origin). */
export function safeNext(next, role) {
  if (typeof next === 'string' && /^\/(?![/\\])/.test(next)) return next;
  return HOME[role] || '/console';
}
