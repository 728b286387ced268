/*
 * Tugi's contact card for a shop's web page.
 *
 *   <script src="https://tugi.example/static/tugi-widget.js"
 *           data-tugi-target="team"            (or a staff id, e.g. "mari")
 *           data-tugi-page="cart-42"           (optional: the page reference Tugi records)
 *           data-tugi-order="order-1001"       (optional: an order reference, for call-backs)
 *           data-tugi-api="https://tugi.example"  (optional: defaults to the script's origin)
 *           data-tugi-team-name="Our team"     (optional)
 *           data-tugi-mount="#contact"></script>  (optional: where to put the card)
 *
 * renders a contact card next to the tag (or into data-tugi-mount): the person's (or the
 * team's) photo and name, a presence dot kept live over a WebSocket, a Call button (WebRTC via
 * JsSIP, through Asterisk, with a short-lived call token from Tugi), Mute and Hang up, and a
 * call-back form. Everything lives in a Shadow DOM, so the shop's CSS cannot break it and its
 * CSS cannot leak into the shop's page.
 *
 * Build: web/widget/build.sh bundles this file and JsSIP into web/static/tugi-widget.js.
 */

import JsSIP from 'jssip';

const STATE_WORDS = {
  available: 'Available',
  busy: 'Busy right now',
  offline: 'Offline',
};

const STATE_SENTENCE = {
  available: (name) => `${name} is available`,
  busy: (name) => `${name} is busy`,
  offline: (name) => `${name} is offline`,
};

const CALL_TEXT = {
  starting: 'Calling…',
  calling: 'Calling…',
  connected: 'Connected',
  ended: 'Call ended',
  refused: 'Call refused — please try again',
  busy: 'Everyone is busy — please try again, or ask us to call you back',
  unavailable: 'Nobody could take the call — please try again, or ask us to call you back',
  microphone: 'The call needs your microphone — please allow it and try again',
  unsupported: 'Your browser cannot make calls — please ask us to call you back',
  failed: 'The call could not be made — please try again',
};

const RECONNECT_MIN_MS = 1000;
const RECONNECT_MAX_MS = 30000;
const POLL_MS = 30000;

const STYLE = `
:host { all: initial; display: block; contain: content; }
.card {
  box-sizing: border-box; max-width: 22rem; padding: 1rem; border-radius: 0.75rem;
  background: #fff; color: #1f2328; border: 1px solid #d0d7de;
  box-shadow: 0 1px 3px rgba(0,0,0,0.08);
  font: 15px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif;
}
.who { display: flex; align-items: center; gap: 0.75rem; }
.avatar { position: relative; flex: none; width: 64px; height: 64px; }
.avatar img, .avatar .initials {
  width: 64px; height: 64px; border-radius: 50%; display: block; object-fit: cover;
}
.avatar .initials {
  background: #0b6e4f; color: #fff; font-weight: 600; font-size: 22px;
  display: flex; align-items: center; justify-content: center;
}
.dot {
  position: absolute; right: 0; bottom: 2px; width: 16px; height: 16px; border-radius: 50%;
  border: 2px solid #fff; box-sizing: border-box; background: #8c959f;
}
.dot[data-state="available"] { background: #1a7f37; }
.dot[data-state="busy"] { background: #cf222e; }
.dot[data-state="offline"] { background: #8c959f; }
.name { margin: 0; font-size: 1.05rem; font-weight: 600; }
.presence { margin: 0; color: #57606a; font-size: 0.9rem; }
.hours { margin: 0.75rem 0 0; color: #57606a; font-size: 0.9rem; }
.actions { display: flex; gap: 0.5rem; margin-top: 0.75rem; flex-wrap: wrap; }
button {
  font: inherit; cursor: pointer; border-radius: 0.5rem; padding: 0.45rem 0.9rem;
  border: 1px solid #d0d7de; background: #f6f8fa; color: #1f2328;
}
button.call { background: #1a7f37; border-color: #1a7f37; color: #fff; font-weight: 600; }
button.hangup { background: #cf222e; border-color: #cf222e; color: #fff; font-weight: 600; }
button.mute[aria-pressed="true"] { background: #fff8c5; border-color: #d4a72c; }
button:disabled { opacity: 0.55; cursor: default; }
button:focus-visible, input:focus-visible { outline: 3px solid #0969da; outline-offset: 2px; }
[hidden] { display: none !important; }
.status { min-height: 1.4em; margin: 0.5rem 0 0; font-weight: 600; }
.status[data-tone="bad"] { color: #cf222e; }
.status[data-tone="good"] { color: #1a7f37; }
form { margin-top: 0.9rem; padding-top: 0.75rem; border-top: 1px solid #d8dee4; }
label { display: block; font-size: 0.9rem; margin-bottom: 0.25rem; }
.row { display: flex; gap: 0.5rem; }
input {
  font: inherit; flex: 1; min-width: 0; padding: 0.4rem 0.5rem; border-radius: 0.5rem;
  border: 1px solid #8c959f; color: #1f2328; background: #fff;
}
input[aria-invalid="true"] { border-color: #cf222e; }
.field-error { margin: 0.3rem 0 0; color: #cf222e; font-size: 0.9rem; }
.callback-status { margin: 0.3rem 0 0; font-size: 0.9rem; min-height: 1.2em; }
`;

