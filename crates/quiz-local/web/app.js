// The chosung quiz's web client: one page, no build step. It speaks the protocol of
// docs/protocol.md over one WebSocket: joins a room under a name, shows the question, the
// countdown, the chat and the scores, and reconnects by itself after a drop.
"use strict";

const NAME_MAX = 20;
const ROOM_MAX = 40;
const HISTORY_LINES = 20;
const LOG_LINES = 200;
const RECONNECT_FIRST_MS = 500;
const RECONNECT_MAX_MS = 15000;

const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;
const SYLLABLE = /[\uac00-\ud7a3]/;

const ERRORS = {
  too_large: "메시지가 너무 길어요.",
  binary_frame: "이 화면이 잘못된 형식으로 보냈어요. 새로고침해 주세요.",
  malformed_json: "이 화면이 잘못된 형식으로 보냈어요. 새로고침해 주세요.",
  not_an_object: "이 화면이 잘못된 형식으로 보냈어요. 새로고침해 주세요.",
  unknown_action: "서버가 이 요청을 몰라요. 서버가 이 화면보다 오래된 버전일 수 있어요.",
  missing_field: "요청에 빠진 내용이 있어요. 새로고침해 주세요.",
  wrong_type: "요청의 형식이 틀렸어요. 새로고침해 주세요.",
  invalid_username: `이름은 ${NAME_MAX}자 이하로, 줄바꿈 없이 써 주세요.`,
  invalid_content: "메시지는 200자 이하로, 줄바꿈 없이 써 주세요.",
  invalid_room: `방 이름은 ${ROOM_MAX}자 이하로 써 주세요.`,
  name_taken: "이 연결은 이미 다른 이름으로 참가 중이에요. 다른 방으로 나갔다가 새 이름으로 들어오세요.",
  room_mismatch: "다른 방의 요청이에요. 새로고침해 주세요.",
  join_first: "먼저 이름을 정하고 입장해 주세요.",
  not_connected: "연결이 만료됐어요. 다시 연결할게요.",
  try_again: "서버가 바빠서 처리하지 못했어요. 다시 보내 주세요.",
  server_error: "서버에 문제가 생겼어요. 잠시 뒤에 다시 해 주세요.",
  flooding: "메시지를 너무 많이 보내서 연결이 끊겼어요. 잠시 뒤에 다시 연결할게요.",
};

const NOTICES = {
  not_a_word: "초성은 맞지만 사전에 없는 단어예요.",
  already_answered: "이미 나온 단어예요.",
  vote_passed: "투표가 통과됐어요!",
  already_voted: "이번 라운드에는 이미 투표했어요.",
  nothing_to_reveal: "더 보여 줄 힌트가 없어요.",
};

const $ = (testid) => document.querySelector(`[data-testid="${testid}"]`);
const byId = (id) => document.getElementById(id);

// Where to connect: ?server=wss://…/dev, else this host's stage (quiz-local fills in the
// stage), else nothing, and the join form asks for an address.
function defaultServer() {
  const explicit = new URLSearchParams(location.search).get("server");
  if (explicit) return explicit;
  const stage = document.querySelector('meta[name="quiz-stage"]').content;
  if (!stage || !location.host) return "";
  return `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/${stage}`;
}

function validName(text, max) {
  return text.length >= 1 && [...text].length <= max && !CONTROL_CHARS.test(text);
}

function randomName() {
  return `플레이어${Math.floor(100 + Math.random() * 900)}`;
}

