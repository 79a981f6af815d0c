// Drag and drop onto the media library's upload form, and the upload itself one file per
// request. The form works without this script (a plain multiple-file input, all files in one
// request); with it, each file is its own request, so fifty phone photos never meet the proxy's
// body-size limit or its timeout, and the editor sees each file's answer as it arrives.
(function () {
  "use strict";
  const zone = document.querySelector("[data-drop-zone]");
  if (!zone) return;
  const form = zone.closest("form");
  const input = zone.querySelector("input[type=file]");
  const list = zone.querySelector("[data-drop-list]");
  const status = form.querySelector("[data-upload-status]");
  const submit = form.querySelector("input[type=submit]");

  function showChosen() {
    list.replaceChildren();
    for (const file of input.files) {
      const item = document.createElement("li");
      item.textContent = `${file.name} (${Math.ceil(file.size / 1024)} KB)`;
      list.append(item);
    }
  }

  for (const name of ["dragenter", "dragover"]) {
    zone.addEventListener(name, (event) => {
      event.preventDefault();
      zone.classList.add("is-dragging");
    });
  }
  for (const name of ["dragleave", "drop"]) {
    zone.addEventListener(name, () => zone.classList.remove("is-dragging"));
  }
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    if (event.dataTransfer && event.dataTransfer.files.length) {
      input.files = event.dataTransfer.files;
      showChosen();
    }
  });
  input.addEventListener("change", showChosen);

  // What one file's request came back with, in words for the list.
  async function answerFor(response) {
    if (response.status === 413) return { failed: true, text: "too large for the server" };
    let answer;
    try {
      answer = await response.json();
    } catch {
      return { failed: true, text: `not uploaded (the server answered ${response.status})` };
    }
    if (answer.errors && answer.errors.length) {
      return { failed: true, text: answer.errors.join(" ") };
    }
    const states = (answer.results || []).map((result) => result.state);
    return { failed: false, text: states.join(", ") || "added" };
  }

  async function uploadOne(file, row, token) {
    row.textContent = `${file.name}: uploading…`;
    const body = new FormData();
    body.append("csrfmiddlewaretoken", token);
    body.append("uploads", file, file.name);
    let outcome;
    try {
      const response = await fetch(form.action || window.location.href, {
        method: "POST",
        body,
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      outcome = await answerFor(response);
    } catch {
      outcome = { failed: true, text: "not uploaded (the connection failed); try it again" };
    }
    row.textContent = `${file.name}: ${outcome.text}`;
    row.classList.toggle("upload-failed", outcome.failed);
    return !outcome.failed;
  }

  form.addEventListener("submit", async (event) => {
    const files = Array.from(input.files);
    if (!files.length || !window.fetch || !window.FormData) return; // the plain form
    event.preventDefault();
    const token = form.querySelector("[name=csrfmiddlewaretoken]").value;
    submit.disabled = true;
    const rows = files.map((file) => {
      const row = document.createElement("li");
      row.textContent = `${file.name}: waiting`;
      return row;
    });
    list.replaceChildren(...rows);
    status.textContent = `Uploading ${files.length} file(s)…`;
    let stored = 0;
    for (const [index, file] of files.entries()) {
      if (await uploadOne(file, rows[index], token)) stored += 1;
    }
    const failed = files.length - stored;
    status.replaceChildren(
      `${stored} of ${files.length} file(s) uploaded` +
        (failed ? `; ${failed} not (see above). ` : ". "),
    );
    const library = document.createElement("a");
    library.href = form.dataset.libraryUrl;
    library.textContent = "Go to the media library";
    status.append(library);
    input.value = "";
    submit.disabled = false;
  });
})();
