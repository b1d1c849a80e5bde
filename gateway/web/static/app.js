// Asks /v1/answer for both routes at once and fills each panel as its answer arrives.
// Model text reaches the DOM only through textContent: answers and citations are untrusted.
"use strict";

const KEY_STORAGE = "kgft.apiKey";
const ROUTES = ["kg", "ft"];

const keyInput = document.getElementById("api-key");
keyInput.value = localStorage.getItem(KEY_STORAGE) || "";
keyInput.addEventListener("input", () => localStorage.setItem(KEY_STORAGE, keyInput.value.trim()));

function panel(route) {
  const root = document.querySelector(`.panel[data-route="${route}"]`);
  const part = (name) => root.querySelector(`.${name}`);
  return {
    status: part("status"), text: part("text"), choice: part("choice"), model: part("model"),
    latency: part("latency"), cost: part("cost"), citations: part("citations"),
  };
}

function reset(view, status) {
  view.status.textContent = status;
  view.status.classList.remove("error");
  view.text.textContent = "";
  for (const name of ["choice", "model", "latency", "cost"]) view[name].textContent = "—";
  view.citations.replaceChildren();
}

function question() {
  const options = {};
  for (const input of document.querySelectorAll("[data-option]")) {
    if (input.value.trim()) options[input.dataset.option] = input.value.trim();
  }
  return {
    text: document.getElementById("question").value.trim(),
    domain: document.getElementById("domain").value,
    options: Object.keys(options).length ? options : null,
  };
}

function errorText(status, body) {
  const detail = body && (body.error?.message ?? body.detail);
  const text = typeof detail === "string" ? detail : JSON.stringify(detail ?? body);
  return `HTTP ${status}: ${text}`;
}

function show(view, answer, roundTripMs) {
  view.status.textContent = answer.abstained
    ? `未作答 · abstained: ${answer.abstain_reason ?? ""}`
    : `已回答 · answered (${answer.route})`;
  view.text.textContent = answer.text;
  view.choice.textContent = answer.choice ?? "—";
  view.model.textContent = answer.model;
  view.latency.textContent =
    `${answer.timings.total_ms.toFixed(1)} ms 路线 route · ${roundTripMs.toFixed(0)} ms 往返 round trip`;
  view.cost.textContent = answer.cost.priced
    ? `$${answer.cost.runtime_usd} (${answer.cost.basis})`
    : `未计价 · unpriced (${answer.cost.basis})`;
  for (const citation of answer.citations) {
    const item = document.createElement("li");
    const source = document.createElement("span");
    source.className = "source";
    source.textContent = citation.source;
    const quote = document.createElement("span");
    quote.className = "quote";
    quote.textContent = citation.text;
    item.append(source, quote);
    view.citations.append(item);
  }
  if (!answer.citations.length) view.citations.textContent = "—";
}

async function ask(route, asked) {
  const view = panel(route);
  reset(view, "请求中 · asking…");
  const headers = { "Content-Type": "application/json" };
  const key = localStorage.getItem(KEY_STORAGE);
  if (key) headers.Authorization = `Bearer ${key}`;
  const started = performance.now();
  try {
    const response = await fetch("/v1/answer", {
      method: "POST", headers, body: JSON.stringify({ route, ...asked }),
    });
    const body = await response.json().catch(() => null);
    if (!response.ok) throw new Error(errorText(response.status, body));
    show(view, body, performance.now() - started);
  } catch (error) {
    view.status.textContent = `出错 · error: ${error.message}`;
    view.status.classList.add("error");
  }
}

document.getElementById("ask").addEventListener("submit", async (event) => {
  event.preventDefault();
  const button = document.getElementById("ask-button");
  button.disabled = true;
  const asked = question();
  await Promise.all(ROUTES.map((route) => ask(route, asked)));
  button.disabled = false;
});

async function listReports() {
  const list = document.getElementById("reports");
  try {
    const response = await fetch("/reports");
    const reports = await response.json();
    list.replaceChildren();
    for (const report of reports) {
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = report.url;
      link.textContent = report.name;
      const when = document.createElement("small");
      when.textContent = ` ${report.modified_at}`;
      item.append(link, when);
      list.append(item);
    }
    if (!reports.length) list.textContent = "暂无报告 · no reports yet (kgft eval …)";
  } catch (error) {
    list.textContent = `出错 · error: ${error.message}`;
  }
}

listReports();
