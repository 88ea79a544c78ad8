// research-nb progress widget (anywidget). Everything shown comes from synced traits; every text from a run
// (questions, source titles, log lines, errors) is set with textContent and never parsed as HTML. Actions go to the
// kernel as custom messages: {type: "cancel"}, {type: "clarification", answers: [...]}, {type: "skip"},
// {type: "resume"}. Class names (rnb-*) and data-testid attributes are stable: browser tests select on them.

const FINISHED = new Set(["completed", "failed", "cancelled"]);
const RESUMABLE = new Set(["failed", "cancelled"]);
const STATUS_TEXT = {
  pending: "Starting…",
  running: "Researching…",
  awaiting_clarification: "Waiting for your answers",
  completed: "Completed",
  failed: "Failed",
  cancelled: "Cancelled",
};
// ipywidgets marks a view whose model lost its comm (kernel restarted, shut down, or never connected)
const DISCONNECTED = "jupyter-widgets-disconnected";
let widgetCount = 0; // ids of inputs and labels, unique in the page

// Keys typed in a widget are the widget's: JupyterLab's and Notebook 7's shortcuts (ArrowDown: next cell, Enter:
// edit mode, r: raw cell...) must not see them. Some front ends read keys while they travel down to the target
// (a capturing listener on the document), so they are stopped on the way, at the window, which sees them first;
// what the browser does with the key (move a radio, type a letter, submit the form) is left as it is.
function keepKeysInWidgets(event) {
  if (event.target instanceof Element && event.target.closest(".rnb")) event.stopPropagation();
}
if (!window.__rnbKeysKept) {
  window.__rnbKeysKept = true;
  window.addEventListener("keydown", keepKeysInWidgets, true);
}

function code(text) {
  return h("code", undefined, undefined, text);
}

// a link only for web addresses; anything else (a file path, a javascript: URL) stays text
function webUrl(url) {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
  } catch {
    return null;
  }
}

function questionInput(question, uid) {
  const id = `${uid}-${question.id}`;
  const required = question.is_required ? " *" : "";
  if (question.question_type === "text" || !question.choices) {
    const box = h("div", "rnb-clarify-question", "rnb-clarify-question");
    box.dataset.questionId = question.id;
    box.dataset.questionType = question.question_type;
    const label = h("label", "rnb-clarify-label", undefined, question.question + required);
    label.htmlFor = id;
    box.append(label);
    const input = h("input", "rnb-clarify-input", "rnb-clarify-input");
    input.type = "text";
    input.id = id;
    input.dataset.questionId = question.id;
    if (question.is_required) input.setAttribute("aria-required", "true");
    if (question.context) {
      const context = h("div", "rnb-clarify-context", undefined, question.context);
      context.id = `${id}-context`;
      input.setAttribute("aria-describedby", context.id);
      box.append(context);
    }
    box.append(input);
    return box;
  }
  // a choice question is one group: a fieldset whose legend is the question, its options sharing one name (radios
  // of a single-choice question exclude each other; arrow keys move within the group)
  const single = question.question_type !== "multi_choice";
  const box = h("fieldset", "rnb-clarify-question", "rnb-clarify-question");
  box.dataset.questionId = question.id;
  box.dataset.questionType = question.question_type;
  if (single) box.setAttribute("role", "radiogroup");
  if (single && question.is_required) box.setAttribute("aria-required", "true");
  box.append(h("legend", "rnb-clarify-label", undefined, question.question + required));
  if (question.context) box.append(h("div", "rnb-clarify-context", undefined, question.context));
  for (const choice of question.choices) {
    const row = h("label", "rnb-clarify-choice");
    const input = h("input", "rnb-clarify-option", "rnb-clarify-option");
    input.type = single ? "radio" : "checkbox";
    input.name = id;
    input.value = choice.id;
    input.dataset.questionId = question.id;
    row.append(input, h("span", undefined, undefined, choice.label));
    box.append(row);
    if (choice.requires_details) {
      const details = h("input", "rnb-clarify-details", "rnb-clarify-details");
      details.type = "text";
      details.placeholder = choice.details_prompt || "Details";
      details.setAttribute("aria-label", `${choice.details_prompt || "Details"} (${choice.label})`);
      details.dataset.choiceId = choice.id;
      box.append(details);
    }
  }
  return box;
}

