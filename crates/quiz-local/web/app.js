// The chosung quiz's web client: one page, no build step. It speaks the protocol of
// docs/protocol.md over one WebSocket: joins a room under a name (or watches it as a
// spectator), shows the question, the countdown, the chat, the scores, the room's ranking and
// the last round's other answers, lets a player report a word and seat or remove bots, and
// reconnects by itself after a drop. Before joining, a short-lived second connection asks the
// server for its themes.
"use strict";

const NAME_MAX = 20;
const ROOM_MAX = 40;
const HISTORY_LINES = 20;
const LOG_LINES = 200;
const RECONNECT_FIRST_MS = 500;
const RECONNECT_MAX_MS = 15000;
const ALL_THEMES = "all";
// How long the join form's look-up of the themes may take before the form keeps "전체" alone.
const THEMES_TIMEOUT_MS = 5000;
// A ranking request with no answer after this long no longer holds back the next one.
const RANKING_TIMEOUT_MS = 5000;
const REASON_MAX = 200;
// Most bots a room seats, and how their names start (no player's may).
const MAX_BOTS = 2;
const BOT_PREFIX = "🤖";
// How far back in the log a bot's arrival, seen in a state, answers the notice that follows.
const BOT_NOTE_LOOKBACK = 10;

const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;
const SYLLABLE = /[\uac00-\ud7a3]/;
const REPORT_WORD = /^[\uac00-\ud7a3]{2,20}$/;

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
  invalid_word: "신고할 단어는 띄어쓰기 없이 한글 2~20글자로 써 주세요.",
  invalid_reason: `신고 이유는 ${REASON_MAX}자 이하로, 줄바꿈 없이 써 주세요.`,
  too_many_bots: "봇은 방마다 두 명까지예요.",
  no_bots: "방에 뺄 봇이 없어요.",
  invalid_level: "봇 수준은 1부터 5까지 고를 수 있어요.",
  bot_name: `${BOT_PREFIX}로 시작하는 이름은 봇만 쓸 수 있어요.`,
};

const NOTICES = {
  not_a_word: "초성은 맞지만 사전에 없는 단어예요.",
  already_answered: "이미 나온 단어예요.",
  vote_passed: "투표가 통과됐어요!",
  already_voted: "이번 라운드에는 이미 투표했어요.",
  nothing_to_reveal: "더 보여 줄 힌트가 없어요.",
  report_received: "신고가 접수되었습니다.",
};

// A bot arriving or leaving, by the notice's code.
const BOT_NOTES = {
  bot_added: (name) => `${name} 님이 들어왔어요.`,
  bot_removed: (name) => `${name} 님이 나갔어요.`,
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
  // Empty for a spectator.
  name: "",
  room: "",
  theme: ALL_THEMES,
  spectator: false,
  socket: null,
  wanted: false,
  attempts: 0,
  reconnectTimer: null,
  // Chat lines sent and not yet echoed, oldest first ({content, seq}): the server answers a
  // connection's messages in order, so a refusal is for the oldest message awaiting one.
  unconfirmed: [],
  // Numbers the messages sent, to tell which is the oldest awaiting an answer.
  seq: 0,
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
  if (!session.spectator) url.searchParams.set("username", session.name);
  if (session.theme !== ALL_THEMES) url.searchParams.set("theme", session.theme);
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
    if (session.spectator) send({ action: "state" });
    else send({ action: "join", username: session.name, room: session.room });
    send({ action: "history", limit: HISTORY_LINES });
    requestRanking();
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
      // Refused at the handshake: the server checks the name, room and theme before accepting.
      note("error", "연결하지 못했어요. 이름, 방 이름과 주제를 확인하거나 잠시 뒤에 다시 해 주세요.");
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

function connected() {
  return session.socket !== null && session.socket.readyState === WebSocket.OPEN;
}

// Sends a message; its number (never 0), or 0 when not connected (said in the log unless
// `quiet`: the page's own requests wait for the next chance instead).
function send(message, quiet = false) {
  if (!connected()) {
    if (!quiet) note("error", "아직 연결되지 않았어요. 연결되면 다시 보내 주세요.");
    return 0;
  }
  session.socket.send(JSON.stringify(message));
  session.seq += 1;
  return session.seq;
}

// --- what arrives -------------------------------------------------------------------------

const game = {
  id: null,
  version: -1,
  state: null,
  // Server time minus this browser's time, estimated from the frames (see clockFrom).
  offset: 0,
  // Players and spectators in the room as the last broadcast said (replies do not say).
  online: null,
  spectators: null,
  // The last round shown beside the question ("{id}:{round}") and its word.
  lastRound: "",
  lastWord: "",
  // Whether this connection asked for the themes (to name a theme the form did not know).
  askedThemes: false,
  // The room's bots as the last state said ({name, level}, oldest first).
  bots: [],
};

function resetGame() {
  game.id = null;
  game.version = -1;
  game.online = null;
  game.spectators = null;
  game.lastRound = "";
  game.askedThemes = false;
  game.bots = [];
  seats.pending = 0;
  renderBotControls();
  ranking.pending = 0;
  ranking.again = false;
  report.pending = 0;
  $("report-send").disabled = false;
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
    if (frame.code === "report_received") reportDone(true, NOTICES.report_received);
    if (BOT_NOTES[frame.code]) botNotice(frame);
    else note("notice", noticeText(frame));
  } else if (frame.type === "history") {
    receiveHistory(frame.lines || []);
  } else if (frame.type === "themes") {
    fillThemes(frame.themes);
    if (game.state) renderTheme(game.state);
  } else if (frame.type === "ranking") {
    receiveRanking(frame);
  }
}

