"""Every validation rule: a stable code, a severity and a one-line rationale.

Codes never change meaning once published: Y = reading the file safely, S = schema,
P = policy for one leaf, T = tree-wide, R = maintainers' decisions on generated samples,
C = changes against a base ref; D = the documents of knowledge leaves (`--check-documents`,
rules owned by `taxon.documents`). The table in CONTRIBUTING.md is generated from RULES
(`taxon rules --write CONTRIBUTING.md`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from taxon.core.findings import ERROR, WARNING, Finding

INFO = "info"


@dataclass(frozen=True)
class Rule:
    code: str
    severity: str
    title: str
    rationale: str


RULES: dict[str, Rule] = {
    rule.code: rule
    for rule in (
        Rule("Y001", ERROR, "YAML syntax error", "a file the parser can't read can't be reviewed or trained on"),
        Rule("Y002", ERROR, "file too large", "a size cap keeps validation bounded in time and memory"),
        Rule(
            "Y003",
            ERROR,
            "not UTF-8",
            "one encoding (UTF-8, no byte-order mark) everywhere; other bytes are silently garbled",
        ),
        Rule("Y004", ERROR, "control character", "NUL and control characters hide text from reviewers and break tools"),
        Rule(
            "Y005",
            ERROR,
            "bidirectional control character",
            "bidi overrides make text read differently than it is stored (Trojan Source)",
        ),
        Rule(
            "Y006",
            ERROR,
            "anchor or alias",
            "aliases allow exponential expansion (billion laughs) and hide content from the diff",
        ),
        Rule(
            "Y007",
            ERROR,
            "explicit tag",
            "tags such as !!python/object can ask a loader to run code; plain data needs none",
        ),
        Rule("Y008", ERROR, "several YAML documents", "a leaf is one document; a second one would be silently ignored"),
        Rule(
            "Y009",
            ERROR,
            "nesting too deep",
            "real qna.yaml files are shallow; deep nesting only costs time and memory",
        ),
        Rule("Y010", ERROR, "duplicate key", "with a repeated key one value silently wins; say it once"),
        Rule("Y011", ERROR, "symbolic link", "links can point outside the repository; leaves are plain files"),
        Rule("Y012", ERROR, "unreadable file", "the file must exist and be readable"),
        Rule("Y013", ERROR, "not a mapping", "a qna.yaml is a mapping of keys such as created_by and seed_examples"),
        Rule("Y014", ERROR, "complex key", "keys are plain text; a list or mapping as a key has no JSON meaning"),
        Rule(
            "Y015",
            ERROR,
            "invisible character",
            "default-ignorable, format, private-use and blank characters (variation selectors, tags, fillers, "
            "stray joiners, line separators) reach the teacher and the model unseen by reviewers",
        ),
        Rule("S001", ERROR, "missing key", "the schema of the declared version requires it"),
        Rule("S002", ERROR, "unknown key", "unknown keys are usually typos of a required one and are never used"),
        Rule("S003", ERROR, "wrong type", "tools read each key as one type (text, number, list, mapping)"),
        Rule(
            "S004", ERROR, "wrong number of items", "generation needs enough seed examples; limits keep prompts bounded"
        ),
        Rule("S005", ERROR, "text too long", "bounded lengths keep prompts and reviews manageable"),
        Rule("S006", ERROR, "value not allowed", "the value must match the documented format"),
        Rule("S007", ERROR, "repeated item", "repeated seed examples add nothing and skew generation"),
        Rule(
            "S008",
            ERROR,
            "unsupported or outdated version",
            "new and changed leaves use the newest schema; `taxon migrate` upgrades",
        ),
        Rule("P001", ERROR, "tab character", "tabs render differently everywhere and are not YAML indentation"),
        Rule("P002", ERROR, "trailing whitespace", "invisible characters create noisy diffs"),
        Rule("P003", ERROR, "no final newline", "a file ends with exactly one newline so diffs stay clean"),
        Rule(
            "P010",
            ERROR,
            "knowledge context too long",
            "a context must fit the teacher's prompt with room for the answer",
        ),
        Rule("P011", ERROR, "question and answer too long", "a seed pair must fit the teacher's prompt"),
        Rule(
            "P012",
            ERROR,
            "skill seeds too long in all",
            "a reviewer reads every seed, and each generated sample is checked against all of them together "
            "(a context several seeds share counts once)",
        ),
        Rule("P020", ERROR, "empty value", "an empty or whitespace-only text teaches nothing"),
        Rule("P030", ERROR, "repeated question", "the same question twice in one leaf adds nothing"),
        Rule("P031", WARNING, "near-duplicate seed", "near copies add little variety to generation"),
        Rule(
            "P040", ERROR, "attribution.txt missing", "every leaf states where its content comes from and its license"
        ),
        Rule("P041", ERROR, "license not allowed", "only openly licensed content can be trained on and published"),
        Rule(
            "P050",
            ERROR,
            "file not named qna.yaml",
            "tools find leaves by the exact name qna.yaml; other names are ignored",
        ),
        Rule(
            "P051",
            ERROR,
            "folder name not allowed",
            "folder names become leaf ids: lowercase letters, digits and underscores",
        ),
        Rule(
            "P052",
            ERROR,
            "no kind folder",
            "the kind (knowledge, compositional_skills, foundational_skills) comes from the path",
        ),
        Rule("P060", ERROR, "document repo not https", "documents are fetched over https only"),
        Rule("P061", ERROR, "commit not a full SHA", "a full 40-hex commit pins the exact document that was reviewed"),
        Rule(
            "P062",
            ERROR,
            "document pattern escapes the leaf",
            "patterns are relative, without '..', so they can't reach other files",
        ),
        Rule("P063", ERROR, "in-tree document missing", "an in-tree pattern must match a file beside the qna.yaml"),
        Rule(
            "P064",
            ERROR,
            "document pattern not a plain glob",
            "few wildcards, '**' as whole segments, bounded depth: matching stays fast and reviewers can read it",
        ),
        Rule(
            "T001",
            WARNING,
            "question in two leaves",
            "the same question in two leaves usually means two pull requests on one topic",
        ),
        Rule("T002", WARNING, "leaves nearly coincide", "two leaves with almost the same seeds are likely duplicates"),
        Rule(
            "T003",
            ERROR,
            "file with no place in the taxonomy",
            "only leaf folders with qna.yaml, attribution.txt and knowledge documents: other files (a git "
            "repository's HEAD or config, scripts, dotfiles) are never reviewed as data and can trap tools",
        ),
        Rule(
            "R001",
            ERROR,
            "decision file not valid",
            "a maintainer's decision is read by every run: its fields are known, typed and complete",
        ),
        Rule(
            "R002",
            ERROR,
            "decision file misplaced",
            "decisions/<leaf id>/<sample id>.yaml: one file per decision, so decisions on different samples "
            "never conflict in git",
        ),
        Rule(
            "R003",
            WARNING,
            "decision for a leaf that no longer exists",
            "a renamed or deleted leaf's samples have new ids: its decisions no longer apply",
        ),
        Rule(
            "R004",
            WARNING,
            "decision for a sample no longer generated",
            "the sample's content changed (a new seed, teacher or filter): decide on the new one",
        ),
        Rule(
            "R005",
            ERROR,
            "decision not made by a maintainer",
            "only a maintainer's own pull request or /taxon comment adds, changes or removes a decision "
            "(taxon gitops check-decisions)",
        ),
        Rule("C001", INFO, "leaf deleted", "deleted leaves are reported so a removal is never silent"),
        Rule("C002", INFO, "leaf renamed", "a rename keeps the content but changes the leaf id"),
        Rule(
            "D001",
            ERROR,
            "an external document repository must be an https:// URL without credentials",
            "checked by `taxon validate --check-documents`",
        ),
        Rule(
            "D002",
            ERROR,
            "the document repository must be reachable (fetched within the timeout)",
            "checked by `taxon validate --check-documents`",
        ),
        Rule(
            "D003",
            ERROR,
            "the document commit must be a full sha that exists in the repository",
            "checked by `taxon validate --check-documents`",
        ),
        Rule(
            "D004",
            ERROR,
            "every document pattern must match at least one file",
            "checked by `taxon validate --check-documents`",
        ),
        Rule(
            "D005",
            ERROR,
            "document patterns stay inside the leaf folder or repository (no '..', no absolute paths)",
            "checked by `taxon validate --check-documents`",
        ),
        Rule(
            "D006", ERROR, "symlinks and submodules are never followed", "checked by `taxon validate --check-documents`"
        ),
        Rule(
            "D007",
            ERROR,
            "a document file must not exceed [documents] max_file_bytes",
            "checked by `taxon validate --check-documents`",
        ),
        Rule(
            "D008",
            ERROR,
            "a leaf's documents together must not exceed [documents] max_leaf_bytes",
            "checked by `taxon validate --check-documents`",
        ),
        Rule(
            "D009",
            ERROR,
            "documents must be Markdown, plain text or PDF",
            "checked by `taxon validate --check-documents`",
        ),
        Rule(
            "D010",
            ERROR,
            "a text document must be UTF-8 text (not binary, not a Git LFS pointer)",
            "checked by `taxon validate --check-documents`",
        ),
        Rule(
            "D011",
            ERROR,
            "a PDF document must be readable and contain text",
            "checked by `taxon validate --check-documents`",
        ),
        Rule(
            "D012",
            ERROR,
            "the fetched commit must pass git's object checks (fsck)",
            "checked by `taxon validate --check-documents`",
        ),
        Rule(
            "D013",
            ERROR,
            "a document pattern must be a plain glob within the caps (wildcards, '**' segments, depth)",
            "checked by `taxon validate --check-documents`",
        ),
        Rule(
            "D014",
            ERROR,
            "a document must hold no invisible characters (see Y015)",
            "checked by `taxon validate --check-documents`",
        ),
        Rule(
            "D016",
            ERROR,
            "a leaf's documents must not make more chunks than [documents] max_chunks_per_leaf",
            "checked by `taxon validate --check-documents` (estimated; generate counts exactly)",
        ),
        Rule(
            "D017",
            ERROR,
            "a document's file name must be UTF-8 without control or invisible characters",
            "checked by `taxon validate --check-documents` (names reach git, hashes, JSON and logs)",
        ),
        Rule(
            "D018",
            ERROR,
            "a leaf's documents must stay within the volume caps of [documents]: patterns, files listed, depth, "
            "files selected, PDF pages, characters per document and per leaf",
            "each cap is checked before the work it bounds; the pattern count and an in-tree folder's listing "
            "also by plain `taxon validate`",
        ),
    )
}


def markdown_table() -> str:
    lines = ["| Code | Severity | Rule | Why |", "| --- | --- | --- | --- |"]
    for rule in RULES.values():
        lines.append(f"| {rule.code} | {rule.severity} | {rule.title} | {rule.rationale} |")
    return "\n".join(lines) + "\n"


def text_table() -> str:
    rules = RULES.values()
    width = max(len(rule.title) for rule in RULES.values())
    return "".join(f"{rule.code}  {rule.severity:<7}  {rule.title:<{width}}  {rule.rationale}\n" for rule in rules)


START_MARKER = "<!-- rules:start -->"
END_MARKER = "<!-- rules:end -->"
_BLOCK = re.compile(re.escape(START_MARKER) + r".*?" + re.escape(END_MARKER), re.S)


def with_rules_table(document: str) -> str:
    """The document with the text between the markers replaced by the current table; the
    markers (under a '## Rules' heading) are appended when the document has none."""
    block = f"{START_MARKER}\n{markdown_table()}{END_MARKER}"
    if _BLOCK.search(document):
        return _BLOCK.sub(lambda _: block, document, count=1)
    separator = "\n" if document.endswith("\n") or not document else "\n\n"
    heading = "" if "## Rules" in document else "## Rules\n\n"
    return f"{document}{separator if document else ''}{heading}{block}\n"


def write_rules_table(path: Path) -> bool:
    """Regenerate the rules table in a markdown file; True when the file changed."""
    path = Path(path)
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    new = with_rules_table(old)
    if new != old:
        path.write_text(new, encoding="utf-8")
    return new != old


def finding(path: str, line: int, column: int, code: str, message: str) -> Finding:
    """A finding of one rule, its severity from the table; positions are 1-based."""
    return Finding(
        path if type(path) is str else str(path),
        line if line > 1 else 1,
        column if column > 1 else 1,
        code,
        RULES[code].severity,
        message,
    )
