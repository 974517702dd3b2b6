// The chat page: joins "chat.<room>" with the SocketShark client and shows
// lines, members, the connection state and the ping latency.
// ?name=alice&room=lobby joins at once; ?ws=ws://host:port picks the daemon.

import { SocketShark } from '/socketshark.js';

const $ = (selector) => document.querySelector(selector);
const params = new URLSearchParams(location.search);
// A random id per page: the service tells two tabs of one user apart by it,
// and it is re-sent unchanged when the client re-subscribes after a reconnect.
const clientId = Array.from(crypto.getRandomValues(new Uint8Array(12)), (byte) => byte.toString(16).padStart(2, '0')).join('');

const lines = new Map(); // id -> line, shown sorted by id
let me = null;
let subscription = null;
let client = null;

async function daemonUrl() {
  if (params.get('ws')) return params.get('ws');
  const config = await fetch('/config.json').then((response) => response.json());
  return config.ws_url ?? `ws://${location.hostname}:9000`;
}

/** Asks the service for a ticket; called again on every reconnect. */
async function fetchTicket() {
  const response = await fetch('/ticket', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: me }),
  });
  const answer = await response.json();
  if (!response.ok) throw new Error(answer.error);
  return answer.ticket;
}

function showState(state, detail = {}) {
  const badge = $('#state');
  badge.textContent = state;
  badge.className = `badge state-${state}`;
  $('#state-detail').textContent =
    state === 'reconnecting' ? `retry in ${(detail.delay / 1000).toFixed(1)} s (close code ${detail.code ?? '–'})` : '';
}

function renderLines() {
  const list = $('#lines');
  list.replaceChildren(
    ...[...lines.values()]
      .sort((a, b) => a.id - b.id)
      .map((line) => {
        const item = document.createElement('li');
        const time = document.createElement('time');
        time.textContent = new Date(line.at).toLocaleTimeString();
        item.append(time);
        if (line.type === 'system') {
          item.className = 'system';
          item.append(line.text);
        } else {
          if (line.user === me) item.className = 'mine';
          const user = document.createElement('span');
          user.className = 'user';
          user.textContent = line.user;
          item.append(user, line.text);
        }
        return item;
      }),
  );
  list.scrollTop = list.scrollHeight;
}

function renderMembers(members) {
  $('#members').replaceChildren(
    ...members.map((name) => {
      const item = document.createElement('li');
      item.textContent = name;
      return item;
    }),
  );
}

/** History from before_subscribe, on the first subscribe and on every re-subscribe. */
function mergeHistory({ history, members }) {
  for (const line of history) lines.set(line.id, line);
  renderLines();
  renderMembers(members);
}

function onRoomFrame(frame) {
  if (frame.event === 'message') {
    const data = frame.data;
    if (data.type === 'presence') {
      renderMembers(data.members);
    } else {
      lines.set(data.id, data);
      renderLines();
    }
  } else if (frame.event === 'subscribe') {
    // Re-subscribed after a reconnect: catch up on what was said meanwhile.
    if (frame.status === 'ok') mergeHistory(frame.data);
    else $('#send-error').textContent = `Could not rejoin: ${frame.error}`;
  } else if (frame.event === 'unsubscribe') {
    $('#send-error').textContent = `Removed from the room: ${frame.error}`;
  }
}

async function join(name, room) {
  me = name;
  subscription = `chat.${room}`;
  $('#join-form').hidden = true;
  $('#chat').hidden = false;
  $('#room-title').textContent = `#${room}`;
  $('#me').textContent = `you are ${name}`;

  client = new SocketShark(await daemonUrl(), {
    ticket: fetchTicket,
    reconnect: { initialDelay: 500, maxDelay: 10000, factor: 2 },
    pingInterval: 5000,
  });
  client.on('state', (state, detail) => {
    showState(state, detail);
    if (state === 'authenticated') client.ping().catch(() => {});
  });
  client.on('latency', (ms) => ($('#latency').textContent = `${Math.round(ms)} ms`));
  client.on('unauthorized', ({ error, reason }) => {
    $('#send-error').textContent = `Not allowed in: ${error ?? reason ?? 'unauthorized'}`;
  });
  client.on('error', (error) => console.warn('socketshark:', error.message));

  const connected = client.connect();
  const subscribed = client.subscribe(subscription, { client_id: clientId }, onRoomFrame);
  try {
    await connected;
    mergeHistory((await subscribed).data);
  } catch (error) {
    $('#send-error').textContent = error.message;
  }
}

$('#join-form').addEventListener('submit', (event) => {
  event.preventDefault();
  join($('#name').value.trim(), $('#room').value.trim());
});

$('#message-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const input = $('#text');
  const text = input.value.trim();
  if (!text) return;
  try {
    // The service always answers an accepted line with its id.
    await client.send(subscription, { text }, { expectReply: true });
    input.value = '';
    $('#send-error').textContent = '';
  } catch (error) {
    $('#send-error').textContent = error.message;
  }
});

if (params.get('name')) join(params.get('name'), params.get('room') || 'lobby');
