// Dev sign-in (vigie serve --dev, the demo): mint a token, go to `next#token=`.

import { t, translate } from '../shared/i18n.js';
import { safeNext } from './next.js';

const DEFAULT_SUB = { console: 'operator-web', unit: 'u-web', citizen: 'c-web' };

async function loadTenants(select) {
  const reply = await fetch('/signin/tenants', { cache: 'no-store' });
  for (const tenant of await reply.json()) {
    const option = document.createElement('option');
    option.value = tenant.id;
    option.textContent = tenant.name;
    select.append(option);
  }
}

async function submit(event, form) {
  event.preventDefault();
  const error = document.getElementById('signin-error');
  error.textContent = '';
  const body = { role: form.role.value, sub: form.sub.value.trim(), tenant: form.tenant.value };
  const reply = await fetch('/signin', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  const answer = await reply.json().catch(() => ({}));
  if (!reply.ok) {
    error.textContent = t('signin.failed', { message: answer.message || reply.status });
    return;
  }
  const next = safeNext(new URLSearchParams(location.search).get('next'), body.role);
  location.assign(`${next}#token=${encodeURIComponent(answer.token)}`);
}

function main() {
  translate();
  const form = document.getElementById('signin-form');
  const params = new URLSearchParams(location.search);
  const role = params.get('role');
  if (role in DEFAULT_SUB) form.role.value = role;
  form.sub.value = DEFAULT_SUB[form.role.value];
  form.role.addEventListener('change', () => {
    form.sub.value = DEFAULT_SUB[form.role.value];
  });
  form.addEventListener('submit', (event) => submit(event, form));
  loadTenants(form.tenant);
}

main();
