// research-nb progress widget (anywidget). Everything shown comes from synced traits; every text from a run
// (questions, source titles, log lines, errors) is set with textContent and never parsed as HTML. Actions go to the
// kernel as custom messages: {type: "cancel"}, {type: "clarification", answers: [...]}, {type: "skip"}.
// Class names (rnb-*) and data-testid attributes are stable: browser tests select on them.

const FINISHED = new Set(["completed", "failed", "cancelled"]);
const STATUS_TEXT = {
  pending: "Starting…",
  running: "Researching…",
  awaiting_clarification: "Waiting for your answers",
  completed: "Completed",
  failed: "Failed",
  cancelled: "Cancelled",
};

function h(tag, className, testid, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (testid) node.dataset.testid = testid;
  if (text !== undefined) node.textContent = text;
  return node;
}

function formatSeconds(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m ${String(s % 60).padStart(2, "0")}s` : `${s}s`;
}

function questionInput(question) {
  const box = h("div", "rnb-clarify-question", "rnb-clarify-question");
  box.dataset.questionId = question.id;
  box.dataset.questionType = question.question_type;
  const label = h("label", "rnb-clarify-label", undefined, question.question + (question.is_required ? " *" : ""));
  box.append(label);
  if (question.context) box.append(h("div", "rnb-clarify-context", undefined, question.context));
  if (question.question_type === "text" || !question.choices) {
    const input = h("input", "rnb-clarify-input", "rnb-clarify-input");
    input.type = "text";
    input.dataset.questionId = question.id;
    box.append(input);
    return box;
  }
  const kind = question.question_type === "multi_choice" ? "checkbox" : "radio";
  for (const choice of question.choices) {
    const row = h("label", "rnb-clarify-choice");
    const input = h("input", "rnb-clarify-option", "rnb-clarify-option");
    input.type = kind;
    input.name = `rnb-${question.id}-${Math.random().toString(36).slice(2)}`;
    input.value = choice.id;
    input.dataset.questionId = question.id;
    row.append(input, h("span", undefined, undefined, choice.label));
    box.append(row);
    if (choice.requires_details) {
      const details = h("input", "rnb-clarify-details", "rnb-clarify-details");
      details.type = "text";
      details.placeholder = choice.details_prompt || "Details";
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

function render({ model, el }) {
  const root = h("div", "rnb", "rnb-widget");
  const header = h("div", "rnb-header");
  const title = h("div", "rnb-title", "rnb-title");
  const status = h("span", "rnb-status", "rnb-status");
  const elapsed = h("span", "rnb-elapsed", "rnb-elapsed");
  const cancel = h("button", "rnb-cancel", "rnb-cancel", "Cancel");
  cancel.type = "button";
  header.append(title, status, elapsed, cancel);

  const stepper = h("ol", "rnb-stepper", "rnb-stepper");
  const track = h("div", "rnb-progress", "rnb-progress");
  track.setAttribute("role", "progressbar");
  track.setAttribute("aria-valuemin", "0");
  track.setAttribute("aria-valuemax", "100");
  const fill = h("div", "rnb-progress-fill");
  track.append(fill);

  const summary = h("div", "rnb-summary");
  const sources = h("span", "rnb-sources-total", "rnb-sources-total");
  const usage = h("span", "rnb-usage", "rnb-usage");
  summary.append(sources, usage);

  const table = h("table", "rnb-subquestions", "rnb-subquestions");
  const message = h("div", "rnb-message", "rnb-message");
  const form = h("form", "rnb-clarify", "rnb-clarify");
  const actionError = h("div", "rnb-action-error", "rnb-action-error");
  const log = h("details", "rnb-log", "rnb-log");
  const logTitle = h("summary", undefined, undefined, "Log");
  const logLines = h("pre", "rnb-log-lines", "rnb-log-lines");
  log.append(logTitle, logLines);

  root.append(header, stepper, track, summary, table, message, form, actionError, log);
  el.append(root);

  // elapsed time ticks in the browser between updates, from the kernel's last figure
  let elapsedBase = model.get("elapsed");
  let elapsedAt = Date.now();

  function showElapsed() {
    const running = !FINISHED.has(model.get("status")) && model.get("status") !== "awaiting_clarification";
    const seconds = running ? elapsedBase + (Date.now() - elapsedAt) / 1000 : model.get("elapsed");
    elapsed.textContent = formatSeconds(seconds);
  }

  function showHeader() {
    const state = model.get("status");
    root.dataset.status = state;
    title.textContent = model.get("query");
    status.dataset.status = state;
    status.textContent = STATUS_TEXT[state] || state;
    const cancelling = model.get("cancel_requested") && !FINISHED.has(state);
    cancel.disabled = FINISHED.has(state) || cancelling;
    cancel.textContent = cancelling ? "Cancelling…" : "Cancel";
    cancel.hidden = FINISHED.has(state);
    showElapsed();
  }

  function showStages() {
    stepper.replaceChildren(
      ...model.get("stages").map((step) => {
        const item = h("li", `rnb-step rnb-step--${step.state}`, "rnb-step", step.label);
        item.dataset.stage = step.id;
        item.dataset.state = step.state;
        if (step.state === "active") item.setAttribute("aria-current", "step");
        return item;
      }),
    );
  }

  function showProgress() {
    const percent = Math.round(model.get("progress") * 100);
    fill.style.width = `${percent}%`;
    track.setAttribute("aria-valuenow", String(percent));
  }

  function showSummary() {
    const n = model.get("total_sources");
    sources.textContent = `${n} source${n === 1 ? "" : "s"}`;
    usage.textContent = model.get("usage");
  }

  function showSubQuestions() {
    const rows = model.get("sub_questions").map((row) => {
      const tr = h("tr", `rnb-subq rnb-subq--${row.status}`, "rnb-subq");
      tr.dataset.status = row.status;
      tr.dataset.subQuestionId = row.id;
      tr.append(
        h("td", "rnb-subq-question", undefined, row.question),
        h("td", "rnb-subq-status", undefined, row.status),
        h("td", "rnb-subq-sources", undefined, `${row.sources} found`),
      );
      return tr;
    });
    table.replaceChildren(...rows);
    table.hidden = rows.length === 0;
  }

  function showMessage() {
    const state = model.get("status");
    let text = "";
    if (state === "failed") text = model.get("error");
    else if (state === "cancelled") text = `${model.get("cancel_reason")}. ` + (model.get("has_report") ? "The partial report is below." : "Nothing was gathered yet.");
    else if (state === "completed") text = "The report is below.";
    message.className = `rnb-message rnb-message--${state}`;
    message.textContent = text;
    message.hidden = !text;
  }

  function showClarification() {
    const clarification = model.get("clarification");
    form.replaceChildren();
    form.hidden = !clarification;
    if (!clarification) return;
    if (clarification.context) form.append(h("p", "rnb-clarify-intro", undefined, clarification.context));
    const questions = [...clarification.questions].sort((a, b) => a.order - b.order);
    for (const question of questions) form.append(questionInput(question));
    const submit = h("button", "rnb-clarify-submit", "rnb-clarify-submit", "Continue");
    submit.type = "submit";
    const skip = h("button", "rnb-clarify-skip", "rnb-clarify-skip", "Skip");
    skip.type = "button";
    skip.addEventListener("click", () => model.send({ type: "skip" }));
    const buttons = h("div", "rnb-clarify-buttons");
    buttons.append(submit, skip);
    form.append(buttons);
  }

  function showActionError() {
    actionError.textContent = model.get("action_error");
    actionError.hidden = !model.get("action_error");
  }

  function showLog() {
    logLines.textContent = model.get("log").join("\n");
    log.hidden = model.get("log").length === 0;
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const clarification = model.get("clarification");
    if (clarification) model.send({ type: "clarification", answers: collectAnswers(form, clarification) });
  });
  cancel.addEventListener("click", () => {
    cancel.disabled = true;
    model.send({ type: "cancel" });
  });

  const handlers = {
    "change:status change:query change:cancel_requested": () => {
      showHeader();
      showMessage();
    },
    "change:elapsed": () => {
      elapsedBase = model.get("elapsed");
      elapsedAt = Date.now();
      showElapsed();
    },
    "change:stages": showStages,
    "change:progress": showProgress,
    "change:total_sources change:usage": showSummary,
    "change:sub_questions": showSubQuestions,
    "change:error change:cancel_reason change:has_report": showMessage,
    "change:clarification": showClarification,
    "change:action_error": showActionError,
    "change:log": showLog,
  };
  const subscriptions = Object.entries(handlers).flatMap(([events, handler]) =>
    events.split(" ").map((event) => [event, handler]),
  );
  for (const [event, handler] of subscriptions) model.on(event, handler);

  showHeader();
  showStages();
  showProgress();
  showSummary();
  showSubQuestions();
  showMessage();
  showClarification();
  showActionError();
  showLog();
  const ticker = setInterval(showElapsed, 1000);

  return () => {
    clearInterval(ticker);
    for (const [event, handler] of subscriptions) model.off(event, handler);
  };
}

export default { render };
