// The station's live view: the boards table follows /events (server-sent events);
// the history table asks /api/history. Every value is set as text, never as HTML.
"use strict";

const token = new URLSearchParams(location.search).get("token");
const withToken = (url) =>
  token ? url + (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token) : url;

function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "" : String(text);
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

function size(bytes) {
  const units = ["B", "kB", "MB", "GB"];
  let value = bytes, unit = 0;
  while (value >= 1000 && unit < units.length - 1) { value /= 1000; unit += 1; }
  return (unit ? value.toFixed(1) : value.toFixed(0)) + " " + units[unit];
}

function progress(board) {
  const td = document.createElement("td");
  if (board.total > 0) {
    const bar = document.createElement("progress");
    bar.max = board.total;
    bar.value = board.done;
    td.appendChild(bar);
    const label = document.createElement("span");
    label.textContent = " " + Math.floor((100 * board.done) / board.total) + " %";
    td.appendChild(label);
  }
  return td;
}

function showBoards(boards) {
  const body = document.querySelector("#boards tbody");
  body.replaceChildren();
  for (const board of boards.slice().reverse()) {
    const row = document.createElement("tr");
    row.dataset.mac = board.mac;
    row.className = "phase-" + board.phase + " tone-" + (board.tone || "plain");
    cell(row, board.port);
    cell(row, board.mac, "mac");
    cell(row, board.model);
    cell(row, board.arch);
    cell(row, board.phase, "phase");
    row.appendChild(progress(board));
    cell(row, board.rate ? size(board.rate) + "/s" : "");
    cell(row, board.eta !== null && board.eta > 0 ? Math.round(board.eta) + " s" : "");
    const result = cell(row, board.result, "result");
    if (board.reason) result.title = board.reason;
    row.appendChild(actions(board));
    body.appendChild(row);
  }
  document.getElementById("no-boards").hidden = boards.length > 0;
}

// The operator's buttons: a held board can be approved or skipped, a waiting one
// rebooted, a finished one installed again. Actions need the token (?token= in this
// page's address); it goes as a bearer header, never in a cookie.
const ACTIONS = {held: ["approve", "skip"], preparing: ["skip"], waiting: ["reboot"]};

function actions(board) {
  const td = document.createElement("td");
  td.className = "actions";
  if (!token) return td;
  const offered = board.finished ? ["reinstall"] : ACTIONS[board.phase] || [];
  for (const action of offered) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = action[0].toUpperCase() + action.slice(1);
    button.dataset.action = action;
    button.addEventListener("click", () => act(board.mac, action));
    td.appendChild(button);
  }
  return td;
}

async function act(mac, action) {
  const answer = document.getElementById("action-answer");
  try {
    const response = await fetch("/api/boards/" + encodeURIComponent(mac) + "/" + action,
      {method: "POST", headers: {Authorization: "Bearer " + token}});
    const said = await response.json();
    answer.textContent = said.error ? `${action} ${mac}: ${said.error}`
      : `${mac}: ${action} ${said.verdict}${said.phase ? " → " + said.phase : ""}: ` +
        said.message;
    answer.className = response.ok ? "answer" : "answer error";
  } catch (problem) {
    answer.textContent = `${action} ${mac}: ${problem.message}`;
    answer.className = "answer error";
  }
  answer.hidden = false;
}

function connect() {
  const status = document.getElementById("status");
  const events = new EventSource(withToken("/events"));
  let finished = -1;
  events.addEventListener("boards", (message) => {
    const boards = JSON.parse(message.data);
    showBoards(boards);
    const done = boards.filter((board) => board.result).length;
    if (done !== finished) {  // a board finished: its journal row is final now
      finished = done;
      loadHistory();
    }
    status.textContent = "live";
    status.className = "status live";
  });
  events.onerror = () => {
    status.textContent = "reconnecting…";
    status.className = "status down";
    loadHistory();
  };
}

async function loadHistory() {
  const form = new FormData(document.getElementById("filters"));
  const query = new URLSearchParams();
  for (const [key, value] of form) if (value) query.set(key, value);
  query.set("limit", "100");
  const error = document.getElementById("history-error");
  try {
    const response = await fetch(withToken("/api/history?" + query));
    const answer = await response.json();
    if (!response.ok) throw new Error(answer.error || response.statusText);
    error.hidden = true;
    const body = document.querySelector("#history tbody");
    body.replaceChildren();
    for (const attempt of answer.attempts.slice().reverse()) {
      const row = document.createElement("tr");
      row.className = "outcome-" + attempt.outcome + " tone-" + (attempt.tone || "plain");
      cell(row, attempt.id);
      cell(row, when(attempt.started_at));
      cell(row, attempt.station);
      cell(row, attempt.port);
      cell(row, attempt.answered_mac, "mac");
      cell(row, attempt.model);
      cell(row, attempt.arch);
      cell(row, attempt.software_id);
      cell(row, attempt.outcome, "result");
      cell(row, attempt.duration === null ? "" : attempt.duration.toFixed(1));
      cell(row, attempt.reason);
      cell(row, timeline(attempt.timeline || []), "timeline");
      body.appendChild(row);
    }
  } catch (problem) {
    error.textContent = "history: " + problem.message;
    error.hidden = false;
  }
}

// "dhcp 08:00:01 · tftp +0.3 s · found +12.0 s · ...": each step after the first; a step
// that came several times in a row says so ("dhcp ×3").
function timeline(steps) {
  if (!steps.length) return "";
  const first = new Date(steps[0].at).getTime();
  const name = (step) => (step.times > 1 ? `${step.event} ×${step.times}` : step.event) +
    (step.by || step.detail ? ` (${step.by || step.detail})` : "");
  return steps.map((step, index) => index === 0
    ? `${name(step)} ${when(step.at).slice(11)}`
    : `${name(step)} +${((new Date(step.at).getTime() - first) / 1000).toFixed(1)} s`
  ).join(" · ");
}

// "2026-12-07 14:03:05", the station's own way to write a time (ISO 8601, 24 hours, the
// browser's time zone), whatever the browser's language.
function when(text) {
  const date = new Date(text);
  const two = (number) => String(number).padStart(2, "0");
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ` +
    `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`;
}

document.getElementById("filters").addEventListener("submit", (event) => {
  event.preventDefault();
  loadHistory();
});
connect();
loadHistory();
setInterval(loadHistory, 10000);