function collectAnswers(form, clarification) {
  const answers = [];
  for (const question of clarification.questions) {
    const box = form.querySelector(`[data-question-id="${CSS.escape(question.id)}"].rnb-clarify-question`);
    if (!box) continue;
    if (question.question_type === "text" || !question.choices) {
      const text = box.querySelector(".rnb-clarify-input").value.trim();
      if (text) answers.push({ question_id: question.id, text });
      continue;
    }
    const picked = [...box.querySelectorAll(".rnb-clarify-option:checked")].map((input) => {
      const details = box.querySelector(`.rnb-clarify-details[data-choice-id="${CSS.escape(input.value)}"]`);
      const selection = { id: input.value };
      if (details && details.value.trim()) selection.details = details.value.trim();
      return selection;
    });
    if (picked.length === 0) continue;
    if (question.question_type === "choice") answers.push({ question_id: question.id, selection: picked[0] });
    else answers.push({ question_id: question.id, selections: picked });
  }
  return answers;
}

function describeCited(cited, found) {
  const documents = `${found} document${found === 1 ? "" : "s"} found`;
  if (!cited) return documents;
  const n = cited.passages;
  if (n === 0) return `${documents} · the report cites none`;
  const numbers = cited.numbers;
  const contiguous = numbers[numbers.length - 1] - numbers[0] + 1 === numbers.length;
  const range = n === 1 ? `[${numbers[0]}]` : contiguous ? `[${numbers[0]}]–[${numbers[n - 1]}]` : `${n} numbers`;
  const from = cited.documents ? ` from ${cited.documents} document${cited.documents === 1 ? "" : "s"}` : "";
  return `${documents} · the report cites ${n} passage${n === 1 ? "" : "s"} (${range})${from}`;
}

