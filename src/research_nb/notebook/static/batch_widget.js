// research-nb batch widget (anywidget). Shown values come from synced traits; question text and errors are set
// with textContent, never parsed as HTML. Actions: {type: "cancel"} (Cancel all), {type: "open", position}.
// Class names (rnb-*) and data-testid attributes are stable: browser tests select on them.

function seconds(value) {
  return value === null || value === undefined ? "–" : formatSeconds(Math.round(value));
}

function render({ model, el }) {
  const root = h("div", "rnb rnb-batch", "rnb-batch");
  const header = h("div", "rnb-header");
  const title = h("div", "rnb-title", "rnb-batch-title");
  const cancel = h("button", "rnb-cancel", "rnb-batch-cancel", "Cancel all");
  header.append(title, cancel);
  const counts = h("div", "rnb-batch-counts", "rnb-batch-counts");
  const rate = h("div", "rnb-elapsed", "rnb-batch-rate");
  const note = h("div", "rnb-error", "rnb-batch-note");
  const errors = h("ul", "rnb-batch-errors", "rnb-batch-errors");
  const slowest = h("div", "rnb-batch-slowest", "rnb-batch-slowest");
  const runs = h("ul", "rnb-batch-runs", "rnb-batch-runs");
  root.append(header, counts, rate, slowest, errors, note, runs);
  el.append(root);

  cancel.addEventListener("click", () => {
    cancel.disabled = true;
    model.send({ type: "cancel" });
  });

  function update() {
    const c = model.get("counts") || {};
    const finished = model.get("finished");
    title.textContent = `Batch ${model.get("batch_id")} (${model.get("backend")})`;
    root.dataset.finished = String(finished);
    counts.replaceChildren();
    for (const name of ["completed", "failed", "cancelled", "remaining"]) {
      const cell = h("span", "rnb-batch-count", `rnb-batch-${name}`, `${name} ${c[name] ?? 0}`);
      cell.dataset.value = String(c[name] ?? 0);
      counts.append(cell, document.createTextNode(" · "));
    }
    counts.append(h("span", "rnb-batch-count", "rnb-batch-total", `of ${c.total ?? 0}`));
    rate.textContent =
      `${model.get("per_second").toFixed(1)} questions/s · elapsed ${seconds(model.get("elapsed"))}` +
      (finished ? "" : ` · time left ${seconds(model.get("eta_seconds"))}`);
    cancel.disabled = finished || model.get("cancel_requested");
    cancel.hidden = finished;
    const slow = model.get("slowest");
    slowest.textContent = slow.length
      ? "slowest: " + slow.map((s) => `${s.id} ${s.seconds.toFixed(2)}s`).join(", ")
      : "";
    errors.replaceChildren(
      ...model.get("errors").map((e) => h("li", "rnb-error", "rnb-batch-error", `${e.id}: ${e.message}`)),
    );
    note.textContent = model.get("action_error");
    const opened = model.get("opened");
    runs.replaceChildren(
      ...model.get("runs").map((run) => {
        const row = h("li", "rnb-batch-run", "rnb-batch-run");
        row.dataset.status = run.status;
        const open = h("button", "rnb-batch-open", "rnb-batch-open", "open");
        open.addEventListener("click", () => model.send({ type: "open", position: run.position }));
        const text = `${run.id} · ${run.status}` + (run.seconds != null ? ` · ${run.seconds.toFixed(2)}s` : "");
        row.append(open, h("span", run.id === opened ? "rnb-batch-opened" : "", undefined, ` ${text} · ${run.question}`));
        return row;
      }),
    );
  }

  const names = ["counts", "per_second", "eta_seconds", "elapsed", "slowest", "errors", "runs", "finished",
    "cancel_requested", "opened", "action_error", "batch_id", "backend"];
  for (const name of names) model.on(`change:${name}`, update);
  update();
  return () => {
    for (const name of names) model.off(`change:${name}`, update);
  };
}

export default { render };
