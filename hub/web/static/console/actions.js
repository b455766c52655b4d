// The operator's commands, sent with `conn.request` and a `ref`. Rule: a
// command lost with the connection is sent again with THE SAME ref once the
// connection is back (the hub acts once per ref); an `error` reply is the
// hub's answer and is shown, not retried.

import { HubError } from '../shared/errors.js';

const RETRIES = 3;

/** A rejected command: the hub's error code; its message is the operator's sentence for it. */
export class CommandError extends HubError {
  constructor(reply) {
    super(reply, 'console.errors');
    this.name = 'CommandError';
  }
}

let counter = 0;

function freshRef() {
  counter += 1;
  return `c${Date.now().toString(36)}-${counter}-${Math.random().toString(36).slice(2, 8)}`;
}

export class Commands {
  /** @param conn the shared Connection; @param whenLive () => Promise resolved when live */
  constructor(conn, whenLive) {
    this.conn = conn;
    this.whenLive = whenLive;
  }

  /** Send `msg` with a ref; resolves with the reply, rejects with CommandError or on repeated loss. */
  async send(msg) {
    const withRef = { ...msg, ref: msg.ref || freshRef() };
    for (let attempt = 1; ; attempt += 1) {
      await this.whenLive();
      let reply;
      try {
        reply = await this.conn.request(withRef);
      } catch (lost) {
        if (attempt >= RETRIES) throw lost;
        continue; // timed out or connection lost: same ref again
      }
      if (reply.type === 'error') throw new CommandError(reply);
      return reply;
    }
  }

  acknowledge(incident) {
    return this.send({ type: 'incident.update', incident, status: 'acknowledged' });
  }

  setPriority(incident, priority) {
    return this.send({ type: 'incident.update', incident, priority });
  }

  close(incident, note) {
    return this.send({ type: 'incident.update', incident, status: 'closed', ...(note ? { note } : {}) });
  }

  reject(incident, note) {
    return this.send({ type: 'incident.update', incident, status: 'rejected', ...(note ? { note } : {}) });
  }

  assign(incident, unit) {
    return this.send({ type: 'dispatch.assign', incident, unit });
  }

  /** Merge `from` (the other incident) into `into` (the one on screen). */
  merge(into, from) {
    return this.send({ type: 'incident.merge', into, from: [from] });
  }

  notice(cells, text, severity) {
    return this.send({ type: 'notice', cells, text, severity });
  }

  recommend(incident) {
    return this.send({ type: 'incident.recommend', incident });
  }

  history(incident) {
    return this.send({ type: 'incident.history', incident });
  }
}