function render({ model, el }) {
  const uid = `rnb-${++widgetCount}-${Math.random().toString(36).slice(2, 8)}`;
  const root = h("div", "rnb", "rnb-widget");
  root.setAttribute("role", "region");
  root.dataset.lmSuppressShortcuts = "true"; // Lumino's own way of saying it (see keepKeysInWidgets)

  const header = h("div", "rnb-header");
  const title = h("div", "rnb-title", "rnb-title");
  title.id = `${uid}-title`;
  root.setAttribute("aria-labelledby", title.id);
  const status = h("span", "rnb-status", "rnb-status");
  const elapsed = h("span", "rnb-elapsed", "rnb-elapsed");
  const cancel = h("button", "rnb-button rnb-cancel", "rnb-cancel", "Cancel");
  cancel.type = "button";
  const resume = h("button", "rnb-button rnb-resume", "rnb-resume", "Resume");
  resume.type = "button";
  header.append(title, status, elapsed, cancel, resume);

  const meta = h("div", "rnb-meta", "rnb-meta");
  const runId = h("span", "rnb-run-id", "rnb-run-id");
  const engine = h("span", "rnb-engine", "rnb-engine");
  const usage = h("span", "rnb-usage", "rnb-usage");
  meta.append(runId, engine, usage);

  const stepper = h("ol", "rnb-stepper", "rnb-stepper");
  stepper.setAttribute("aria-label", "Steps of the run");
  const track = h("div", "rnb-progress", "rnb-progress");
  track.setAttribute("role", "progressbar");
  track.setAttribute("aria-valuemin", "0");
  track.setAttribute("aria-valuemax", "100");
  const fill = h("div", "rnb-progress-fill");
  track.append(fill);

  const activity = h("div", "rnb-activity", "rnb-activity");
  const summary = h("div", "rnb-summary");
  const sourcesTotal = h("span", "rnb-sources-total", "rnb-sources-total");
  summary.append(sourcesTotal);

  const table = h("table", "rnb-subquestions", "rnb-subquestions");
  table.setAttribute("aria-label", "Sub-questions");
  const found = h("details", "rnb-found", "rnb-found");
  const foundTitle = h("summary", undefined, undefined, "Sources found");
  const foundList = h("ul", "rnb-found-list", "rnb-found-list");
  found.append(foundTitle, foundList);
  const message = h("div", "rnb-message", "rnb-message");
  const form = h("form", "rnb-clarify", "rnb-clarify");
  form.setAttribute("aria-label", "Clarifying questions");
  const actionError = h("div", "rnb-action-error", "rnb-action-error");
  actionError.setAttribute("role", "alert");
  const log = h("details", "rnb-log", "rnb-log");
  const logTitle = h("summary", undefined, undefined, "Log");
  const logLines = h("pre", "rnb-log-lines", "rnb-log-lines");
  log.append(logTitle, logLines);
  // what a screen reader announces: status changes only, not every tick
  const announcer = h("div", "rnb-announcer", "rnb-announcer");
  announcer.setAttribute("role", "status");
  announcer.setAttribute("aria-live", "polite");

  root.append(header, meta, stepper, track, activity, summary, table, found, message, form, actionError, log);
  root.append(announcer);
  el.append(root);

  // -- the kernel's connection ----------------------------------------------------------------------------------
  // A widget whose kernel restarted or shut down keeps its last state; it must not look as if the run went on.
  // ipywidgets says so with the model's "comm_live_update" event (its comm went away: a model never gets a new one)
  // and the kernel's status ("restarting", "dead"); a send that fails ("Cannot send") says it too.
  let connected = !el.classList.contains(DISCONNECTED);
  let everConnected = true; // false for a model restored from a saved notebook: it never had a kernel here
  function lose() {
    if (!connected) return;
    connected = false;
    showAll();
  }
  function sendToKernel(content) {
    if (!connected) return;
    try {
      model.send(content);
    } catch {
      lose();
    }
  }
  const manager = model.widget_manager;
  if (manager && manager.get_model && model.get("comm_model_id")) {
    manager.get_model(model.get("comm_model_id")).then(
      (backbone) => {
        // a model that lost its kernel keeps its comm object; one restored from a saved notebook never had one
        if (!backbone || backbone.comm) return;
        everConnected = false;
        connected = true; // shown anew below, as never connected
        lose();
      },
      () => {},
    );
  }
  const kernel = manager && manager.kernel;
  const onKernelStatus = (_kernel, state) => {
    if (state === "restarting" || state === "autorestarting" || state === "dead") lose();
  };
  if (kernel && kernel.statusChanged) kernel.statusChanged.connect(onKernelStatus);

  // a run the widget can no longer follow or resume: its kernel is gone and the run had not completed (a kernel
  // restart cancels its runs on the way out: the widget may have seen "Cancelled by shutdown" just before)
  function orphaned() {
    return !connected && model.get("status") !== "completed";
  }

  // -- the clock: ticks in the browser between updates, from the kernel's last figure ---------------------------
  let elapsedBase = model.get("elapsed");
  let elapsedAt = Date.now();

  function showElapsed() {
    const state = model.get("status");
    if (state === "awaiting_clarification" && !orphaned()) {
      elapsed.textContent = "paused while waiting";
      return;
    }
    const ticking = model.get("clock_running") && connected && !FINISHED.has(state);
    const seconds = ticking ? elapsedBase + (Date.now() - elapsedAt) / 1000 : model.get("elapsed");
    const before = model.get("elapsed_before");
    elapsed.textContent = formatSeconds(seconds) + (before > 0 ? ` (${formatSeconds(before + seconds)} in all)` : "");
  }

  let announced = "";
  function showHeader() {
    const state = model.get("status");
    const id = model.get("request_id");
    const lost = orphaned();
    root.dataset.status = state;
    root.dataset.kernel = connected ? "connected" : "disconnected";
    title.textContent = model.get("query");
    status.dataset.status = lost ? "stopped" : state;
    status.textContent = lost ? (everConnected ? "Stopped" : "Not connected") : STATUS_TEXT[state] || state;
    const cancelling = model.get("cancel_requested") && !FINISHED.has(state);
    cancel.hidden = FINISHED.has(state) || lost;
    cancel.disabled = cancel.hidden || cancelling || !connected;
    cancel.textContent = cancelling ? "Cancelling…" : "Cancel";
    cancel.setAttribute("aria-label", `${cancel.textContent} research run ${id}`);
    resume.hidden = !(RESUMABLE.has(state) && connected);
    resume.disabled = resume.hidden;
    resume.setAttribute("aria-label", `Resume research run ${id}`);
    runId.textContent = `Run ${id}`;
    const modelName = model.get("model_name");
    engine.textContent = `Engine: ${model.get("engine")}${modelName ? ` · model ${modelName}` : ""}`;
    showElapsed();
    const announcement = `${status.textContent} ${model.get("query")}`;
    if (announcement !== announced) {
      announced = announcement;
      announcer.textContent = `Research run ${id}: ${status.textContent}`;
    }
  }

  function showStages() {
    stepper.replaceChildren(
      ...model.get("stages").map((step) => {
        const item = h("li", `rnb-step rnb-step--${step.state}`, "rnb-step", step.label);
        item.dataset.stage = step.id;
        item.dataset.state = step.state;
        if (step.detail) item.append(h("span", "rnb-step-detail", "rnb-step-detail", step.detail));
        if (step.state === "active") item.setAttribute("aria-current", "step");
        return item;
      }),
    );
  }

  function showProgress() {
    const percent = Math.round(model.get("progress") * 100);
    fill.style.width = `${percent}%`;
    track.setAttribute("aria-valuenow", String(percent));
    track.setAttribute("aria-label", `Progress of research run ${model.get("request_id")}`);
    const doing = model.get("activity") || {};
    track.setAttribute("aria-valuetext", `${percent}%${doing.label ? `, ${doing.label}` : ""}`);
  }

  function showActivity() {
    const doing = model.get("activity") || {};
    const parts = [];
    if (doing.label) {
      const line = h("div", "rnb-activity-now", "rnb-activity-now");
      line.append(h("span", "rnb-activity-label", undefined, doing.text ? `${doing.label}: ` : doing.label));
      if (doing.text) line.append(h("span", "rnb-activity-text", undefined, doing.text));
      parts.push(line);
    }
    if (doing.reading) {
      const line = h("div", "rnb-activity-reading", "rnb-activity-reading");
      line.append(h("span", "rnb-activity-label", undefined, "Read last: "), h("span", undefined, undefined, doing.reading));
      parts.push(line);
    }
    activity.replaceChildren(...parts);
    activity.hidden = parts.length === 0 || orphaned();
  }

  function showSummary() {
    sourcesTotal.textContent = describeCited(model.get("cited"), model.get("total_sources"));
    usage.textContent = model.get("usage");
    usage.hidden = !model.get("usage");
  }

  function showSources() {
    const listed = model.get("sources");
    const total = model.get("total_sources");
    foundTitle.textContent = `Sources found (${total}${total > listed.length ? `, the latest ${listed.length}` : ""})`;
    foundList.replaceChildren(
      ...[...listed].reverse().map((source) => {
        const item = h("li", "rnb-found-item", "rnb-found-item");
        const href = source.url ? webUrl(source.url) : null;
        if (href) {
          const link = h("a", "rnb-found-link", undefined, source.title);
          link.href = href;
          link.target = "_blank";
          link.rel = "noopener noreferrer";
          item.append(link);
        } else {
          item.append(h("span", undefined, undefined, source.title));
          if (source.url) item.append(h("code", "rnb-found-path", undefined, source.url));
        }
        return item;
      }),
    );
    found.hidden = listed.length === 0;
  }

  function showSubQuestions() {
    const rows = model.get("sub_questions").map((row) => {
      const tr = h("tr", `rnb-subq rnb-subq--${row.status}`, "rnb-subq");
      tr.dataset.status = row.status;
      tr.dataset.subQuestionId = row.id;
      tr.append(
        h("td", "rnb-subq-question", undefined, row.question),
        h("td", "rnb-subq-status", undefined, row.status),
        h("td", "rnb-subq-sources", undefined, `${row.sources} passage${row.sources === 1 ? "" : "s"}`),
      );
      return tr;
    });
    table.replaceChildren(...rows);
    table.hidden = rows.length === 0;
  }

  function showMessage() {
    const state = model.get("status");
    const id = model.get("request_id");
    message.replaceChildren();
    let kind = state;
    if (orphaned()) {
      kind = "stopped";
      // a saved copy cannot know how the run ended; `open` shows it as the store has it
      if (everConnected) message.append("Kernel restarted: this run was stopped — ", code(`%research resume ${id}`));
      else message.append("Not connected to a kernel: this is the run as it was saved — ", code(`%research open ${id}`));
    } else if (state === "failed") message.textContent = model.get("error");
    else if (state === "cancelled")
      message.textContent =
        `${model.get("cancel_reason")}. ` +
        (model.get("has_report") ? "The partial report is below." : "Nothing was gathered yet.");
    else if (state === "completed") message.textContent = "The report is below.";
    message.className = `rnb-message rnb-message--${kind}`;
    message.hidden = !message.textContent;
  }

  function showClarification() {
    const clarification = model.get("clarification");
    form.replaceChildren();
    form.hidden = !clarification;
    if (!clarification) return;
    if (clarification.context) form.append(h("p", "rnb-clarify-intro", undefined, clarification.context));
    const questions = [...clarification.questions].sort((a, b) => a.order - b.order);
    for (const question of questions) form.append(questionInput(question, uid));
    const submit = h("button", "rnb-button rnb-clarify-submit", "rnb-clarify-submit", "Continue");
    submit.type = "submit";
    const skip = h("button", "rnb-button rnb-clarify-skip", "rnb-clarify-skip", "Skip");
    skip.type = "button";
    skip.addEventListener("click", () => sendToKernel({ type: "skip" }));
    const buttons = h("div", "rnb-clarify-buttons");
    buttons.append(submit, skip);
    form.append(buttons);
    showFormEnabled();
  }

  function showFormEnabled() {
    for (const control of form.querySelectorAll("input, button")) control.disabled = !connected;
  }

  function showActionError() {
    actionError.textContent = model.get("action_error");
    actionError.hidden = !model.get("action_error");
  }

  function showLog() {
    logLines.textContent = model.get("log").join("\n");
    log.hidden = model.get("log").length === 0;
  }

  function showAll() {
    showHeader();
    showStages();
    showProgress();
    showActivity();
    showSummary();
    showSources();
    showSubQuestions();
    showMessage();
    showFormEnabled();
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const clarification = model.get("clarification");
    if (clarification) sendToKernel({ type: "clarification", answers: collectAnswers(form, clarification) });
  });
  cancel.addEventListener("click", () => {
    cancel.disabled = true;
    sendToKernel({ type: "cancel" });
  });
  resume.addEventListener("click", () => {
    resume.disabled = true;
    sendToKernel({ type: "resume" });
  });

  const handlers = {
    "change:status change:query change:cancel_requested change:request_id change:engine change:model_name": () => {
      showHeader();
      showMessage();
      showActivity();
    },
    "change:elapsed change:elapsed_before change:clock_running": () => {
      elapsedBase = model.get("elapsed");
      elapsedAt = Date.now();
      showElapsed();
    },
    "change:stages": showStages,
    "change:progress change:activity": () => {
      showProgress();
      showActivity();
    },
    "change:total_sources change:usage change:cited": showSummary,
    "change:sources change:total_sources": showSources,
    "change:sub_questions": showSubQuestions,
    "change:error change:cancel_reason change:has_report": showMessage,
    "change:clarification": showClarification,
    "change:action_error": showActionError,
    "change:log": showLog,
    comm_live_update: () => lose(),
  };
  const subscriptions = Object.entries(handlers).flatMap(([events, handler]) =>
    events.split(" ").map((event) => [event, handler]),
  );
  for (const [event, handler] of subscriptions) model.on(event, handler);

  showAll();
  showClarification();
  showActionError();
  showLog();
  const ticker = setInterval(showElapsed, 1000);

  return () => {
    clearInterval(ticker);
    if (kernel && kernel.statusChanged) kernel.statusChanged.disconnect(onKernelStatus);
    for (const [event, handler] of subscriptions) model.off(event, handler);
  };
}

export default { render };
