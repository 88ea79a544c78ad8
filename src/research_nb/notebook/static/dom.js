// DOM helpers both research-nb widgets use. anywidget loads each widget as one ES module from a string, so this
// file is put before each widget's own code (research_nb.notebook.static_files), not imported.

function h(tag, className, testid, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (testid) node.dataset.testid = testid;
  if (text !== undefined) node.textContent = text;
  return node;
}

// "42s", "3m 07s"
function formatSeconds(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m ${String(s % 60).padStart(2, "0")}s` : `${s}s`;
}
