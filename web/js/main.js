// Entry point: wires the views to the state and routes by the URL hash
// (#/c/<conversation id>), so reload and the back button keep their place.

import { app } from './app.js';
import { $ } from './dom.js';
import { initAuth, showAuth } from './auth.js';
import { initSidebar } from './sidebar.js';
import { initChat } from './chat.js';
import { initDialogs } from './dialogs.js';
import { initInbox } from './inbox.js';

function route() {
  if (!app.me) return;
  const m = location.hash.match(/^#\/c\/(.+)$/);
  const id = m ? decodeURIComponent(m[1]) : null;
  if (id && !app.convs.has(id)) {
    if (id.startsWith('dm:')) {
      const peer = id.slice(3).split(':').find((u) => u !== app.me.id) || app.me.id;
      app.openDM(peer);
    } else if (!app.convsLoaded) {
      return; // wait for the list; route runs again when it comes
    } else {
      location.hash = '';
      return;
    }
  }
  if (id !== app.current) app.open(id);
}

function showApp() {
  $('auth').hidden = true;
  $('shell').hidden = false;
  route();
}

async function boot() {
  initAuth();
  initSidebar();
  initChat();
  initDialogs();
  initInbox();

  app.on('session', ({ user, reason }) => {
    if (user) showApp();
    else { location.hash = ''; showAuth(reason); }
  });
  app.on('convs', () => { if (!app.current) route(); });
  window.addEventListener('hashchange', route);

  document.body.removeAttribute('aria-busy');
  if (!(await app.restore())) showAuth();
}

boot();