function stored(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function store(key, value) {
  try {
    localStorage.setItem(key, value);
  } catch {
    // Private mode: defaults are fine.
  }
}

// --- the connection -----------------------------------------------------------------------

const session = {
  server: "",
  name: "",
  room: "",
  socket: null,
  wanted: false,
  attempts: 0,
  reconnectTimer: null,
  // Chat lines sent and not yet echoed, oldest first: the server answers a connection's
  // messages in order, so a refusal is for the oldest of them.
  unconfirmed: [],
  // No chat goes out before this time (Date.now()), after a slow_down.
  quietUntil: 0,
};

function setStatus(state, text) {
  const status = $("connection-status");
  status.dataset.state = state;
  status.textContent = text;
}

function connect() {
  clearTimeout(session.reconnectTimer);
  const url = new URL(session.server);
  url.searchParams.set("room", session.room);
  url.searchParams.set("username", session.name);
  setStatus(session.attempts === 0 ? "connecting" : "reconnecting", "연결 중…");
  let socket;
  try {
    socket = new WebSocket(url.toString());
  } catch (err) {
    showJoinError(`서버 주소가 잘못됐어요: ${err.message}`);
    leave();
    return;
  }
  session.socket = socket;
  let opened = false;
  socket.onopen = () => {
    opened = true;
    const again = session.attempts > 0;
    session.attempts = 0;
    setStatus("open", "연결됨");
    resetGame();
    session.unconfirmed = [];
    if (again) note("notice", "다시 연결됐어요.");
    send({ action: "join", username: session.name, room: session.room });
    send({ action: "history", limit: HISTORY_LINES });
  };
  socket.onmessage = (event) => {
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch {
      return;
    }
    receive(frame);
  };
  socket.onclose = (event) => {
    if (session.socket !== socket) return;
    session.socket = null;
    if (!session.wanted) return;
    if (!opened && session.attempts === 0) {
      // Refused at the handshake: the server checks the name and room before accepting.
      note("error", "연결하지 못했어요. 이름과 방 이름을 확인하거나 잠시 뒤에 다시 해 주세요.");
    } else if (opened) {
      note("error", `연결이 끊겼어요 (${event.code}). 다시 연결할게요.`);
    }
    scheduleReconnect();
  };
}

function scheduleReconnect() {
  const base = Math.min(RECONNECT_MAX_MS, RECONNECT_FIRST_MS * 2 ** session.attempts);
  const delay = base / 2 + Math.random() * (base / 2);
  session.attempts += 1;
  setStatus("reconnecting", `다시 연결 중… (${Math.ceil(delay / 1000)}초 뒤)`);
  session.reconnectTimer = setTimeout(connect, delay);
}

function send(message) {
  const socket = session.socket;
  if (!socket || socket.readyState !== WebSocket.OPEN) {
    note("error", "아직 연결되지 않았어요. 연결되면 다시 보내 주세요.");
    return false;
  }
  socket.send(JSON.stringify(message));
  return true;
}

// --- what arrives -------------------------------------------------------------------------

const game = {
  id: null,
  version: -1,
  state: null,
  // Server time minus this browser's time, estimated from the frames (see clockFrom).
  offset: 0,
};

function resetGame() {
  game.id = null;
  game.version = -1;
  $("chat-log").replaceChildren();
}

function receive(frame) {
  if (typeof frame.username === "string" && typeof frame.content === "string") {
    if (frame.username === session.name) confirm(frame.content);
    addChat(frame.username, frame.content, false);
  } else if (frame.type === "state") {
    receiveState(frame);
  } else if (frame.type === "error") {
    receiveError(frame);
  } else if (frame.type === "notice") {
    note("notice", noticeText(frame));
  } else if (frame.type === "history") {
    receiveHistory(frame.lines || []);
  }
}

function receiveError(frame) {
  let text = ERRORS[frame.code] || frame.message || "알 수 없는 오류가 났어요.";
  if (frame.code === "slow_down") {
    const wait = Number(frame.retryAfter) || 1;
    text = `너무 빨라요! ${wait}초 뒤에 다시 보내 주세요.`;
    session.quietUntil = Date.now() + wait * 1000;
  }
  if (["slow_down", "try_again", "invalid_content", "too_large"].includes(frame.code)) {
    // The line was not taken: give it back instead of losing it.
    const refused = session.unconfirmed.shift();
    const input = $("chat-input");
    if (refused !== undefined && !input.value) input.value = refused;
  }
  note("error", text);
  if (frame.code === "not_connected" && session.socket) session.socket.close(1000);
}

function noticeText(frame) {
  if (frame.code === "vote_counted") {
    const counted = /(\d+) of (\d+)/.exec(frame.message || "");
    return counted ? `투표했어요 (${counted[1]}/${counted[2]}명)` : "투표했어요.";
  }
  return NOTICES[frame.code] || frame.message;
}

function confirm(content) {
  // The echo is of the oldest line sent unless the server changed its text.
  const sent = session.unconfirmed.indexOf(content);
  if (sent >= 0) session.unconfirmed.splice(sent, 1);
  else session.unconfirmed.shift();
}

function receiveState(state) {
  const newGame = state.id !== game.id;
  if (!newGame && state.version <= game.version) return; // an older frame arriving late
  const before = newGame ? null : game.state;
  game.id = state.id;
  game.version = state.version;
  game.state = state;
  clockFrom(state, before);
  if (before && state.round > before.round && state.previous) {
    roundEnded(state.previous);
  }
  renderState(state);
}

// The countdown runs on the server's clock: a frame that starts a round (or resumes one) is
// sent at its roundStartedAt, and no frame can be from before it.
function clockFrom(state, before) {
  const earliest = state.roundStartedAt - Date.now();
  const fresh = before && state.reason === "changed" &&
    (state.round !== before.round || (before.paused && !state.paused));
  game.offset = fresh ? earliest : Math.max(game.offset, earliest);
}

function roundEnded(previous) {
  if (previous.reason === "solved") {
    markCorrect(previous.winner);
    note("round", `${previous.winner} 님이 "${previous.word}"(으)로 맞혔어요!`);
  } else if (previous.reason === "timeout") {
    note("round", `시간 초과! 정답은 "${previous.word}"였어요.`);
  } else {
    note("round", `포기! 정답은 "${previous.word}"였어요.`);
  }
}

function receiveHistory(lines) {
  const log = $("chat-log");
  const live = [...log.children];
  const older = lines.map((line) => chatItem(line.username, line.content, line.correct === true));
  // A line that arrived live while the history was on its way is in both: keep one.
  let overlap = Math.min(older.length, live.length);
  while (overlap > 0 && !sameLines(older.slice(-overlap), live.slice(0, overlap))) overlap -= 1;
  live.slice(0, overlap).forEach((item) => item.remove());
  if (older.length) {
    const separator = document.createElement("li");
    separator.className = "line separator";
    separator.textContent = "지난 대화";
    log.prepend(separator, ...older);
  }
  scrollLog();
}

function sameLines(a, b) {
  return a.every((item, i) => item.dataset.username === b[i].dataset.username &&
    item.dataset.content === b[i].dataset.content);
}

// --- drawing ------------------------------------------------------------------------------

function chatItem(username, content, correct) {
  const item = document.createElement("li");
  item.className = correct ? "line chat correct" : "line chat";
  item.dataset.username = username;
  item.dataset.content = content;
  const name = document.createElement("b");
  name.className = "who";
  name.textContent = username;
  const text = document.createElement("span");
  text.className = "what";
  text.textContent = content;
  item.append(name, text);
  if (username === session.name) item.classList.add("mine");
  return item;
}

function addChat(username, content, correct) {
  append(chatItem(username, content, correct));
}

// A note the same as the last line only counts up (×3), so a burst of refusals is one line.
function note(kind, text) {
  const last = $("chat-log").lastElementChild;
  if (last && last.className === `line ${kind}` && last.dataset.text === text) {
    last.dataset.count = String(Number(last.dataset.count) + 1);
    last.textContent = `${text} (×${last.dataset.count})`;
    scrollLog();
    return;
  }
  const item = document.createElement("li");
  item.className = `line ${kind}`;
  item.dataset.text = text;
  item.dataset.count = "1";
  item.textContent = text;
  append(item);
}

function append(item) {
  const log = $("chat-log");
  log.append(item);
  while (log.children.length > LOG_LINES) log.firstElementChild.remove();
  scrollLog();
}

function scrollLog() {
  const log = $("chat-log");
  log.scrollTop = log.scrollHeight;
}

// The winning line is the winner's last chat before the state that ended the round.
function markCorrect(winner) {
  const lines = $("chat-log").querySelectorAll("li.chat");
  for (let i = lines.length - 1; i >= 0; i -= 1) {
    if (lines[i].dataset.username === winner) {
      lines[i].classList.add("correct");
      return;
    }
  }
}

function renderState(state) {
  const consonant = $("consonant");
  consonant.dataset.pattern = state.pattern;
  consonant.dataset.round = String(state.round);
  consonant.replaceChildren(...[...state.nowConsonant].map((char) => {
    const letter = document.createElement("span");
    letter.textContent = char;
    if (SYLLABLE.test(char)) letter.className = "revealed";
    return letter;
  }));
  byId("round").textContent = `라운드 ${state.round}`;
  byId("answer-count").textContent =
    state.answerCount > 0 ? `맞는 단어 ${state.answerCount}개` : "";
  byId("hint-votes").textContent = state.hintVotes ? `(${state.hintVotes})` : "";
  byId("give-up-votes").textContent = state.giveUpVotes ? `(${state.giveUpVotes})` : "";

  const scores = Object.entries(state.scores || {}).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  $("scores").replaceChildren(...scores.map(([name, score]) => {
    const row = document.createElement("li");
    row.dataset.name = name;
    if (name === session.name) row.className = "mine";
    const who = document.createElement("span");
    who.className = "name";
    who.textContent = name;
    const points = document.createElement("span");
    points.className = "score";
    points.textContent = String(score);
    row.append(who, points);
    return row;
  }));
  if (!scores.length) {
    const empty = document.createElement("li");
    empty.className = "empty";
    empty.textContent = "아직 아무도 맞히지 않았어요";
    $("scores").append(empty);
  }
  tick();
}

function tick() {
  const state = game.state;
  const deadline = $("deadline");
  const fill = byId("timer-fill");
  if (!state) {
    deadline.textContent = "";
    return;
  }
  const length = Math.max(1, state.deadline - state.roundStartedAt);
  if (state.paused) {
    deadline.dataset.paused = "true";
    deadline.textContent = "일시정지 — 무엇이든 입력하면 다시 시작해요";
    fill.style.width = `${(100 * Math.max(0, state.deadline - state.roundStartedAt)) / length}%`;
    return;
  }
  const left = Math.max(0, state.deadline - (Date.now() + game.offset));
  deadline.dataset.paused = "false";
  deadline.textContent = `${(left / 1000).toFixed(1)}초`;
  fill.style.width = `${Math.min(100, (100 * left) / length)}%`;
  fill.classList.toggle("low", left < 10000);
}

function animate() {
  tick();
  requestAnimationFrame(animate);
}

// --- what the player does -----------------------------------------------------------------

function sendChat() {
  const input = $("chat-input");
  const content = input.value.trim();
  if (!content) return;
  if (CONTROL_CHARS.test(content)) {
    note("error", ERRORS.invalid_content);
    return;
  }
  const wait = session.quietUntil - Date.now();
  if (wait > 0) {
    note("error", `${(wait / 1000).toFixed(1)}초 뒤에 보낼 수 있어요.`);
    return;
  }
  if (send({ action: "chat", content })) {
    session.unconfirmed.push(content);
    input.value = "";
  }
}

function showJoinError(text) {
  byId("join-error").textContent = text;
}

function join(event) {
  event.preventDefault();
  const form = byId("join");
  const name = form.nickname.value.trim();
  const room = form.room.value.trim();
  const server = (byId("server-field").hidden ? defaultServer() : form.server.value).trim();
  if (!validName(name, NAME_MAX)) return showJoinError(ERRORS.invalid_username);
  if (!validName(room, ROOM_MAX)) return showJoinError(ERRORS.invalid_room);
  if (!/^wss?:\/\/./.test(server)) {
    return showJoinError("서버 주소는 ws:// 또는 wss://로 시작해요 (예: wss://…/dev).");
  }
  showJoinError("");
  store("quiz.nickname", name);
  store("quiz.room", room);
  if (!byId("server-field").hidden) store("quiz.server", server);
  Object.assign(session, { server, name, room, wanted: true, attempts: 0, unconfirmed: [], quietUntil: 0 });
  byId("room-name").textContent = `방: ${room}`;
  form.hidden = true;
  byId("game").hidden = false;
  connect();
  $("chat-input").focus();
}

function leave() {
  session.wanted = false;
  clearTimeout(session.reconnectTimer);
  if (session.socket) session.socket.close(1000);
  session.socket = null;
  game.state = null;
  setStatus("idle", "입장 전");
  byId("room-name").textContent = "";
  byId("game").hidden = true;
  byId("join").hidden = false;
}

// Enter sends, except while the IME is still composing a syllable: that Enter only commits it.
function onChatKey(event) {
  if (event.key !== "Enter" || event.isComposing || event.keyCode === 229) return;
  event.preventDefault();
  sendChat();
}

function start() {
  const form = byId("join");
  const params = new URLSearchParams(location.search);
  form.nickname.value = params.get("username") || stored("quiz.nickname") || randomName();
  form.room.value = params.get("room") || stored("quiz.room") || "general";
  if (!defaultServer()) {
    byId("server-field").hidden = false;
    form.server.value = stored("quiz.server") || "";
  }
  form.addEventListener("submit", join);
  form.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.isComposing || event.keyCode === 229)) event.preventDefault();
  });
  $("chat-input").addEventListener("keydown", onChatKey);
  $("chat-send").addEventListener("click", sendChat);
  $("hint-vote").addEventListener("click", () => send({ action: "hint" }));
  $("give-up-vote").addEventListener("click", () => send({ action: "give-up" }));
  byId("leave").addEventListener("click", leave);
  requestAnimationFrame(animate);
}

start();