function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (key === 'text') node.textContent = value;
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children) node.append(child);
  return node;
}

function initials(name) {
  return name
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 2)
    .map((word) => word[0].toUpperCase())
    .join('');
}

class TugiWidget {
  constructor(host, options) {
    this.host = host;
    this.options = options;
    this.presence = null;
    this.socket = null;
    this.reconnectDelay = RECONNECT_MIN_MS;
    this.reconnectTimer = null;
    this.pollTimer = null;
    this.ua = null;
    this.session = null;
    this.callState = 'idle';
    this.render();
    // browser tests reach the widget (its peer connection, its state) through this
    if (options.test) window.tugiTestWidget = this;
    this.loadPresence();
    this.connectPresence();
  }

  // ------------------------------------------------------------------ the card

  render() {
    const root = this.host.attachShadow({ mode: 'open' });
    root.append(el('style', { text: STYLE }));
    this.photo = el('img', { alt: '', width: 64, height: 64, hidden: true });
    this.initials = el('span', { class: 'initials', 'aria-hidden': 'true' });
    this.dot = el('span', { class: 'dot', role: 'img', 'data-state': 'offline', 'aria-label': 'Checking who is available' });
    this.name = el('p', { class: 'name', id: 'tugi-name', text: this.options.teamName });
    this.presenceText = el('p', { class: 'presence', text: 'Checking who is available…' });
    this.hours = el('p', { class: 'hours', hidden: true });
    this.callButton = el('button', { type: 'button', class: 'call', text: 'Call' });
    this.muteButton = el('button', { type: 'button', class: 'mute', 'aria-pressed': 'false', hidden: true, text: 'Mute' });
    this.hangupButton = el('button', { type: 'button', class: 'hangup', hidden: true, text: 'Hang up' });
    this.status = el('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
    this.audio = el('audio', { autoplay: true });
    this.number = el('input', {
      id: 'tugi-number', name: 'number', type: 'tel', autocomplete: 'tel', inputmode: 'tel',
      required: true, 'aria-describedby': 'tugi-number-error', placeholder: '+372 5123 4567',
    });
    this.numberError = el('p', { class: 'field-error', id: 'tugi-number-error', hidden: true });
    this.callbackStatus = el('p', { class: 'callback-status', role: 'status', 'aria-live': 'polite' });
    this.callbackButton = el('button', { type: 'submit', text: 'Call me back' });
    this.form = el('form', { class: 'callback', novalidate: true }, [
      el('label', { for: 'tugi-number', text: 'Or leave your number and we will call you back' }),
      el('div', { class: 'row' }, [this.number, this.callbackButton]),
      this.numberError,
      this.callbackStatus,
    ]);
    this.card = el('section', { class: 'card', 'aria-labelledby': 'tugi-name' }, [
      el('div', { class: 'who' }, [
        el('div', { class: 'avatar' }, [this.photo, this.initials, this.dot]),
        el('div', {}, [this.name, this.presenceText]),
      ]),
      this.hours,
      el('div', { class: 'actions' }, [this.callButton, this.muteButton, this.hangupButton]),
      this.status,
      this.audio,
      this.form,
    ]);
    root.append(this.card);
    this.photo.addEventListener('error', () => {
      this.photo.hidden = true;
      this.initials.hidden = false;
    });
    this.photo.addEventListener('load', () => {
      this.photo.hidden = false;
      this.initials.hidden = true;
    });
    this.callButton.addEventListener('click', () => this.startCall());
    this.hangupButton.addEventListener('click', () => this.hangUp());
    this.muteButton.addEventListener('click', () => this.toggleMute());
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.requestCallback();
    });
    if (!window.RTCPeerConnection || !navigator.mediaDevices || !window.WebSocket) {
      this.callButton.hidden = true;
      this.setStatus(CALL_TEXT.unsupported, 'bad');
    }
    this.host.dataset.callState = 'idle';
  }

  // ------------------------------------------------------------------ presence

  async loadPresence() {
    try {
      const response = await fetch(`${this.options.api}/api/public/presence`, { credentials: 'omit' });
      if (response.ok) this.applyPresence({ type: 'presence', ...(await response.json()) });
    } catch (error) {
      // the WebSocket (or the next poll) will bring it
    }
  }

  connectPresence() {
    clearTimeout(this.reconnectTimer);
    const url = `${this.options.api.replace(/^http/, 'ws')}/api/public/presence/ws`;
    let socket;
    try {
      socket = new WebSocket(url);
    } catch (error) {
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    socket.addEventListener('open', () => {
      this.reconnectDelay = RECONNECT_MIN_MS;
      clearInterval(this.pollTimer);
      this.pollTimer = null;
    });
    socket.addEventListener('message', (event) => {
      try {
        this.applyPresence(JSON.parse(event.data));
      } catch (error) {
        // a message we do not understand changes nothing
      }
    });
    socket.addEventListener('close', () => {
      if (this.socket === socket) {
        this.socket = null;
        this.scheduleReconnect();
      }
    });
  }

  scheduleReconnect() {
    // Back off exponentially, with jitter so a restarted server is not hit by every widget at
    // once; meanwhile poll, so the dot does not stay stale for long.
    const delay = this.reconnectDelay * (0.75 + Math.random() * 0.5);
    this.reconnectDelay = Math.min(this.reconnectDelay * 2, RECONNECT_MAX_MS);
    this.reconnectTimer = setTimeout(() => this.connectPresence(), delay);
    if (!this.pollTimer) this.pollTimer = setInterval(() => this.loadPresence(), POLL_MS);
  }

  applyPresence(message) {
    if (message.type === 'presence') {
      this.presence = {
        staff: new Map((message.staff || []).map((person) => [person.id, person])),
        team: message.team || 'offline',
        open_now: Boolean(message.open_now),
        hours: message.hours || '',
      };
    } else if (message.type === 'change' && this.presence) {
      for (const person of message.staff || []) this.presence.staff.set(person.id, person);
      if (message.team) this.presence.team = message.team;
      if ('open_now' in message) this.presence.open_now = Boolean(message.open_now);
      if (message.hours) this.presence.hours = message.hours;
    } else {
      return;
    }
    this.showPresence();
  }

  who() {
    const { target, teamName, api } = this.options;
    const person = target !== 'team' && this.presence ? this.presence.staff.get(target) : null;
    if (person) {
      const photo = person.photo_url || `/static/photos/${encodeURIComponent(person.id)}.svg`;
      return { name: person.name, state: person.state, photo: new URL(photo, `${api}/`).href };
    }
    return {
      name: teamName,
      state: this.presence ? this.presence.team : 'offline',
      photo: new URL('/static/photos/team.svg', `${api}/`).href,
    };
  }

  showPresence() {
    const { name, state, photo } = this.who();
    const known = STATE_WORDS[state] ? state : 'offline';
    this.name.textContent = name;
    this.initials.textContent = initials(name);
    if (this.photo.getAttribute('src') !== photo) this.photo.setAttribute('src', photo);
    this.dot.dataset.state = known;
    this.dot.setAttribute('aria-label', STATE_SENTENCE[known](name));
    this.presenceText.textContent = STATE_WORDS[known];
    this.host.dataset.presence = known;
    const nobody = !this.presence.open_now || this.presence.team !== 'available';
    const closedNote = this.presence.open_now ? 'Nobody can answer right now.' : 'We are closed right now.';
    this.hours.textContent = `${closedNote} Opening hours: ${this.presence.hours}`;
    this.hours.hidden = !(nobody && this.presence.hours);
  }

  // ------------------------------------------------------------------ the call

  setStatus(text, tone = '') {
    this.status.textContent = text;
    if (tone) this.status.dataset.tone = tone;
    else delete this.status.dataset.tone;
  }

  setCallState(state, text, tone) {
    // a button about to be hidden may hold the keyboard focus: hand it to the one that replaces it
    const focused = this.host.shadowRoot.activeElement;
    this.callState = state;
    this.host.dataset.callState = state;
    const active = state === 'starting' || state === 'calling' || state === 'connected';
    this.callButton.hidden = active;
    this.callButton.disabled = active;
    this.hangupButton.hidden = !active;
    this.muteButton.hidden = state !== 'connected';
    if (!active) this.muteButton.setAttribute('aria-pressed', 'false');
    if (text) this.setStatus(text, tone);
    if (focused && focused.hidden) (active ? this.hangupButton : this.callButton).focus();
  }

  async startCall() {
    if (this.session || this.callState === 'starting') return;
    this.setCallState('starting', CALL_TEXT.starting);
    let grant;
    try {
      const response = await fetch(`${this.options.api}/api/public/call-token`, {
        method: 'POST',
        credentials: 'omit',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ target: this.options.target, page_ref: this.options.page || undefined }),
      });
      grant = await response.json();
      if (!response.ok) throw new Error(grant.error || `HTTP ${response.status}`);
    } catch (error) {
      this.endCall('failed', CALL_TEXT.failed, 'bad');
      return;
    }
    let token = grant.token;
    // Test hook, honoured only on a page that asks for it with data-tugi-test="1".
    if (this.options.test && typeof window.tugiTestForceToken === 'string') token = window.tugiTestForceToken;
    const sip = grant.sip;
    const host = new URL(sip.ws_url).hostname;
    const ua = new JsSIP.UA({
      sockets: [new JsSIP.WebSocketInterface(sip.ws_url)],
      uri: `sip:${sip.user}@${host}`,
      password: sip.password,
      register: false,
      session_timers: false,
      user_agent: 'Tugi widget',
    });
    this.ua = ua;
    ua.on('connected', () => {
      if (this.ua !== ua || this.session) return;
      this.placeCall(ua, `sip:${sip.extension}@${host}`, token);
    });
    ua.on('disconnected', () => {
      if (this.ua === ua && this.callState === 'starting') this.endCall('failed', CALL_TEXT.failed, 'bad');
    });
    ua.start();
  }

  placeCall(ua, target, token) {
    const widget = this;
    try {
      this.session = ua.call(target, {
        extraHeaders: [`X-Tugi-Token: ${token}`],
        mediaConstraints: { audio: true, video: false },
        rtcOfferConstraints: { offerToReceiveAudio: true, offerToReceiveVideo: false },
        pcConfig: { iceServers: [] },
        eventHandlers: {
          // fires inside call(): the only moment to see the peer connection's remote tracks
          peerconnection(event) {
            widget.watchPeerConnection(event.peerconnection);
          },
          progress() {
            widget.setCallState('calling', CALL_TEXT.calling);
          },
          confirmed() {
            widget.setCallState('connected', CALL_TEXT.connected, 'good');
          },
          ended() {
            widget.endCall('ended', CALL_TEXT.ended);
          },
          failed(event) {
            widget.endCall(...widget.failure(event));
          },
        },
      });
      this.setCallState('calling', CALL_TEXT.calling);
    } catch (error) {
      this.endCall('failed', CALL_TEXT.failed, 'bad');
    }
  }

  watchPeerConnection(pc) {
    this.pc = pc;
    pc.addEventListener('track', (event) => {
      const stream = event.streams && event.streams[0] ? event.streams[0] : new MediaStream([event.track]);
      this.audio.srcObject = stream;
      const playing = this.audio.play();
      if (playing && playing.catch) playing.catch(() => {});
    });
  }

  failure(event) {
    const status = event.message && event.message.status_code;
    const { causes } = JsSIP.C;
    if (status === 403 || status === 603 || event.cause === causes.REJECTED) return ['refused', CALL_TEXT.refused, 'bad'];
    if (event.cause === causes.CANCELED) return ['ended', CALL_TEXT.ended, ''];
    if (event.cause === causes.BUSY) return ['busy', CALL_TEXT.busy, 'bad'];
    if (event.cause === causes.UNAVAILABLE || event.cause === causes.NO_ANSWER || event.cause === causes.NOT_FOUND) {
      return ['unavailable', CALL_TEXT.unavailable, 'bad'];
    }
    if (event.cause === causes.USER_DENIED_MEDIA_ACCESS) return ['failed', CALL_TEXT.microphone, 'bad'];
    return ['failed', CALL_TEXT.failed, 'bad'];
  }

  endCall(state, text, tone) {
    this.session = null;
    this.pc = null;
    this.audio.srcObject = null;
    const ua = this.ua;
    this.ua = null;
    if (ua) {
      try {
        ua.stop();
      } catch (error) {
        // already stopped
      }
    }
    this.setCallState(state, text, tone);
  }

  hangUp() {
    if (this.session) {
      try {
        this.session.terminate();
      } catch (error) {
        this.endCall('ended', CALL_TEXT.ended);
      }
    } else if (this.callState === 'starting') {
      this.endCall('ended', CALL_TEXT.ended);
    }
  }

  toggleMute() {
    if (!this.session) return;
    const muted = this.session.isMuted().audio;
    if (muted) this.session.unmute({ audio: true });
    else this.session.mute({ audio: true });
    // the label stays "Mute"; aria-pressed (and its look) says whether it is on
    this.muteButton.setAttribute('aria-pressed', String(!muted));
    this.setStatus(muted ? CALL_TEXT.connected : 'Connected — your microphone is muted', 'good');
  }

  // ------------------------------------------------------------------ call back

  showFieldError(message) {
    this.numberError.textContent = message;
    this.numberError.hidden = !message;
    if (message) this.number.setAttribute('aria-invalid', 'true');
    else this.number.removeAttribute('aria-invalid');
  }

  async requestCallback() {
    const number = this.number.value.trim();
    this.callbackStatus.textContent = '';
    if (!number) {
      this.showFieldError('Please enter your phone number.');
      this.number.focus();
      return;
    }
    this.showFieldError('');
    this.callbackButton.disabled = true;
    const body = { number };
    if (this.options.target !== 'team') body.staff = this.options.target;
    if (this.options.page) body.page_ref = this.options.page;
    if (this.options.order) body.order_ref = this.options.order;
    try {
      const response = await fetch(`${this.options.api}/api/public/callback`, {
        method: 'POST',
        credentials: 'omit',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
      let answer = {};
      try {
        answer = await response.json();
      } catch (error) {
        answer = {};
      }
      if (response.status === 202) {
        this.number.value = '';
        this.callbackStatus.textContent = 'Thank you — we are calling you back in a moment.';
        this.host.dataset.callback = 'accepted';
      } else if (response.status === 400 && answer.field === 'number') {
        this.showFieldError(answer.error.replace(/^number:\s*/, ''));
        this.number.focus();
        this.host.dataset.callback = 'invalid';
      } else {
        this.callbackStatus.textContent = answer.error || 'Sorry, that did not work. Please try again later.';
        this.host.dataset.callback = 'failed';
      }
    } catch (error) {
      this.callbackStatus.textContent = 'Sorry, we could not reach the shop. Please try again later.';
      this.host.dataset.callback = 'failed';
    } finally {
      this.callbackButton.disabled = false;
    }
  }
}

function optionsFrom(script) {
  const data = script.dataset;
  const api = (data.tugiApi || new URL(script.src, window.location.href).origin).replace(/\/+$/, '');
  return {
    api,
    target: (data.tugiTarget || 'team').trim() || 'team',
    page: data.tugiPage || '',
    order: data.tugiOrder || '',
    teamName: data.tugiTeamName || 'Our team',
    test: data.tugiTest === '1',
  };
}

function mount(script) {
  if (script.tugiWidget) return script.tugiWidget;
  const host = document.createElement('div');
  host.className = 'tugi-widget';
  const where = script.dataset.tugiMount ? document.querySelector(script.dataset.tugiMount) : null;
  if (where) where.append(host);
  else script.after(host);
  script.tugiWidget = new TugiWidget(host, optionsFrom(script));
  return script.tugiWidget;
}

function mountAll() {
  const current = document.currentScript;
  if (current && current.hasAttribute('data-tugi-target')) {
    mount(current);
    return;
  }
  for (const script of document.querySelectorAll('script[data-tugi-target]')) mount(script);
}

mountAll();

export { TugiWidget, mount, JsSIP };
