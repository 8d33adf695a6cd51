// The evidence button of a criterion card (ctpat_audit.ui.connection.EvidenceButton).
//
// It reads "Evidence (N)", N being the files stored for the criterion (the kernel sets it
// after every attachment), and opens the browser's file picker; the chosen files go to the
// kernel in one message, which stores them and sends the new count back.
export default {
  render({ model, el }) {
    const button = document.createElement("button");
    button.className = "jupyter-widgets jupyter-button widget-button ctpat-evidence-button";
    button.title = "Add evidence files (procedures, logs, photos)";
    const picker = document.createElement("input");
    picker.type = "file";
    picker.multiple = true;
    picker.style.display = "none";
    const draw = () => {
      button.textContent = `Evidence (${model.get("count")})`;
      button.disabled = model.get("disabled");
    };
    button.addEventListener("click", () => {
      picker.value = "";
      picker.click();
    });
    picker.addEventListener("change", async () => {
      const files = Array.from(picker.files || []);
      if (!files.length) {
        return;
      }
      const contents = await Promise.all(files.map((f) => f.arrayBuffer()));
      model.send({ kind: "files", names: files.map((f) => f.name) }, undefined, contents);
    });
    model.on("change:count", draw);
    model.on("change:disabled", draw);
    draw();
    el.append(button, picker);
  },
};
