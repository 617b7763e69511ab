// The lab's one connection to memd: JSON-RPC 2.0 over the WebSocket at /rpc,
// the same messages as on memd's Unix socket. Reconnects by itself.

const listeners = new Set();   // called with (state, detail) on open / close
let socket = null;
let nextId = 1;
const pending = new Map();     // id -> {resolve, reject, onNotification}
let methods = null;            // the names rpc.discover lists
let retryMs = 500;

/** A memd error, with its JSON-RPC code, message and data. */
export class MemdError extends Error {
  constructor(error) {
    super(error.message);
    this.code = error.code;
    this.data = error.data || {};
  }
  /** memd's message as a sentence, with its kind. */
  get sentence() {
    const kind = this.data.kind ? ` (${this.data.kind})` : "";
    return `memd: ${this.message}${kind}`;
  }
}

export function onConnection(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function isOpen() {
  return socket !== null && socket.readyState === WebSocket.OPEN;
}

function announce(state, detail) {
  for (const listener of listeners) listener(state, detail);
}

export function connect() {
  const ws = new WebSocket(`ws://${location.host}/rpc`);
  socket = ws;
  ws.onopen = () => {
    retryMs = 500;
    methods = null;
    announce("open");
  };
  ws.onmessage = (event) => {
    let message;
    try { message = JSON.parse(event.data); } catch { return; }
    if (message.id === undefined && message.method) {
      const requestId = message.params && message.params.requestId;
      const call = pending.get(requestId);
      if (call && call.onNotification) call.onNotification(message.method, message.params);
      return;
    }
    const call = pending.get(message.id);
    if (!call) return;
    pending.delete(message.id);
    if (message.error) call.reject(new MemdError(message.error));
    else call.resolve(message.result);
  };
  ws.onclose = (event) => {
    if (socket !== ws) return;
    socket = null;
    const reason = event.reason || "the connection to memctl web closed";
    for (const call of pending.values()) call.reject(new MemdError({ code: 0, message: reason, data: { kind: "disconnected" } }));
    pending.clear();
    announce("closed", reason);
    setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, 5000);
  };
}

/** Resolves once the connection is open. */
export function ready() {
  if (isOpen()) return Promise.resolve();
  return new Promise((resolve) => {
    const stop = onConnection((state) => {
      if (state === "open") { stop(); resolve(); }
    });
  });
}

/**
 * Calls a method. `onNotification(method, params)` gets the notifications memd
 * sends for this request (watch.sample, experiment.progress, …). The returned
 * promise has `.id`, for cancel().
 */
export function call(method, params = {}, onNotification = null) {
  const id = nextId++;
  const promise = new Promise((resolve, reject) => {
    if (!isOpen()) {
      reject(new MemdError({ code: 0, message: "not connected to memd", data: { kind: "disconnected" } }));
      return;
    }
    pending.set(id, { resolve, reject, onNotification });
    socket.send(JSON.stringify({ jsonrpc: "2.0", id, method, params }));
  });
  promise.id = id;
  return promise;
}

/** Asks memd to cancel a request ($/cancelRequest). */
export function cancel(id) {
  if (isOpen()) socket.send(JSON.stringify({ jsonrpc: "2.0", method: "$/cancelRequest", params: { id } }));
}

/** Stops waiting for a request's answer (the view that made it has gone). */
export function forget(id) {
  pending.delete(id);
}

/** The method names this memd answers (rpc.discover), asked once per connection. */
export async function has(name) {
  if (methods === null) {
    const document = await call("rpc.discover");
    methods = new Set(document.methods.map((m) => m.name));
  }
  return methods.has(name);
}
