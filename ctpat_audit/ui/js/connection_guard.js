// The page's guard against a lost kernel (ctpat_audit.ui.connection.ConnectionGuard).
//
// It runs in the browser only: once the kernel behind the page dies, restarts or can no longer
// be reached, no widget of the page can save anything, so every input of every widget on the
// page is disabled, every save message is replaced by the banner, and the banner shows here.
// The state is kept: a restarted kernel knows nothing of these widgets, so the page stays
// "not connected" until the notebook is run again (or the Voila page reloaded), which draws
// new widgets in place of these.
const LOST = new Set(["dead", "restarting", "autorestarting"]);
const BANNER = "background:#fde2e2;border:2px solid #b00020;color:#b00020;padding:6px;"
  + "font-weight:bold";
const INPUTS = ["input", "select", "textarea", "button"]
  .map((tag) => `.jp-OutputArea-output ${tag}`).join(", ");

function scopeOf(el) {
  // JupyterLab: this notebook only (other open notebooks have kernels of their own);
  // Voila: the whole page
  return el.closest(".jp-Notebook") || document.body;
}

export default {
  render({ model, el }) {
    el.classList.add("ctpat-connection");
    let lost = false;
    const lose = () => {
      if (lost) {
        return;
      }
      lost = true;
      const text = el.closest(".jp-NotebookPanel") ? model.get("lab_message")
        : model.get("page_message");
      const scope = scopeOf(el);
      for (const input of scope.querySelectorAll(INPUTS)) {
        input.disabled = true;
      }
      for (const box of scope.querySelectorAll(".ctpat-message")) {
        box.textContent = text;
        box.style.color = "#b00020";
        box.classList.add("ctpat-stale");
      }
      el.textContent = text;
      el.style.cssText = BANNER;
      el.classList.add("ctpat-not-connected");
    };
    // ipywidgets marks every model "comm not live" when the kernel restarts
    model.on("comm_live_update", lose);
    // ... and the kernel's own status tells a death or a lost connection
    const kernel = model.widget_manager && model.widget_manager.kernel;
    const onStatus = (_sender, status) => {
      if (LOST.has(status)) {
        lose();
      }
    };
    const onConnection = (_sender, status) => {
      if (status === "disconnected") {
        lose();
      }
    };
    if (kernel) {
      kernel.statusChanged.connect(onStatus);
      kernel.connectionStatusChanged.connect(onConnection);
      onStatus(kernel, kernel.status);
    }
    return () => {
      if (kernel) {
        kernel.statusChanged.disconnect(onStatus);
        kernel.connectionStatusChanged.disconnect(onConnection);
      }
    };
  },
};