function receiveError(frame) {
  let text = ERRORS[frame.code] || frame.message || "알 수 없는 오류가 났어요.";
  if (frame.code === "slow_down") {
    const wait = Number(frame.retryAfter) || 1;
    text = `너무 빨라요! ${wait}초 뒤에 다시 보내 주세요.`;
    session.quietUntil = Date.now() + wait * 1000;
  }
  const refused = refusedRequest(frame.code);
  if (refused === "chat") {
    // The line was not taken: give it back instead of losing it.
    const line = session.unconfirmed.shift();
    const input = $("chat-input");
    if (!input.value) input.value = line.content;
  } else if (refused === "ranking") {
    // The next round's end (or a tab) asks again.
    rankingAnswered();
  } else if (refused === "report") {
    reportDone(false, text);
  } else if (refused === "bot") {
    seats.pending = 0;
    renderBotControls();
  }
  note("error", text);
  if (frame.code === "not_connected" && session.socket) session.socket.close(1000);
}

// Which of the page's messages awaiting an answer an error refuses: the oldest that the error
// can be about (a chat line, a ranking request or a report), or null.
function refusedRequest(code) {
  const any = ["slow_down", "try_again"].includes(code);
  const waiting = [];
  if ((any || ["invalid_content", "too_large"].includes(code)) && session.unconfirmed.length) {
    waiting.push(["chat", session.unconfirmed[0].seq]);
  }
  if ((any || ["server_error", "wrong_type"].includes(code)) && ranking.pending) {
    waiting.push(["ranking", ranking.pending]);
  }
  const reportCodes = ["server_error", "join_first", "missing_field", "wrong_type", "invalid_word", "invalid_reason"];
  if ((any || reportCodes.includes(code)) && report.pending) {
    waiting.push(["report", report.pending]);
  }
  const botCodes = ["too_many_bots", "no_bots", "invalid_level", "server_error", "join_first", "wrong_type"];
  if ((any || botCodes.includes(code)) && seats.pending) {
    waiting.push(["bot", seats.pending]);
  }
  waiting.sort((a, b) => a[1] - b[1]);
  return waiting.length ? waiting[0][0] : null;
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
  const sent = session.unconfirmed.findIndex((line) => line.content === content);
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
  if (typeof state.online === "number") game.online = state.online;
  if (typeof state.spectators === "number") game.spectators = state.spectators;
  const botsBefore = game.bots;
  game.bots = Array.isArray(state.bots) ? state.bots.filter((bot) => bot && typeof bot.name === "string") : [];
  // Every player sees bots come and go; the one who asked also gets a notice, which this
  // line then stands for.
  if (before) announceBots(botsBefore, game.bots);
  clockFrom(state, before);
  if (before && state.round > before.round && state.previous) {
    roundEnded(state.previous);
  }
  renderState(state);
  // A round's end seen here (not the one the room showed on joining) changes the ranking.
  const previous = state.previous;
  if (before && previous && (!before.previous || before.previous.round !== previous.round)) {
    requestRanking();
  }
  if (state.theme && !themes.names.has(state.theme) && !game.askedThemes) {
    game.askedThemes = true;
    send({ action: "themes" }, true);
  }
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

// --- the ranking --------------------------------------------------------------------------

const ranking = {
  period: "week",
  // The number of the request awaiting its answer, or 0.
  pending: 0,
  // Asked for again while a request was on its way: one more once it is answered.
  again: false,
  expire: null,
  later: null,
};

// Asks for the ranking of the chosen period: one request at a time, none while the server
// asked this page to slow down, so a round's end costs one message at most.
function requestRanking() {
  if (!connected()) return;
  if (ranking.pending) {
    ranking.again = true;
    return;
  }
  clearTimeout(ranking.later);
  const wait = session.quietUntil - Date.now();
  if (wait > 0) {
    ranking.later = setTimeout(requestRanking, wait);
    return;
  }
  const message = ranking.period === "all" ? { action: "ranking", period: "all" } : { action: "ranking" };
  ranking.pending = send(message, true);
  clearTimeout(ranking.expire);
  if (ranking.pending) ranking.expire = setTimeout(rankingAnswered, RANKING_TIMEOUT_MS);
}

function rankingAnswered() {
  clearTimeout(ranking.expire);
  ranking.pending = 0;
  if (ranking.again) {
    ranking.again = false;
    requestRanking();
  }
}

function receiveRanking(frame) {
  if (frame.period === ranking.period) renderRanking(Array.isArray(frame.top) ? frame.top : []);
  rankingAnswered();
}

function chooseRanking(period) {
  ranking.period = period;
  for (const tab of document.querySelectorAll(".ranking .tab")) {
    tab.setAttribute("aria-pressed", String(tab.dataset.period === period));
  }
  const list = $("ranking-list");
  list.dataset.period = "";
  const loading = document.createElement("li");
  loading.className = "empty";
  loading.textContent = connected() ? "불러오는 중…" : "연결되면 보여 드릴게요";
  list.replaceChildren(loading);
  requestRanking();
}

function renderRanking(top) {
  const list = $("ranking-list");
  list.dataset.period = ranking.period;
  list.replaceChildren(...top.map((row, i) => {
    const item = document.createElement("li");
    item.dataset.name = row.username;
    item.dataset.score = String(row.score);
    if (row.username === session.name) item.className = "mine";
    const rank = document.createElement("span");
    rank.className = "rank";
    rank.textContent = `${i + 1}.`;
    const who = document.createElement("span");
    who.className = "name";
    who.textContent = row.username;
    const points = document.createElement("span");
    points.className = "score";
    points.textContent = String(row.score);
    item.append(rank, " ", who, " ", points);
    return item;
  }));
  if (!top.length) {
    const empty = document.createElement("li");
    empty.className = "empty";
    empty.textContent = ranking.period === "all" ? "아직 아무도 맞히지 않았어요" : "이번 주에는 아직 아무도 맞히지 않았어요";
    list.append(empty);
  }
}

// --- the themes ---------------------------------------------------------------------------

const themes = {
  // Display names by id, from the server's list.
  names: new Map([[ALL_THEMES, "전체"]]),
  // The theme the page's address asks for (?theme=), chosen once the list has it.
  wanted: ALL_THEMES,
  socket: null,
};

// Fills the join form's theme picker: `all` first, each theme as its name and question count.
function fillThemes(list) {
  if (!Array.isArray(list)) return;
  const select = $("theme");
  const chosen = select.dataset.loaded === "true" ? select.value : themes.wanted;
  const valid = list.filter((theme) => theme && typeof theme.id === "string" && theme.id);
  if (!valid.some((theme) => theme.id === ALL_THEMES)) valid.unshift({ id: ALL_THEMES, name: "전체" });
  valid.sort((a, b) => (b.id === ALL_THEMES) - (a.id === ALL_THEMES));
  themes.names = new Map();
  select.replaceChildren(...valid.map((theme) => {
    const name = typeof theme.name === "string" && theme.name ? theme.name : theme.id;
    themes.names.set(theme.id, name);
    const option = document.createElement("option");
    option.value = theme.id;
    option.textContent = Number.isFinite(theme.questions) ? `${name} (${theme.questions}문제)` : name;
    return option;
  }));
  select.value = valid.some((theme) => theme.id === chosen) ? chosen : ALL_THEMES;
  select.dataset.loaded = "true";
}

// Asks `server` for its themes over a connection of its own, with no name (a spectator's,
// which changes nothing), closed as soon as the answer is in. Without one the picker keeps
// what it has, "전체" at least, so joining still works.
function lookUpThemes(server) {
  if (themes.socket) themes.socket.close(1000);
  themes.socket = null;
  if (!/^wss?:\/\/./.test(server)) return;
  const form = byId("join");
  const room = form.room.value.trim();
  let socket;
  try {
    const url = new URL(server);
    url.searchParams.set("room", validName(room, ROOM_MAX) ? room : "general");
    socket = new WebSocket(url.toString());
  } catch {
    return;
  }
  themes.socket = socket;
  const done = () => {
    clearTimeout(timer);
    if (themes.socket === socket) themes.socket = null;
    socket.close(1000);
  };
  const timer = setTimeout(done, THEMES_TIMEOUT_MS);
  socket.onopen = () => socket.send(JSON.stringify({ action: "themes" }));
  socket.onmessage = (event) => {
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch {
      return;
    }
    if (frame.type === "themes") fillThemes(frame.themes);
    if (frame.type === "themes" || frame.type === "error") done();
  };
  socket.onclose = () => {
    clearTimeout(timer);
    if (themes.socket === socket) themes.socket = null;
  };
}

// --- reports ------------------------------------------------------------------------------

const report = {
  // The number of the report awaiting its answer, or 0.
  pending: 0,
};

function setReportStatus(state, text) {
  const status = $("report-status");
  status.dataset.state = state;
  status.textContent = text;
}

function openReport() {
  if (session.spectator) return;
  const form = $("report-form");
  if (form.hidden) {
    form.word.value = game.lastWord;
    form.kind.value = "add";
    form.reason.value = "";
  }
  form.hidden = false;
  setReportStatus("", "");
  form.word.focus();
}

function closeReport() {
  $("report-form").hidden = true;
}

function sendReport(event) {
  event.preventDefault();
  const form = $("report-form");
  const word = form.word.value.normalize("NFC").replace(/\s+/g, "");
  if (!REPORT_WORD.test(word)) return setReportStatus("error", ERRORS.invalid_word);
  const reason = form.reason.value.trim();
  if ([...reason].length > REASON_MAX || CONTROL_CHARS.test(reason)) {
    return setReportStatus("error", ERRORS.invalid_reason);
  }
  const wait = session.quietUntil - Date.now();
  if (wait > 0) return setReportStatus("error", `${(wait / 1000).toFixed(1)}초 뒤에 보낼 수 있어요.`);
  const message = { action: "report", word, kind: form.kind.value === "remove" ? "remove" : "add" };
  if (reason) message.reason = reason;
  report.pending = send(message);
  if (!report.pending) return undefined;
  $("report-send").disabled = true;
  return setReportStatus("pending", "신고를 보내는 중…");
}

function reportDone(accepted, text) {
  report.pending = 0;
  $("report-send").disabled = false;
  setReportStatus(accepted ? "ok" : "error", text);
  if (accepted) closeReport();
}

// --- bots ---------------------------------------------------------------------------------

const seats = {
  // The number of the add-bot or remove-bot awaiting its answer, or 0.
  pending: 0,
};

function isBot(name) {
  return name.startsWith(BOT_PREFIX);
}

function addBot() {
  if (session.spectator) return;
  const level = Number($("bot-level").value);
  seats.pending = send({ action: "add-bot", level }) || seats.pending;
}

function removeBot() {
  if (session.spectator) return;
  seats.pending = send({ action: "remove-bot" }) || seats.pending;
}

// Adding needs a free seat, removing a bot; the server still refuses what it must.
function renderBotControls() {
  $("add-bot").disabled = game.bots.length >= MAX_BOTS;
  $("remove-bot").disabled = game.bots.length === 0;
}

// A line in the log for each bot that came or left between two states.
function announceBots(before, after) {
  const had = new Set(before.map((bot) => bot.name));
  const has = new Set(after.map((bot) => bot.name));
  for (const bot of after) if (!had.has(bot.name)) botNote("bot_added", bot.name);
  for (const bot of before) if (!has.has(bot.name)) botNote("bot_removed", bot.name);
}

function botNote(code, name) {
  const item = note("notice", BOT_NOTES[code](name));
  item.dataset.bot = `${code}:${name}`;
  return item;
}

// The answer to this page's add-bot or remove-bot. The state before it already told of the
// bot, so the notice only claims that line; if this page missed that state, it writes its own.
function botNotice(frame) {
  seats.pending = 0;
  const named = /^(.+) (?:joined|left) the room$/.exec(frame.message || "");
  if (!named) {
    note("notice", frame.message || "");
    return;
  }
  const key = `${frame.code}:${named[1]}`;
  const recent = [...$("chat-log").children].slice(-BOT_NOTE_LOOKBACK);
  const told = recent.find((item) => item.dataset.bot === key && !item.dataset.claimed);
  (told || botNote(frame.code, named[1])).dataset.claimed = "true";
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
  if (isBot(username)) item.classList.add("bot");
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
// Returns the line.
function note(kind, text) {
  const last = $("chat-log").lastElementChild;
  if (last && last.className === `line ${kind}` && last.dataset.text === text && !last.dataset.bot) {
    last.dataset.count = String(Number(last.dataset.count) + 1);
    last.textContent = `${text} (×${last.dataset.count})`;
    scrollLog();
    return last;
  }
  const item = document.createElement("li");
  item.className = `line ${kind}`;
  item.dataset.text = text;
  item.dataset.count = "1";
  item.textContent = text;
  append(item);
  return item;
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
  renderTheme(state);
  renderPresence();
  renderLastRound(state.previous);
  byId("answer-count").textContent =
    state.answerCount > 0 ? `맞는 단어 ${state.answerCount}개` : "";
  byId("hint-votes").textContent = state.hintVotes ? `(${state.hintVotes})` : "";
  byId("give-up-votes").textContent = state.giveUpVotes ? `(${state.giveUpVotes})` : "";
  renderBotControls();

  // The seated bots show from their first moment, before they score; a bot that left keeps
  // its points and its mark.
  const scores = Object.entries(state.scores || {});
  for (const bot of game.bots) {
    if (!scores.some(([name]) => name === bot.name)) scores.push([bot.name, 0]);
  }
  scores.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const levels = new Map(game.bots.map((bot) => [bot.name, bot.level]));
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
    row.append(who);
    const level = levels.get(name);
    if (level || isBot(name)) {
      row.classList.add("bot");
      const badge = document.createElement("span");
      badge.className = "badge";
      badge.textContent = level ? `봇 Lv.${level}` : "봇";
      if (level) row.dataset.level = String(level);
      row.append(badge);
    }
    row.append(points);
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

function renderTheme(state) {
  const theme = byId("theme-name");
  theme.dataset.theme = state.theme || "";
  theme.textContent = state.theme ? `주제: ${themes.names.get(state.theme) || state.theme}` : "";
}

function renderPresence() {
  const presence = $("presence");
  presence.hidden = game.online === null;
  if (game.online === null) return;
  presence.dataset.online = String(game.online);
  presence.dataset.spectators = String(game.spectators ?? 0);
  presence.textContent = `플레이어 ${game.online} · 관전 ${game.spectators ?? 0}`;
}

// The last round beside the question: its word, who won it, the other words that would have
// counted, and the button to report a word.
function renderLastRound(previous) {
  const section = byId("last-round");
  if (!previous || typeof previous.word !== "string") {
    section.hidden = true;
    return;
  }
  const key = `${game.id}:${previous.round}`;
  if (key === game.lastRound) return;
  game.lastRound = key;
  game.lastWord = previous.word;
  let how = "포기";
  if (previous.reason === "solved") how = `${previous.winner} 님이 맞혔어요`;
  else if (previous.reason === "timeout") how = "시간 초과";
  $("last-round").textContent = `지난 라운드 정답: ${previous.word} (${how})`;
  const others = $("others");
  others.textContent = othersText(previous);
  others.hidden = !others.textContent;
  section.hidden = false;
}

function othersText(previous) {
  if (!Array.isArray(previous.others)) return "";
  const total = Number(previous.answerCount) || 0;
  const count = total > 0 ? ` (총 ${total}개)` : "";
  if (!previous.others.length) return total > 1 ? `다른 정답: …${count}` : "다른 정답은 없어요";
  const more = total > previous.others.length + 1 ? " …" : "";
  return `다른 정답: ${previous.others.join(", ")}${more}${count}`;
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
  const seq = send({ action: "chat", content });
  if (seq) {
    session.unconfirmed.push({ content, seq });
    input.value = "";
  }
}

function showJoinError(text) {
  byId("join-error").textContent = text;
}

function formServer() {
  const form = byId("join");
  return (byId("server-field").hidden ? defaultServer() : form.server.value).trim();
}

// Enters the room: as a player under the form's name, or as a spectator (no name).
function enter(spectator) {
  const form = byId("join");
  const name = form.nickname.value.trim();
  const room = form.room.value.trim();
  const server = formServer();
  if (!spectator && !validName(name, NAME_MAX)) return showJoinError(ERRORS.invalid_username);
  if (!spectator && isBot(name)) return showJoinError(ERRORS.bot_name);
  if (!validName(room, ROOM_MAX)) return showJoinError(ERRORS.invalid_room);
  if (!/^wss?:\/\/./.test(server)) {
    return showJoinError("서버 주소는 ws:// 또는 wss://로 시작해요 (예: wss://…/dev).");
  }
  showJoinError("");
  if (!spectator) store("quiz.nickname", name);
  store("quiz.room", room);
  if (!byId("server-field").hidden) store("quiz.server", server);
  Object.assign(session, {
    server,
    name: spectator ? "" : name,
    room,
    theme: form.theme.value || ALL_THEMES,
    spectator,
    wanted: true,
    attempts: 0,
    unconfirmed: [],
    quietUntil: 0,
  });
  if (themes.socket) themes.socket.close(1000);
  showMode();
  byId("room-name").textContent = spectator ? `방: ${room} (관전)` : `방: ${room}`;
  form.hidden = true;
  byId("game").hidden = false;
  chooseRanking(ranking.period);
  connect();
  if (!spectator) $("chat-input").focus();
  return undefined;
}

// A spectator sees everything but cannot chat, vote or report.
function showMode() {
  const watching = session.spectator;
  const input = $("chat-input");
  input.disabled = watching;
  input.placeholder = watching ? "관전 중에는 채팅할 수 없어요" : "정답이나 채팅을 입력하세요";
  $("chat-send").disabled = watching;
  $("hint-vote").hidden = watching;
  $("give-up-vote").hidden = watching;
  $("spectating").hidden = !watching;
  $("report").hidden = watching;
  $("bot-controls").hidden = watching;
  if (watching) closeReport();
}

function leave() {
  session.wanted = false;
  clearTimeout(session.reconnectTimer);
  if (session.socket) session.socket.close(1000);
  session.socket = null;
  game.state = null;
  clearTimeout(ranking.later);
  closeReport();
  setReportStatus("", "");
  byId("last-round").hidden = true;
  $("presence").hidden = true;
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
  themes.wanted = params.get("theme") || ALL_THEMES;
  if (themes.wanted !== ALL_THEMES) {
    // Until the server's list arrives (or if it never does), the address's theme is a choice.
    const option = document.createElement("option");
    option.value = themes.wanted;
    option.textContent = themes.wanted;
    $("theme").append(option);
    $("theme").value = themes.wanted;
  }
  if (!defaultServer()) {
    byId("server-field").hidden = false;
    form.server.value = stored("quiz.server") || "";
    form.server.addEventListener("change", () => lookUpThemes(formServer()));
  }
  lookUpThemes(formServer());
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    enter(false);
  });
  $("spectate").addEventListener("click", () => enter(true));
  form.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.isComposing || event.keyCode === 229)) event.preventDefault();
  });
  $("chat-input").addEventListener("keydown", onChatKey);
  $("chat-send").addEventListener("click", sendChat);
  $("hint-vote").addEventListener("click", () => send({ action: "hint" }));
  $("give-up-vote").addEventListener("click", () => send({ action: "give-up" }));
  byId("leave").addEventListener("click", leave);
  byId("spectate-join").addEventListener("click", () => {
    leave();
    byId("join").nickname.focus();
  });
  $("ranking-week").addEventListener("click", () => chooseRanking("week"));
  $("ranking-all").addEventListener("click", () => chooseRanking("all"));
  $("report").addEventListener("click", openReport);
  $("add-bot").addEventListener("click", addBot);
  $("remove-bot").addEventListener("click", removeBot);
  $("report-form").addEventListener("submit", sendReport);
  byId("report-cancel").addEventListener("click", closeReport);
  requestAnimationFrame(animate);
}

start();
