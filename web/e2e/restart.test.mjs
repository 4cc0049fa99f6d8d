// The server restarts (SIGTERM, then the same ports and data folder) under
// an open page: the page shows it is reconnecting, comes back live, and
// shows every message exactly once, in the server's order.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Server, launch, openAs, waitForMessage, renderedMessages, openConversation, send, pageErrors, limits,
} from './harness.mjs';

let server, browser;

before(async () => {
  server = await Server.create('restart');
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

test('the page reconnects after a server restart, nothing lost or doubled', { timeout: 180000 }, async () => {
  const bobToken = await server.register('bob');
  await server.register('alice');
  const fromBob = (body, i) => server.request('POST', '/v1/dm/alice/messages', bobToken,
    { body, client_id: `bob-${i}` });

  await fromBob('before 0', 0);
  const alice = await openAs(browser, server, 'alice');
  const sockets = [];
  alice.on('websocket', (ws) => sockets.push(ws.url()));
  await openConversation(alice, 'bob');
  for (let i = 1; i <= 5; i++) await fromBob(`before ${i}`, i);
  await waitForMessage(alice, 'before 5');

  // Watch the states the page goes through.
  await alice.evaluate(() => {
    window.seenStates = [];
    new MutationObserver(() => window.seenStates.push(document.getElementById('conn').dataset.state))
      .observe(document.getElementById('conn'), { attributes: true, attributeFilter: ['data-state'] });
  });

  await server.stop();
  await alice.waitForSelector('#conn[data-state="reconnecting"]', { timeout: limits.ui });
  await server.start();

  // Bob writes right away, maybe before the page is back.
  for (let i = 1; i <= 5; i++) await fromBob(`after ${i}`, 100 + i);
  // A retried send with the same client_id must not double.
  await fromBob('after 5', 105);

  await alice.waitForSelector('#conn[data-state="live"]', { timeout: 45000 });
  await waitForMessage(alice, 'after 5', 30000);
  // Alice answers after the restart, from the page.
  await send(alice, 'all good here');
  await waitForMessage(alice, 'all good here');
  await alice.waitForTimeout(1000); // let any duplicate arrive, if one would

  const shown = await renderedMessages(alice);
  const { messages } = await server.request('GET', '/v1/dm/alice/messages?limit=100', bobToken);
  assert.deepEqual(shown.map((m) => m.body), messages.map((m) => m.body));
  assert.deepEqual(shown.map((m) => m.id), messages.map((m) => m.id));
  assert.deepEqual(shown.map((m) => m.body), [
    'before 0', 'before 1', 'before 2', 'before 3', 'before 4', 'before 5',
    'after 1', 'after 2', 'after 3', 'after 4', 'after 5', 'all good here',
  ]);
  assert.equal(new Set(shown.map((m) => m.id)).size, shown.length);
  assert.equal(await alice.locator('#msg-list li.msg.pending, #msg-list li.msg.failed').count(), 0);

  // It resumed from its stream cursor rather than starting afresh.
  assert.ok(sockets.length >= 1 && sockets.every((u) => /[?&]stream=[^&]+/.test(u)), `sockets: ${sockets}`);

  const states = await alice.evaluate(() => window.seenStates);
  assert.ok(states.includes('reconnecting') && states.at(-1) === 'live', `states: ${states}`);
  assert.deepEqual(pageErrors(alice), []);
});
