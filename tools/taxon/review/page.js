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

  function sampleCard(sample) {
    const card = el("div", "sample " + sample.status);
    const meta = el("div", "sample-meta");
    meta.append(el("span", "badge " + sample.status, sample.status));
    if (sample.source === "seed") meta.append(el("span", "badge seed", "seed example"));
    else if (sample.seed !== null) meta.append(el("span", "badge score", "from seed " + sample.seed));
    if (sample.score !== null) meta.append(el("span", "badge score", "judge score " + formatScore(sample.score)));
    if (sample.reason) meta.append(el("span", "badge reason", "reason: " + sample.reason));
    for (const phrase of sample.why || []) meta.append(el("span", "badge why", phrase));
    card.append(meta, textBlock("question", sample.question), textBlock("answer", sample.answer));
    return card;
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
      const card = sampleCard(sample);
      samples.append(card);
      rows.push({
        element: card, section, leaf: leaf.id, status: sample.status, reason: sample.reason || "",
        score: sample.score,
        haystack: [leaf.id, sample.question, sample.answer, sample.reason || ""].join("\n").toLowerCase(),
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
    const minText = $("min-score").value.trim();
    const minScore = minText === "" ? null : Number(minText);
    const visibleBySection = new Map();
    let shown = 0;
    for (const row of rows) {
      const visible =
        (!leaf || row.leaf === leaf) &&
        (!status || row.status === status) &&
        (!reason || row.reason === reason) &&
        (minScore === null || Number.isNaN(minScore) || (row.score !== null && row.score >= minScore)) &&
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

  function isFiltering() {
    return ["search", "leaf-filter", "status-filter", "reason-filter", "min-score"].some((id) => $(id).value.trim() !== "");
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

  for (const id of ["search", "min-score"]) $(id).addEventListener("input", apply);
  for (const id of ["leaf-filter", "status-filter", "reason-filter"]) $(id).addEventListener("change", apply);
  $("reset").addEventListener("click", () => {
    for (const id of ["search", "leaf-filter", "status-filter", "reason-filter", "min-score"]) $(id).value = "";
    apply();
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "/" && !["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement.tagName)) {
      event.preventDefault();
      $("search").focus();
    }
  });
  apply();
})();
