// The compress page: files in, POST /v1/compress?quality=Q each (raw body), results listed
// with their sizes, compared at 1:1, downloaded one by one or as a zip built here.
"use strict";

(function () {
  const KEY_STORAGE = "pixpress-api-key";
  const PARALLEL = 2; // the server queues the rest; two keep one encoding while one uploads
  const DEBOUNCE_MS = 450;
  const AUTO_RETRIES = 5; // a rate limit or a full queue answers with Retry-After: wait, resend

  const $ = (id) => document.getElementById(id);
  const els = {
    keySection: $("key-section"),
    keyForm: $("key-form"),
    keyInput: $("key-input"),
    keyForget: $("key-forget"),
    keyStatus: $("key-status"),
    dropZone: $("drop-zone"),
    fileInput: $("file-input"),
    quality: $("quality"),
    qualityValue: $("quality-value"),
    list: $("file-list"),
    empty: $("empty"),
    totals: $("totals"),
    downloadAll: $("download-all"),
    clearAll: $("clear-all"),
    template: $("file-template"),
    announcer: $("announcer"),
    compare: $("compare"),
    compareCaption: $("compare-caption"),
    compareSlider: $("compare-slider"),
    compareStage: $("compare-stage"),
    compareOriginal: $("compare-original"),
    compareResult: $("compare-result"),
    divider: $("compare-divider"),
    compareSide: $("compare-side"),
    sideOriginal: $("side-original"),
    sideResult: $("side-result"),
    sideOriginalScroll: $("side-original-scroll"),
    sideResultScroll: $("side-result-scroll"),
  };

  const state = {
    key: readStoredKey(),
    quality: Number(els.quality.value),
    items: [],
    nextId: 1,
    running: 0,
    selected: null,
    keyAsked: false, // a 401 asked for a key, and none was entered since
    split: 50,
    debounce: 0,
  };

  // ---- sizes -------------------------------------------------------------------------------
  const numberFormat = new Intl.NumberFormat("en");
  function formatBytes(bytes) {
    const units = ["B", "KB", "MB", "GB"];
    let value = bytes;
    let unit = 0;
    while (value >= 1000 && unit < units.length - 1) {
      value /= 1000;
      unit++;
    }
    return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
  }
  function setSize(data, bytes) {
    data.value = String(bytes);
    data.textContent = formatBytes(bytes);
    data.title = `${numberFormat.format(bytes)} bytes`;
  }
  function savingText(before, after) {
    const saved = before - after;
    const percent = before > 0 ? (saved / before) * 100 : 0;
    if (saved <= 0) return "no saving";
    return `−${percent.toFixed(1)}% (${formatBytes(saved)} saved)`;
  }

  // ---- the key -----------------------------------------------------------------------------
  function readStoredKey() {
    try {
      return sessionStorage.getItem(KEY_STORAGE) || "";
    } catch {
      return ""; // storage disabled: the key lives in this page only
    }
  }
  function storeKey(key) {
    state.key = key;
    try {
      if (key) sessionStorage.setItem(KEY_STORAGE, key);
      else sessionStorage.removeItem(KEY_STORAGE);
    } catch {
      /* storage disabled */
    }
  }
  function showKeyStatus(text, isError) {
    els.keyStatus.textContent = text;
    els.keyStatus.classList.toggle("error", Boolean(isError));
    els.keySection.classList.toggle("asking", Boolean(isError));
  }
  function askForKey(detail, refusedKey) {
    storeKey("");
    els.keyInput.value = "";
    showKeyStatus(
      refusedKey
        ? `Wrong API key: the server refused it (${detail}). Enter a valid key; ` +
            "the waiting images are sent again."
        : `This server needs an API key (${detail}). Enter one to compress the images.`,
      true,
    );
    els.keyInput.focus();
  }
  els.keyInput.value = state.key;
  showKeyStatus(
    state.key
      ? "Using the key kept for this tab."
      : "No key set: enough for a server run with --insecure-no-auth.",
    false,
  );
  els.keyForm.addEventListener("submit", (event) => {
    event.preventDefault();
    storeKey(els.keyInput.value.trim());
    state.keyAsked = false;
    showKeyStatus(
      state.key
        ? "Key kept for this tab; it is sent with every image."
        : "No key set: enough for a server run with --insecure-no-auth.",
      false,
    );
    for (const item of state.items) if (item.status === "needs-key") queue(item);
    pump();
  });
  els.keyForget.addEventListener("click", () => {
    storeKey("");
    els.keyInput.value = "";
    showKeyStatus("Key forgotten.", false);
  });

  // ---- adding files ------------------------------------------------------------------------
  function addFiles(files) {
    const added = [];
    for (const file of files) {
      const item = {
        id: state.nextId++,
        file,
        name: file.name || "image",
        status: "waiting",
        result: null,
        error: "",
        controller: null,
        retries: 0, // in a row, for the cap
        resent: 0, // in all: the row's data-resent
        timer: 0,
        originalUrl: URL.createObjectURL(file),
        el: null,
      };
      item.el = buildRow(item);
      state.items.push(item);
      els.list.append(item.el);
      added.push(item);
    }
    if (!added.length) return;
    announce(`${added.length} image${added.length === 1 ? "" : "s"} added.`);
    for (const item of added) render(item);
    renderTotals();
    pump();
  }

  function openPicker() {
    els.fileInput.click();
  }
  els.fileInput.addEventListener("change", () => {
    addFiles(els.fileInput.files);
    els.fileInput.value = ""; // the same file picked again is a new change
  });
  els.dropZone.addEventListener("click", openPicker);
  els.dropZone.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      openPicker();
    }
  });
  for (const type of ["dragenter", "dragover"]) {
    els.dropZone.addEventListener(type, (event) => {
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
      els.dropZone.classList.add("over");
    });
  }
  els.dropZone.addEventListener("dragleave", () => els.dropZone.classList.remove("over"));
  els.dropZone.addEventListener("drop", (event) => {
    event.preventDefault();
    event.stopPropagation(); // the window's catch-all below would add the files again
    els.dropZone.classList.remove("over");
    addFiles(event.dataTransfer.files);
  });
  // A drop that misses the zone must not navigate away from the page and its results.
  window.addEventListener("dragover", (event) => event.preventDefault());
  window.addEventListener("drop", (event) => {
    event.preventDefault();
    if (event.dataTransfer && event.dataTransfer.files.length) addFiles(event.dataTransfer.files);
  });

  // ---- quality -----------------------------------------------------------------------------
  // Every arrow key press is a change too: only a pause sends the images again.
  els.quality.addEventListener("input", () => {
    els.qualityValue.textContent = els.quality.value;
    clearTimeout(state.debounce);
    state.debounce = setTimeout(applyQuality, DEBOUNCE_MS);
  });
  function applyQuality() {
    const quality = Number(els.quality.value);
    if (quality === state.quality) return;
    state.quality = quality;
    for (const item of state.items) {
      if (item.status === "needs-key") continue;
      if (item.result && item.result.quality === quality && item.status === "done") continue;
      queue(item);
    }
    pump();
  }

  // ---- compressing -------------------------------------------------------------------------
  function queue(item) {
    clearTimeout(item.timer);
    if (item.controller) item.controller.abort();
    item.controller = null;
    item.status = "waiting";
    item.error = "";
    render(item);
  }

  function pump() {
    for (const item of state.items) {
      if (state.running >= PARALLEL) break;
      if (item.status === "waiting") compress(item);
    }
    renderTotals();
  }

  async function compress(item) {
    const quality = state.quality;
    const key = state.key;
    const controller = new AbortController();
    item.controller = controller;
    item.status = "compressing";
    item.requestedQuality = quality;
    render(item);
    state.running++;
    try {
      const url = new URL("v1/compress", document.baseURI);
      url.searchParams.set("quality", String(quality));
      const headers = {};
      if (key) headers.Authorization = `Bearer ${key}`;
      const response = await fetch(url, {
        method: "POST",
        body: item.file,
        headers,
        signal: controller.signal,
      });
      if (response.ok) {
        const blob = await response.blob();
        finishDone(item, response, blob, quality);
      } else {
        await finishFailed(item, response, key);
      }
    } catch (error) {
      if (controller.signal.aborted) return; // queued again: a newer request owns the item
      item.status = "failed";
      item.error = `Could not reach the server: ${error.message}`;
    } finally {
      state.running--;
      if (item.controller === controller) item.controller = null;
      if (!controller.signal.aborted) {
        render(item);
        if (state.selected === item) showCompare(item);
      }
      pump();
      announceProgress();
    }
  }

  function finishDone(item, response, blob, quality) {
    const header = (name) => response.headers.get(`X-Pixpress-${name}`);
    if (item.result) URL.revokeObjectURL(item.result.url);
    item.result = {
      blob,
      url: URL.createObjectURL(blob),
      inputSize: Number(header("Input-Size") || item.file.size),
      outputSize: Number(header("Output-Size") || blob.size),
      quality: Number(header("Quality") || quality),
      keptOriginal: header("Kept-Original") === "true",
      keptReason: header("Kept-Original-Reason") || "",
      actionId: header("Action-Id") || "",
      width: Number(header("Width") || 0),
      height: Number(header("Height") || 0),
      format: (response.headers.get("Content-Type") || "").replace(/^image\//, ""),
      forQuality: quality,
    };
    item.status = "done";
    item.error = "";
    item.retries = 0;
  }

  async function finishFailed(item, response, key) {
    let detail = `HTTP ${response.status}`;
    let code = "";
    try {
      const problem = await response.json();
      if (problem && problem.detail) detail = problem.detail;
      if (problem && problem.code) code = problem.code;
    } catch {
      /* not problem+json: the status says enough */
    }
    if (response.status === 401 && state.keyAsked) {
      item.status = "needs-key"; // a key was refused already: the question stands
      item.error = "Waiting for a valid API key.";
      return;
    }
    if (response.status === 401 && key !== state.key) {
      item.status = "waiting"; // refused an older key: a newer one was entered meanwhile
      return;
    }
    if (response.status === 401) {
      item.status = "needs-key";
      item.error = "Waiting for a valid API key.";
      for (const other of state.items) {
        if (other !== item && other.status === "waiting") {
          other.status = "needs-key";
          other.error = item.error;
          render(other);
        }
      }
      state.keyAsked = true;
      askForKey(detail, key);
      return;
    }
    const retry = response.headers.get("Retry-After");
    const seconds = Number(retry);
    const busy = response.status === 429 || response.status === 503;
    if (busy && seconds > 0 && item.retries < AUTO_RETRIES) {
      item.retries++;
      item.resent++;
      item.status = "retrying";
      item.error = `${detail}: sending again in ${seconds} s`;
      item.timer = setTimeout(() => {
        if (item.status !== "retrying") return;
        queue(item);
        pump();
      }, seconds * 1000);
      return;
    }
    item.status = "failed";
    item.error = `${detail}${code ? ` (${code})` : ""}${retry ? `: try again in ${retry} s` : ""}`;
  }

  // ---- rendering ---------------------------------------------------------------------------
  function buildRow(item) {
    const row = els.template.content.firstElementChild.cloneNode(true);
    row.dataset.id = String(item.id);
    row.querySelector(".file-name").textContent = item.name;
    setSize(row.querySelector(".input-size"), item.file.size);
    const download = row.querySelector(".download");
    download.setAttribute("download", item.name);
    download.setAttribute("aria-label", `Download ${item.name}`);
    const compare = row.querySelector(".show-compare");
    compare.setAttribute("aria-label", `Compare ${item.name}`);
    compare.addEventListener("click", () => showCompare(item, true));
    const retry = row.querySelector(".retry");
    retry.setAttribute("aria-label", `Retry ${item.name}`);
    retry.addEventListener("click", () => {
      queue(item);
      pump();
    });
    const remove = row.querySelector(".remove");
    remove.setAttribute("aria-label", `Remove ${item.name}`);
    remove.addEventListener("click", () => removeItem(item));
    return row;
  }

  function statusText(item) {
    switch (item.status) {
      case "waiting":
        return "Waiting…";
      case "compressing":
        return `Compressing at quality ${item.requestedQuality}…`;
      case "needs-key":
      case "retrying":
      case "failed":
        return item.error;
      default: {
        const r = item.result;
        const size = r.width ? `, ${r.width}×${r.height}` : "";
        if (r.keptOriginal) {
          return `Kept the original${r.keptReason ? `: ${r.keptReason}` : ""} (${r.format}${size})`;
        }
        return `Done at quality ${r.quality} (${r.format}${size})`;
      }
    }
  }

  function render(item) {
    const row = item.el;
    row.classList.toggle("failed", item.status === "failed" || item.status === "needs-key");
    row.classList.toggle("done", item.status === "done");
    row.dataset.status = item.status;
    row.dataset.resent = String(item.resent);
    row.querySelector(".file-status").textContent = statusText(item);
    row.querySelector(".retry").hidden = item.status !== "failed";
    const output = row.querySelector(".output-size");
    const saving = row.querySelector(".saving");
    const download = row.querySelector(".download");
    const compare = row.querySelector(".show-compare");
    const r = item.status === "done" ? item.result : null;
    if (r) {
      setSize(output, r.outputSize);
      row.dataset.actionId = r.actionId;
      saving.textContent = savingText(r.inputSize, r.outputSize);
      saving.classList.toggle("worse", r.outputSize >= r.inputSize);
      download.href = r.url;
      download.hidden = false;
      compare.hidden = false;
    } else {
      output.value = "";
      output.textContent = item.status === "compressing" ? "…" : "–";
      output.removeAttribute("title");
      saving.textContent = "";
      download.hidden = true;
      download.removeAttribute("href");
      compare.hidden = true;
    }
  }

  function renderTotals() {
    const done = state.items.filter((item) => item.status === "done");
    els.empty.hidden = state.items.length > 0;
    els.downloadAll.disabled = done.length === 0;
    els.clearAll.disabled = state.items.length === 0;
    if (!done.length) {
      els.totals.textContent = "";
      return;
    }
    const before = done.reduce((sum, item) => sum + item.result.inputSize, 0);
    const after = done.reduce((sum, item) => sum + item.result.outputSize, 0);
    els.totals.textContent =
      `${done.length} of ${state.items.length} compressed: ${formatBytes(before)} → ` +
      `${formatBytes(after)}, ${savingText(before, after)}`;
  }

  function announce(text) {
    els.announcer.textContent = text;
  }
  function announceProgress() {
    const busy = state.items.some((i) =>
      ["waiting", "compressing", "retrying"].includes(i.status),
    );
    if (busy || !state.items.length) return;
    const done = state.items.filter((item) => item.status === "done").length;
    const failed = state.items.length - done;
    announce(`${done} of ${state.items.length} compressed${failed ? `, ${failed} failed` : ""}.`);
  }

  function removeItem(item) {
    clearTimeout(item.timer);
    if (item.controller) item.controller.abort();
    URL.revokeObjectURL(item.originalUrl);
    if (item.result) URL.revokeObjectURL(item.result.url);
    state.items = state.items.filter((other) => other !== item);
    item.el.remove();
    if (state.selected === item) hideCompare();
    renderTotals();
    els.dropZone.focus();
  }
  els.clearAll.addEventListener("click", () => {
    for (const item of [...state.items]) removeItem(item);
    announce("All images removed.");
  });

  // ---- downloads ---------------------------------------------------------------------------
  function saveBlob(blob, name) {
    const url = URL.createObjectURL(blob);
    const link = document.createElement("a");
    link.href = url;
    link.download = name;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  }
  els.downloadAll.addEventListener("click", async () => {
    const done = state.items.filter((item) => item.status === "done");
    if (!done.length) return;
    const names = window.pixpressZip.uniqueNames(done.map((item) => item.name));
    const entries = [];
    for (let i = 0; i < done.length; i++) {
      const bytes = new Uint8Array(await done[i].result.blob.arrayBuffer());
      entries.push({ name: names[i], bytes });
    }
    saveBlob(window.pixpressZip.zipBlob(entries), "pixpress-compressed.zip");
    announce(`Zip of ${entries.length} image${entries.length === 1 ? "" : "s"} saved.`);
  });

  // ---- compare -----------------------------------------------------------------------------
  function naturalSize(img) {
    // 1:1 means one image pixel per device pixel, whatever the screen's pixel ratio.
    const ratio = window.devicePixelRatio || 1;
    if (img.naturalWidth) img.style.width = `${img.naturalWidth / ratio}px`;
  }
  for (const img of [els.compareOriginal, els.compareResult, els.sideOriginal, els.sideResult]) {
    img.addEventListener("load", () => {
      naturalSize(img);
      if (img === els.compareOriginal) centreDivider();
    });
    img.addEventListener("error", () => {
      if (img.getAttribute("src")) {
        els.compareCaption.textContent =
          "This browser cannot display this format; the sizes and downloads still work.";
      }
    });
  }

  function showCompare(item, focus) {
    if (!item.result || item.status !== "done") return;
    for (const other of state.items) other.el.classList.toggle("selected", other === item);
    state.selected = item;
    els.compare.hidden = false;
    const r = item.result;
    els.compareCaption.textContent =
      `${item.name}: original ${formatBytes(r.inputSize)} on the left, ` +
      `compressed ${formatBytes(r.outputSize)} at quality ${r.quality} on the right.`;
    els.compareOriginal.src = item.originalUrl;
    els.compareResult.src = r.url;
    els.sideOriginal.src = item.originalUrl;
    els.sideResult.src = r.url;
    setSplit(state.split);
    if (focus) {
      els.compare.scrollIntoView({ block: "start" });
      (els.compareSide.hidden ? els.divider : els.sideOriginalScroll).focus({ preventScroll: true });
    }
  }
  function hideCompare() {
    state.selected = null;
    els.compare.hidden = true;
    for (const img of [els.compareOriginal, els.compareResult, els.sideOriginal, els.sideResult]) {
      img.removeAttribute("src");
    }
  }

  // On a narrow screen the divider of a wide image starts out of view: scroll it to the middle.
  function centreDivider() {
    const box = els.compareSlider;
    const x = (els.compareStage.offsetWidth * state.split) / 100;
    box.scrollLeft = Math.max(0, x - box.clientWidth / 2);
  }

  function setSplit(percent) {
    state.split = Math.min(100, Math.max(0, Math.round(percent)));
    els.compareStage.style.setProperty("--split", `${state.split}%`);
    els.divider.setAttribute("aria-valuenow", String(state.split));
    els.divider.setAttribute("aria-valuetext", `${state.split}% original`);
  }
  els.divider.addEventListener("keydown", (event) => {
    const step = event.shiftKey ? 10 : 1;
    const moves = {
      ArrowLeft: -step,
      ArrowDown: -step,
      ArrowRight: step,
      ArrowUp: step,
      PageDown: -10,
      PageUp: 10,
    };
    if (event.key in moves) setSplit(state.split + moves[event.key]);
    else if (event.key === "Home") setSplit(0);
    else if (event.key === "End") setSplit(100);
    else return;
    event.preventDefault();
  });
  function splitFromPointer(event) {
    const box = els.compareStage.getBoundingClientRect();
    if (box.width > 0) setSplit(((event.clientX - box.left) / box.width) * 100);
  }
  els.compareStage.addEventListener("pointerdown", (event) => {
    if (event.button !== 0) return;
    els.compareStage.setPointerCapture(event.pointerId);
    splitFromPointer(event);
    els.divider.focus({ preventScroll: true });
  });
  els.compareStage.addEventListener("pointermove", (event) => {
    if (els.compareStage.hasPointerCapture(event.pointerId)) splitFromPointer(event);
  });

  for (const radio of document.querySelectorAll('input[name="compare-mode"]')) {
    radio.addEventListener("change", () => {
      const side = radio.value === "side" && radio.checked;
      els.compareSide.hidden = !side;
      els.compareSlider.hidden = side;
    });
  }
  // Side by side: both panes scroll together, so the same pixels stay next to each other.
  let syncing = false;
  function syncScroll(from, to) {
    from.addEventListener("scroll", () => {
      if (syncing) return;
      syncing = true;
      to.scrollLeft = from.scrollLeft;
      to.scrollTop = from.scrollTop;
      requestAnimationFrame(() => {
        syncing = false;
      });
    });
  }
  syncScroll(els.sideOriginalScroll, els.sideResultScroll);
  syncScroll(els.sideResultScroll, els.sideOriginalScroll);
  els.sideOriginalScroll.tabIndex = 0;
  els.sideResultScroll.tabIndex = 0;
  els.sideOriginalScroll.setAttribute("aria-label", "Original, scrollable");
  els.sideResultScroll.setAttribute("aria-label", "Compressed, scrollable");
  els.compareSlider.tabIndex = -1;

  renderTotals();
})();
