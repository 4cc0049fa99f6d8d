// The sign-in and sign-up screen.

import { app } from './app.js';
import { $ } from './dom.js';

const userPattern = /^[a-z0-9][a-z0-9_.-]{0,63}$/;

const copy = {
  login: {
    title: 'Welcome back', lead: 'Sign in to pick up your conversations.', submit: 'Sign in',
    switchText: 'New to Parley?', switchButton: 'Create an account', autocomplete: 'current-password',
  },
  register: {
    title: 'Create your account', lead: 'Pick a username; people find you by it.', submit: 'Create account',
    switchText: 'Already have an account?', switchButton: 'Sign in', autocomplete: 'new-password',
  },
};

let mode = 'login';

function setMode(m) {
  mode = m;
  const c = copy[m];
  $('auth-title').textContent = c.title;
  $('auth-lead').textContent = c.lead;
  $('auth-submit').textContent = c.submit;
  $('auth-switch-text').textContent = c.switchText;
  $('auth-switch').textContent = c.switchButton;
  $('auth-pass').autocomplete = c.autocomplete;
  $('auth-user-hint').hidden = m !== 'register';
  $('auth-error').textContent = '';
}

/** showAuth shows the screen, with a reason when the session just ended. */
export function showAuth(reason) {
  $('shell').hidden = true;
  $('auth').hidden = false;
  $('auth-pass').value = '';
  $('auth-error').textContent = reason || '';
  $('auth-user').focus();
  document.title = 'Sign in · Parley';
}

export function initAuth() {
  $('auth-switch').addEventListener('click', () => {
    setMode(mode === 'login' ? 'register' : 'login');
    $('auth-user').focus();
  });

  $('auth-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const user = $('auth-user').value.trim().toLowerCase();
    const pass = $('auth-pass').value;
    const err = $('auth-error');
    $('auth-user').removeAttribute('aria-invalid');

    if (!userPattern.test(user)) {
      err.textContent = 'Usernames use lowercase letters, digits, “_”, “-” and “.”, and start with a letter or digit.';
      $('auth-user').setAttribute('aria-invalid', 'true');
      $('auth-user').focus();
      return;
    }
    if (!pass) {
      err.textContent = 'Enter your password.';
      $('auth-pass').focus();
      return;
    }

    const button = $('auth-submit');
    button.disabled = true;
    err.textContent = '';
    try {
      await app.signIn(mode, user, pass);
    } catch (e) {
      if (mode === 'login' && (e.status === 401 || e.status === 404)) {
        err.textContent = 'That username and password do not match.';
      } else if (e.status === 409) {
        err.textContent = 'That username is taken. Try another, or sign in.';
      } else {
        err.textContent = e.message || 'Something went wrong. Try again.';
      }
    } finally {
      button.disabled = false;
    }
  });

  setMode('login');
}
