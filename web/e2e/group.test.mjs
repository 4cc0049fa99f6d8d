// A group of three: created in the UI, chatting live, then one member is
// removed and stops getting the group's messages.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Server, launch, openAs, send, waitForMessage, renderedMessages, openConversation, shoot, pageErrors,
} from './harness.mjs';

let server, browser;

before(async () => {
  server = await Server.create('group');
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

test('a group of three with a member removed', { timeout: 150000 }, async () => {
  const alice = await openAs(browser, server, 'alice', { register: true });
  const bob = await openAs(browser, server, 'bob', { register: true });
  const carol = await openAs(browser, server, 'carol', { register: true });

  // Alice creates the group in the dialog, picking members by name.
  await alice.click('#new-group');
  await alice.fill('#group-name', 'Weekend trip');
  for (const name of ['bob', 'carol']) {
    await alice.fill('#group-search', name.slice(0, 2));
    await alice.locator('#group-results [role=option]', { hasText: name }).click();
    await alice.locator('#group-chips .chip', { hasText: name }).waitFor();
  }
  await alice.click('#group-form button[type=submit]');
  await alice.waitForSelector('#dlg-group', { state: 'hidden' });
  await alice.locator('#chat-name', { hasText: 'Weekend trip' }).waitFor();

  // The others see the group appear, live, and everyone talks.
  for (const p of [bob, carol]) {
    await p.locator('#conv-list .conv-name', { hasText: 'Weekend trip' }).waitFor();
    await openConversation(p, 'Weekend trip');
  }
  await send(alice, 'Cabin or tents?');
  await send(bob, 'Cabin, definitely.');
  await send(carol, 'Tents! It is summer.');
  for (const p of [alice, bob, carol]) {
    for (const text of ['Cabin or tents?', 'Cabin, definitely.', 'Tents! It is summer.']) await waitForMessage(p, text);
  }
  // Same order for everyone.
  const order = (await renderedMessages(alice)).map((m) => m.id);
  assert.deepEqual((await renderedMessages(bob)).map((m) => m.id), order);
  assert.deepEqual((await renderedMessages(carol)).map((m) => m.id), order);
  // Sender names are shown in a group, for others' messages.
  assert.equal(await bob.locator('#msg-list li.msg:not(.mine) .author', { hasText: 'carol' }).count(), 1);

  // The group's details list the three members.
  await alice.click('#group-info');
  await alice.waitForSelector('#dlg-info[open]');
  await alice.locator('#info-members .member[data-user="carol"]').waitFor();
  assert.equal(await alice.locator('#info-members .member').count(), 3);
  await shoot(alice, 'group-details-desktop-light');

  // Alice removes carol.
  await alice.click('#info-members .member[data-user="carol"] button');
  await alice.locator('#info-members .member[data-user="carol"]').waitFor({ state: 'detached' });
  assert.equal(await alice.locator('#info-members .member').count(), 2);
  await alice.keyboard.press('Escape');
  await alice.waitForSelector('#dlg-info', { state: 'hidden' });

  // Everyone sees the change in the conversation; carol can no longer post.
  for (const p of [alice, bob, carol]) {
    await p.locator('#msg-list li.event', { hasText: /removed (carol|you)/ }).waitFor();
  }
  await carol.waitForSelector('#composer', { state: 'hidden' });
  await carol.locator('#composer-note', { hasText: 'no longer a member' }).waitFor();

  // Messages after the removal reach bob, never carol.
  await send(alice, 'Cabin it is. Carol, we will miss you.');
  await send(bob, 'Booking it now.');
  await waitForMessage(bob, 'we will miss you');
  await waitForMessage(alice, 'Booking it now.');
  await carol.waitForTimeout(1500);
  const onCarol = (await renderedMessages(carol)).map((m) => m.body);
  assert.ok(!onCarol.some((b) => b.includes('miss you') || b.includes('Booking')), `carol got: ${onCarol}`);

  // The server agrees: carol cannot read the group any more.
  const carolToken = await carol.evaluate(() => localStorage.getItem('parley.token'));
  const gid = (await alice.evaluate(() => location.hash)).replace('#/c/', '').replace(/^group%3A/i, '');
  await assert.rejects(server.request('GET', `/v1/groups/${gid}/messages`, carolToken), /40[34]/);

  await alice.evaluate(() => document.getElementById('scroller').scrollTo(0, 1e9));
  await shoot(alice, 'group-desktop-light');

  // Bob leaves on his own; alice sees it.
  bob.on('dialog', (d) => d.accept());
  await bob.click('#group-info');
  await bob.click('#info-leave');
  await bob.waitForSelector('#dlg-info', { state: 'hidden' });
  await bob.locator('#conv-list .conv-name', { hasText: 'Weekend trip' }).waitFor({ state: 'detached' });
  await alice.locator('#msg-list li.event', { hasText: 'Bob left' }).waitFor();

  assert.deepEqual(pageErrors(alice, bob, carol), []);
});
