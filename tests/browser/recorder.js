// Added to every test page before JupyterLab loads (Playwright's add_init_script). It records, as they happen in
// the page, the things a test cannot reliably poll for because they are brief or need a precise time:
//   stepper       every distinct state of the first research widget's stage stepper, in order
//   cancelClickAt performance.now() of the first click on a widget's Cancel button
//   cancelledAt   performance.now() when a widget first showed the cancelled state
//   statuses      every distinct status text the first research widget showed, in order (since this page load)
(() => {
  const record = { stepper: [], cancelClickAt: null, cancelledAt: null, statuses: [] };
  window.__rnbRecord = record;

  document.addEventListener(
    "click",
    (event) => {
      if (record.cancelClickAt === null && event.target instanceof Element && event.target.closest(".rnb-cancel")) {
        record.cancelClickAt = performance.now();
      }
    },
    true,
  );

  function look() {
    const stepper = document.querySelector('[data-testid="rnb-stepper"]');
    if (stepper) {
      const states = [...stepper.children].map((step) => `${step.dataset.stage}:${step.dataset.state}`).join(" ");
      if (states && states !== record.stepper.at(-1)) record.stepper.push(states);
    }
    const status = document.querySelector('[data-testid="rnb-widget"] [data-testid="rnb-status"]');
    if (status && status.textContent && status.textContent !== record.statuses.at(-1)) {
      record.statuses.push(status.textContent);
    }
    if (record.cancelledAt === null && document.querySelector('[data-testid="rnb-widget"][data-status="cancelled"]')) {
      record.cancelledAt = performance.now();
    }
  }

  function start() {
    new MutationObserver(look).observe(document.body, {
      childList: true,
      subtree: true,
      attributes: true,
      attributeFilter: ["data-status", "data-state"],
    });
  }
  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
