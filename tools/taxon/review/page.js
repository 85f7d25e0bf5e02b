"use strict";
// Builds the page from the embedded JSON. All contributed text goes in through textContent,
// never as HTML.
(function () {
  const data = JSON.parse(document.getElementById("review-data").textContent);
  const $ = (id) => document.getElementById(id);
  const rows = []; // {element, leafSection, leaf, status, reason, score, haystack}

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function formatScore(score) {
    return Number.isInteger(score) ? String(score) : score.toFixed(3);
  }

  function textBlock(label, text) {
    const wrap = el("div");
    wrap.append(el("div", "label", label), el("div", "text", text));
    return wrap;
  }

  function seedCard(seed, index) {
    const card = el("div", "seed");
    card.append(el("div", "label", "seed " + index));
    if (seed.context) card.append(textBlock("context", seed.context));
    card.append(textBlock("question", seed.question), textBlock("answer", seed.answer));
    return card;
  }

  function sampleCard(sample, leaf) {
    const card = el("div", "sample " + sample.status);
    const meta = el("div", "sample-meta");
    meta.append(el("span", "badge " + sample.status, sample.status));
    if (sample.id) meta.append(el("span", "badge id", sample.id));
    if (sample.source === "seed") meta.append(el("span", "badge seed", "seed example"));
    else if (sample.seed !== null) meta.append(el("span", "badge score", "from seed " + sample.seed));
    if (sample.made_by === "document") meta.append(el("span", "badge why", "made from the document"));
    if (sample.score !== null) meta.append(el("span", "badge score", "judge score " + formatScore(sample.score)));
    if (sample.reason) meta.append(el("span", "badge reason", "reason: " + sample.reason));
    if (sample.decision) {
      const by = sample.decision.by ? " by " + sample.decision.by : "";
      meta.append(el("span", "badge decision", "decided: " + sample.decision.action + by));
    }
    for (const phrase of sample.why || []) meta.append(el("span", "badge why", phrase));
    card.append(meta, textBlock("question", sample.question), textBlock("answer", sample.answer));
    if (sample.decision && sample.decision.action === "fix") card.append(textBlock("answer as generated", sample.generated_answer));
    if (sample.id && sample.made_by !== "seed") card.append(decideControls(sample, leaf, card));
    return card;
  }

  // ---------------------------------------------------------------- deciding
  // Decisions made on this page, by sample id; kept in the browser's storage, so a reload loses none.
  const format = data.decision_format || {};
  const storageKey = "taxon-review:" + (data.key || "");
  const pending = new Map();
  const byId = new Map(); // id -> {sample, leaf, card, refresh}
  try {
    for (const [id, decision] of JSON.parse(localStorage.getItem(storageKey) || "[]")) pending.set(id, decision);
  } catch (error) {
    pending.clear();
  }

  function save() {
    try {
      localStorage.setItem(storageKey, JSON.stringify([...pending.entries()]));
    } catch (error) {
      // storage may be off for file:// pages; the decisions still export
    }
  }

  function decisionOf(id) {
    const mine = pending.get(id);
    if (mine) return mine.action;
    const entry = byId.get(id);
    return entry && entry.sample.decision ? entry.sample.decision.action : "";
  }

  function decideControls(sample, leaf, card) {
    const box = el("div", "decide");
    const reason = el("input", "reason-input");
    reason.type = "text";
    reason.placeholder = "reason (optional)";
    const keep = el("button", "keep", "Keep");
    const drop = el("button", "drop", "Drop");
    const fix = el("button", "fix", "Fix…");
    const undo = el("button", "undo", "Undo");
    const mine = el("span", "mine");
    const editor = el("div", "fix-editor");
    const text = el("textarea", "fix-text");
    const saveFix = el("button", "fix-save", "Save fix");
    const cancel = el("button", "fix-cancel", "Cancel");
    const buttons = el("div", "decide");
    buttons.append(saveFix, cancel);
    editor.append(el("div", "label", "the answer to train instead"), text, buttons);
    editor.hidden = true;
    for (const button of [keep, drop, fix, undo, saveFix, cancel]) button.type = "button";
    box.append(reason, keep, drop, fix, undo, mine, editor);

    function refresh() {
      const decision = pending.get(sample.id);
      mine.textContent = decision ? "your decision: " + decision.action : "";
      undo.hidden = !decision;
      card.classList.remove("decided-keep", "decided-drop", "decided-fix");
      const action = decisionOf(sample.id);
      if (action) card.classList.add("decided-" + action);
      if (decision && decision.reason !== undefined) reason.value = decision.reason;
    }

    function decide(action, fixedAnswer) {
      const decision = { action, leaf, reason: reason.value.trim() };
      if (visible(decision.reason) !== decision.reason) {
        $("export-status").textContent = "the reason holds characters a reader can't see: remove them";
        return;
      }
      if (action === "fix") decision.fixed_answer = fixedAnswer;
      pending.set(sample.id, decision);
      save();
      refresh();
      update();
    }

    keep.addEventListener("click", () => decide("keep"));
    drop.addEventListener("click", () => decide("drop"));
    fix.addEventListener("click", () => {
      const current = pending.get(sample.id);
      text.value = current && current.fixed_answer !== undefined ? current.fixed_answer : sample.answer;
      editor.hidden = false;
      text.focus();
    });
    saveFix.addEventListener("click", () => {
      const answer = text.value.trim();
      if (!answer) {
        $("export-status").textContent = "a fix needs an answer";
        return;
      }
      if (visible(answer) !== answer) {
        $("export-status").textContent = "the answer holds characters a reader can't see: remove them";
        return;
      }
      editor.hidden = true;
      decide("fix", answer);
    });
    cancel.addEventListener("click", () => {
      editor.hidden = true;
    });
    undo.addEventListener("click", () => {
      pending.delete(sample.id);
      save();
      refresh();
      update();
    });
    byId.set(sample.id, { sample, leaf, card, refresh });
    return box;
  }

  // As taxon.qna.decisions.render_decision writes a decision file, byte for byte.
  function isHidden(point) {
    return (format.hidden || []).some(([first, last]) => point >= first && point <= last);
  }

  function visible(text) {
    let out = "";
    for (const char of text) {
      const point = char.codePointAt(0);
      out += isHidden(point) ? "<U+" + point.toString(16).toUpperCase().padStart(4, "0") + ">" : char;
    }
    return out;
  }

  function scalar(text) {
    return JSON.stringify(text);
  }

  function decisionText(id, decision, login, at) {
    const entry = byId.get(id);
    const values = [
      ["id", id],
      ["leaf", decision.leaf],
      ["decision", decision.action],
      ["by", login],
      ["at", at],
      ["reason", decision.reason || null],
      ["fixed_answer", decision.action === "fix" ? decision.fixed_answer : null],
      ["question", visible(entry.sample.question)],
      ["answer", visible(entry.sample.generated_answer)],
    ];
    let text = format.header + "version: " + format.version + "\n";
    for (const [key, value] of values) if (value !== null) text += key + ": " + scalar(value) + "\n";
    return text;
  }

  function lines(text) {
    const all = text.split("\n");
    if (all[all.length - 1] === "") all.pop();
    return all;
  }

  // A git patch creating (or replacing) each decision file; `git apply` takes it as it is.
  function patchOf(login) {
    const at = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    let patch = "";
    for (const [id, decision] of [...pending.entries()].sort()) {
      if (!byId.has(id)) continue;
      const path = format.dir + "/" + decision.leaf + "/" + id + ".yaml";
      const added = lines(decisionText(id, decision, login, at));
      const old = byId.get(id).sample.decision_file;
      patch += "diff --git a/" + path + " b/" + path + "\n";
      if (old) {
        const removed = lines(old);
        patch += "--- a/" + path + "\n+++ b/" + path + "\n";
        patch += "@@ -1," + removed.length + " +1," + added.length + " @@\n";
        patch += removed.map((line) => "-" + line + "\n").join("");
        if (!old.endsWith("\n")) patch += "\\ No newline at end of file\n";
      } else {
        patch += "new file mode 100644\n--- /dev/null\n+++ b/" + path + "\n";
        patch += "@@ -0,0 +1," + added.length + " @@\n";
      }
      patch += added.map((line) => "+" + line + "\n").join("");
    }
    return patch;
  }

  // The same decisions as `/taxon` comment lines, at most `perComment` ids a comment; a fix
  // whose answer spans lines, or a fix's reason, has no comment form.
  function commentsOf(perComment) {
    const chunks = [];
    let lines = [];
    const left = [];
    for (const [id, decision] of [...pending.entries()].sort()) {
      if (!byId.has(id)) continue;
      const text = decision.action === "fix" ? decision.fixed_answer : decision.reason;
      if (decision.action === "fix" && /[\r\n]/.test(text)) {
        left.push(id);
        continue;
      }
      lines.push(("/taxon " + decision.action + " " + id + " " + (text || "").replace(/[\r\n]+/g, " ")).trim());
      if (lines.length === perComment) {
        chunks.push(lines.join("\n"));
        lines = [];
      }
    }
    if (lines.length) chunks.push(lines.join("\n"));
    return { text: chunks.join("\n\n----- post the lines below as another comment -----\n\n"), left };
  }

  function exportDecisions() {
    const login = $("reviewer").value.trim();
    if (!new RegExp("^(?:" + format.login + ")$").test(login)) {
      $("export-status").textContent = "enter your GitHub login first: the decisions are recorded as yours";
      $("reviewer").focus();
      return;
    }
    const patch = patchOf(login);
    $("export-text").value = patch;
    $("export-commands").textContent =
      "git apply taxon-decisions.patch\n" +
      "git add " + format.dir + "\n" +
      "git commit -m \"decisions: " + pending.size + " by " + login + "\"\n" +
      "git push";
    const comments = commentsOf(format.per_comment || 50);
    $("export-comment").value = comments.text;
    $("export-comment-note").textContent = comments.left.length
      ? "Fixes whose answer spans lines have no comment form; take them with the patch: " + comments.left.join(", ")
      : "";
    $("export-panel").hidden = false;
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([patch], { type: "text/x-diff" }));
    link.download = "taxon-decisions.patch";
    document.body.append(link);
    link.click();
    link.remove();
    $("export-status").textContent = pending.size + " decisions exported to taxon-decisions.patch";
  }

  function statsLine(leaf) {
    const stats = leaf.stats || {};
    const count = (key, fallback) => (typeof stats[key] === "number" ? stats[key] : fallback);
    const keptRows = leaf.samples.filter((s) => s.status === "kept" && s.source === "generated").length;
    const kept = count("kept", keptRows);
    const dropped = leaf.samples.filter((s) => s.status === "dropped").length;
    const parts = [leaf.kind, count("generated", kept + dropped) + " generated", kept + " kept", dropped + " dropped"];
    const reasons = stats.dropped && typeof stats.dropped === "object" ? Object.entries(stats.dropped) : [];
    if (reasons.length) parts.push("why: " + reasons.map(([r, n]) => r + " " + n).join(", "));
    const decided = leaf.samples.filter((s) => s.decision).length;
    const undecided = leaf.samples.filter((s) => s.made_by === "teacher" && s.status === "kept" && !s.decision).length;
    parts.push(decided + " decided by maintainers", undecided + " teacher-written still to decide");
    return parts.join(" · ");
  }

  function renderLeaf(leaf) {
    const section = el("section", "leaf");
    const head = el("div", "leaf-head");
    head.append(el("h2", null, leaf.id), el("div", "leaf-stats", statsLine(leaf)));
    if (leaf.stats && leaf.stats.error) head.append(el("div", "leaf-error", "generation fell short: " + leaf.stats.error));
    const seeds = el("div", "seeds");
    seeds.append(el("h3", null, "Seeds (" + leaf.seeds.length + ")"));
    leaf.seeds.forEach((seed, i) => seeds.append(seedCard(seed, i)));
    if (!leaf.seeds.length) seeds.append(el("p", "empty", "no seeds found"));
    const samples = el("div", "samples");
    samples.append(el("h3", null, "Samples (" + leaf.samples.length + ")"));
    const empty = el("p", "empty", "no sample matches the filters");
    for (const sample of leaf.samples) {
      const card = sampleCard(sample, leaf.id);
      samples.append(card);
      rows.push({
        element: card, section, leaf: leaf.id, status: sample.status, reason: sample.reason || "",
        score: sample.score, id: sample.id, madeBy: sample.made_by,
        haystack: [leaf.id, sample.id, sample.question, sample.answer, sample.reason || ""].join("\n").toLowerCase(),
      });
    }
    samples.append(empty);
    section.empty = empty;
    const columns = el("div", "columns");
    columns.append(seeds, samples);
    section.append(head, columns);
    section.leafId = leaf.id;
    return section;
  }

  function fillSelect(select, values) {
    for (const value of values) {
      const option = el("option", null, value);
      option.value = value;
      select.append(option);
    }
  }

  function apply() {
    const query = $("search").value.trim().toLowerCase();
    const leaf = $("leaf-filter").value;
    const status = $("status-filter").value;
    const reason = $("reason-filter").value;
    const bound = (id) => ($(id).value.trim() === "" ? null : Number($(id).value.trim()));
    const minScore = bound("min-score");
    const maxScore = bound("max-score");
    const madeBy = $("made-by-filter").value;
    const wanted = $("decision-filter").value;
    const visibleBySection = new Map();
    let shown = 0;
    for (const row of rows) {
      const decision = row.id ? decisionOf(row.id) : "";
      const decisionMatches =
        !wanted ||
        (wanted === "undecided" ? !decision && row.madeBy !== "seed" : wanted === "decided" ? !!decision : decision === wanted);
      const visible =
        (!leaf || row.leaf === leaf) &&
        (!status || row.status === status) &&
        (!reason || row.reason === reason) &&
        (minScore === null || Number.isNaN(minScore) || (row.score !== null && row.score >= minScore)) &&
        (maxScore === null || Number.isNaN(maxScore) || (row.score !== null && row.score <= maxScore)) &&
        (!madeBy || row.madeBy === madeBy) &&
        decisionMatches &&
        (!query || row.haystack.includes(query));
      row.element.hidden = !visible;
      if (visible) shown += 1;
      visibleBySection.set(row.section, (visibleBySection.get(row.section) || 0) + (visible ? 1 : 0));
    }
    for (const section of document.querySelectorAll("section.leaf")) {
      const count = visibleBySection.get(section) || 0;
      section.hidden = (leaf && section.leafId !== leaf) || (count === 0 && rows.length > 0 && isFiltering());
      section.empty.hidden = count > 0;
    }
    $("shown-count").textContent = shown + " of " + rows.length + " samples shown";
  }

  const FILTERS = [
    "search", "leaf-filter", "status-filter", "reason-filter", "min-score", "max-score", "made-by-filter",
    "decision-filter",
  ];

  function isFiltering() {
    return FILTERS.some((id) => $(id).value.trim() !== "");
  }

  // after a decision: the counts, the export button, and the filters (an undecided sample just decided leaves)
  function update() {
    $("export").textContent = "Export decisions (" + pending.size + ")";
    $("export").disabled = pending.size === 0;
    apply();
  }

  const facts = [
    data.leaves.length + (data.leaves.length === 1 ? " leaf" : " leaves"),
    "teacher " + (data.teacher || "unknown"),
  ];
  if (data.pipeline_version) facts.push("pipeline version " + data.pipeline_version);
  $("facts").textContent = facts.join(" · ");
  const main = $("leaves");
  for (const leaf of data.leaves) main.append(renderLeaf(leaf));
  if (!data.leaves.length) main.append(el("p", "empty", "This generate output holds no leaves."));
  fillSelect($("leaf-filter"), data.leaves.map((leaf) => leaf.id));
  fillSelect($("reason-filter"), [...new Set(rows.map((row) => row.reason).filter(Boolean))].sort());

  for (const id of ["search", "min-score", "max-score"]) $(id).addEventListener("input", apply);
  for (const id of ["leaf-filter", "status-filter", "reason-filter", "made-by-filter", "decision-filter"]) {
    $(id).addEventListener("change", apply);
  }
  $("reset").addEventListener("click", () => {
    for (const id of FILTERS) $(id).value = "";
    apply();
  });
  $("export").addEventListener("click", exportDecisions);
  for (const [id] of [...pending.entries()]) if (!byId.has(id)) pending.delete(id);
  for (const entry of byId.values()) entry.refresh();
  document.addEventListener("keydown", (event) => {
    if (event.key === "/" && !["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement.tagName)) {
      event.preventDefault();
      $("search").focus();
    }
  });
  update();
})();
