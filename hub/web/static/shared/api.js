// HTTP calls to the hub's /api, with the session's bearer token.

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.code = body && body.error;
  }
}

/** GET a JSON document; rejects with ApiError on an HTTP error. */
export async function getJSON(path, token) {
  const reply = await fetch(path, { headers: { Authorization: `Bearer ${token}` }, cache: 'no-store' });
  const body = await reply.json().catch(() => null);
  if (!reply.ok) throw new ApiError(reply.status, body);
  return body;
}

let tenantCache = null;

/** The token's tenant: name, area, categories, map settings (fetched once per page). */
export function tenant(token) {
  if (!tenantCache) {
    tenantCache = getJSON('/api/v1/tenant', token);
    tenantCache.catch(() => {
      tenantCache = null;
    });
  }
  return tenantCache;
}

/** GeoJSON FeatureCollection of H3 cells (at most 500 per call). */
export function cells(token, list) {
  return getJSON(`/api/v1/cells?cells=${list.map(encodeURIComponent).join(',')}`, token);
}

/** The H3 cell at a point in the tenant's area (rejects with code out_of_area elsewhere). */
export async function cellAt(token, lat, lon) {
  return (await getJSON(`/api/v1/cells/at?lat=${lat}&lon=${lon}`, token)).cell;
}
