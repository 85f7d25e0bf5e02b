"""Maintainers' decisions on generated samples: keep one, drop one, or fix one (train it with
the maintainer's answer). A decision is one small YAML file in the repository,
`decisions/<leaf id>/<sample id>.yaml` beside `taxonomy/`, reviewed and versioned like the
leaves: two maintainers deciding on different samples write different files, so their branches
merge without a conflict, while the same sample decided twice is a conflict git shows.

A sample's id is a hash of what it is (its leaf, its user turn with any context shown, its
answer), so the same content generated again has the same id and its decision holds; content
that changed is another sample, and the old decision is reported as orphaned, never applied
to it. Generation applies the decisions (`apply_decisions`); everything after it reads the
decided samples.jsonl.

A decision file is hostile input like a contributed qna.yaml: it is read with the same safe
loader, and every field is checked (an unknown one is refused).
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import regex

from taxon.core.characters import has_hidden
from taxon.core.errors import TaxonError
from taxon.core.findings import ERROR, Finding
from taxon.core.rules import finding
from taxon.core.settings import ValidateSettings
from taxon.core.store import hash_value, read_jsonl
from taxon.qna.layout import DECISION_SUFFIX, DECISIONS_DIR, DROPPED_NAME, SAMPLES_NAME, STATS_NAME
from taxon.qna.loader import Parsed, read_qna
from taxon.qna.samples import answer_of, leaf_sample_dirs, question_of

KEEP, DROP, FIX = "keep", "drop", "fix"
ACTIONS = (KEEP, DROP, FIX)
FORMAT_VERSION = 1
SAMPLE_ID_LENGTH = 12
SAMPLE_ID = re.compile(r"[0-9a-f]{12}")
# GitHub's login rule: letters, digits and single hyphens, at most 39, not starting with a hyphen
LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}")
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?Z")
MAX_TEXT = 20_000  # characters of a question, an answer or a fixed answer
MAX_REASON = 1_000
MAX_DECISIONS_PER_COMMENT = 50  # sample ids one `/taxon` comment may decide on: more is refused whole
# a decision's reason in generation's terms: a sample a maintainer dropped
DROPPED_BY_MAINTAINER = "dropped_by_maintainer"
# the file's keys, in the order they are written; `reason` is optional, `fixed_answer` is a fix's
REQUIRED = ("version", "id", "leaf", "decision", "by", "at", "question", "answer")
FIELDS = ("version", "id", "leaf", "decision", "by", "at", "reason", "fixed_answer", "question", "answer")
HEADER = "# A maintainer's decision on one generated sample (see CONTRIBUTING.md, 'Deciding on samples').\n"


@dataclass(frozen=True)
class Decision:
    sample: str  # the sample id
    leaf: str
    action: str  # keep | drop | fix
    by: str  # the maintainer's GitHub login
    at: str  # UTC, ISO 8601 with a Z
    question: str  # the sample's user turn as it was decided on, for the reader of the diff
    answer: str  # the sample's answer as generated
    fixed_answer: str | None = None  # a fix's answer, trained instead
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.sample,
            "leaf": self.leaf,
            "decision": self.action,
            "by": self.by,
            "at": self.at,
            "reason": self.reason,
            "fixed_answer": self.fixed_answer,
        }


def sample_id(leaf_id: str, question: str, answer: str) -> str:
    """The id of a sample: the first 12 hex digits of a hash of its leaf, its user turn (the
    question with any context it shows) and its answer."""
    return hash_value([leaf_id, question, answer])[:SAMPLE_ID_LENGTH]


def row_sample_id(row: dict[str, Any]) -> str:
    """The id of a samples.jsonl row, always computed from its content (a fixed row by the
    answer it was generated with), never taken from its metadata."""
    metadata = row.get("metadata") or {}
    answer = metadata.get("original_answer") if metadata.get("decision") == FIX else None
    return sample_id(str(metadata.get("leaf")), question_of(row), answer if isinstance(answer, str) else answer_of(row))


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------ where decisions live


def taxonomy_root_of(leaf_folder: Path, leaf_id: str) -> Path:
    """The taxonomy folder a leaf folder is in: its folder less the leaf id's parts."""
    folder = Path(leaf_folder).resolve()
    return folder.parents[len(leaf_id.split("/")) - 1]


def decision_path(root: Path, leaf_id: str, sample: str) -> Path:
    return Path(root) / leaf_id / f"{sample}{DECISION_SUFFIX}"


def decision_files(root: Path) -> list[Path]:
    """Every file under a decisions folder (symlinked folders not followed), sorted."""
    found = []
    for folder, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not os.path.islink(os.path.join(folder, d)))
        found += [Path(folder) / name for name in filenames]
    return sorted(found)


def decisions_digest(root: Path) -> str:
    """A hash of every decision file under a decisions folder, by name and content: what the
    pipeline's generate and train keys hold, so a new decision re-derives its leaf from the unit
    cache and trains again, without asking the teacher anything."""
    files = {}
    if Path(root).is_dir():
        for path in decision_files(root):
            if path.is_file() and path.suffix == DECISION_SUFFIX:
                files[path.relative_to(root).as_posix()] = path.read_bytes().decode("utf-8", "replace")
    return hash_value(files)


# ------------------------------------------------------------------ the file


# Characters a decision file never copies as they are, wherever they stand (a superset of what
# the safe loader refuses, taxon.core.characters, which allows some in context): controls other
# than newlines and tabs, YAML's own line breaks, lone surrogates, and every character that may
# render as nothing.
_HIDDEN = regex.compile(
    r"(?![\t\n])[\p{Default_Ignorable_Code_Point}\p{Cf}\p{Co}\p{Zl}\p{Zp}\p{Cc}\p{Cs}\u2800\U0001D159]"
)


@cache
def hidden_ranges() -> list[tuple[int, int]]:
    """The hidden characters as (first, last) code points: the review page writes decision
    files the same way, from this list (computed once, in half a second)."""
    ranges: list[tuple[int, int]] = []
    for point in range(sys.maxunicode + 1):
        if _HIDDEN.match(chr(point)):
            if ranges and ranges[-1][1] == point - 1:
                ranges[-1] = (ranges[-1][0], point)
            else:
                ranges.append((point, point))
    return ranges


def _visible(text: str) -> str:
    """Text with its hidden characters written out as <U+XXXX>: a decision copies the sample
    for the reader of the diff."""
    return str(_HIDDEN.sub(lambda match: f"<U+{ord(match.group()):04X}>", text))


def _scalar(value: str) -> str:
    """A YAML double-quoted scalar: JSON's string escapes are YAML's too."""
    return json.dumps(value, ensure_ascii=False)


def render_decision(decision: Decision) -> str:
    """The file's text: one `key: value` line each, strings double-quoted (a YAML the safe
    loader reads, and the review page writes the same way)."""
    values: dict[str, str | None] = {
        "id": decision.sample,
        "leaf": decision.leaf,
        "decision": decision.action,
        "by": decision.by,
        "at": decision.at,
        "reason": decision.reason,
        "fixed_answer": decision.fixed_answer,
        "question": _visible(decision.question),
        "answer": _visible(decision.answer),
    }
    lines = [HEADER, f"version: {FORMAT_VERSION}\n"]
    lines += [f"{key}: {_scalar(value)}\n" for key, value in values.items() if value is not None]
    return "".join(lines)


def decision_problems(data: Any) -> list[tuple[tuple[Any, ...], str]]:
    """What is wrong with a decision file's data, as (node path, message): every key known and
    of its type, the id 12 hex digits, the login GitHub's, the time UTC, a fix with its answer."""
    if not isinstance(data, dict):
        return [((), "a decision file is a mapping of keys (version, id, leaf, decision, by, at, ...)")]
    problems: list[tuple[tuple[Any, ...], str]] = []
    for key in data:
        if key not in FIELDS:
            problems.append(((key,), f"unknown field '{key}': a decision has only {', '.join(FIELDS)}"))
    for key in REQUIRED:
        if key not in data:
            problems.append(((), f"missing field '{key}'"))
    if "version" in data and (type(data["version"]) is not int or data["version"] != FORMAT_VERSION):
        problems.append((("version",), f"version must be {FORMAT_VERSION}, not {data['version']!r}"))
    for key in FIELDS[1:]:
        if key in data and not isinstance(data[key], str):
            problems.append(((key,), f"'{key}' must be text (in double quotes), not {type(data[key]).__name__}"))
    text = {key: value for key, value in data.items() if isinstance(value, str)}
    if "id" in text and not SAMPLE_ID.fullmatch(text["id"]):
        problems.append((("id",), f"id must be a sample id of {SAMPLE_ID_LENGTH} lowercase hex digits"))
    if "decision" in text and text["decision"] not in ACTIONS:
        problems.append((("decision",), f"decision must be one of {', '.join(ACTIONS)}, not {text['decision']!r}"))
    if "by" in text and not LOGIN.fullmatch(text["by"]):
        problems.append((("by",), "by must be the maintainer's GitHub login (letters, digits, single hyphens)"))
    if "at" in text and not TIMESTAMP.fullmatch(text["at"]):
        problems.append((("at",), "at must be a UTC time such as 2026-01-31T12:00:00Z"))
    if data.get("decision") == FIX:
        if not text.get("fixed_answer", "").strip():
            problems.append((("fixed_answer",), "a fix needs fixed_answer: the answer to train instead"))
    elif "fixed_answer" in data:
        problems.append((("fixed_answer",), f"fixed_answer belongs to a fix, not to a {data.get('decision')!r}"))
    for key, limit in (
        ("question", MAX_TEXT),
        ("answer", MAX_TEXT),
        ("fixed_answer", MAX_TEXT),
        ("reason", MAX_REASON),
    ):
        if len(text.get(key, "")) > limit:
            problems.append(((key,), f"'{key}' is over {limit} characters"))
    return problems


def _from_data(data: dict[str, Any]) -> Decision:
    return Decision(
        sample=data["id"],
        leaf=data["leaf"],
        action=data["decision"],
        by=data["by"],
        at=data["at"],
        question=data["question"],
        answer=data["answer"],
        fixed_answer=data.get("fixed_answer"),
        reason=data.get("reason") or None,
    )


def parse_decision(parsed: Parsed, leaf_id: str | None, file_id: str | None) -> tuple[Decision | None, list[Finding]]:
    """A decision from a file read by the safe loader, and every finding about it: the schema
    (R001), and the file's place (R002: its name is its id, its folder its leaf)."""
    findings = list(parsed.findings)
    if not parsed.ok:
        if parsed.data is not None:
            findings.append(finding(parsed.path, 1, 1, "R001", decision_problems(parsed.data)[0][1]))
        return None, findings
    for node, message in decision_problems(parsed.data):
        unknown = len(node) == 1 and node[0] not in FIELDS  # point at the key, not its value
        findings.append(finding(parsed.path, *parsed.position(node, key=unknown), "R001", message))
    data = parsed.data
    if file_id is not None and isinstance(data.get("id"), str) and data["id"] != file_id:
        findings.append(
            finding(
                parsed.path,
                *parsed.position(("id",)),
                "R002",
                f"the file is named {file_id}{DECISION_SUFFIX} but decides on {data['id']}: name it after its id",
            )
        )
    if leaf_id is not None and isinstance(data.get("leaf"), str) and data["leaf"] != leaf_id:
        findings.append(
            finding(
                parsed.path,
                *parsed.position(("leaf",)),
                "R002",
                f"the file is in the folder of {leaf_id} but decides on a sample of {data['leaf']}: move it to {DECISIONS_DIR}/{data['leaf']}/",
            )
        )
    findings.sort(key=lambda f: (f.line, f.column, f.rule))
    if any(f.severity == ERROR for f in findings):
        return None, findings
    return _from_data(data), findings


def place_of(path: Path, root: Path) -> tuple[str | None, str | None, str | None]:
    """(leaf id, sample id, problem) of a file under a decisions folder, from its path."""
    relative = Path(os.path.abspath(path)).relative_to(os.path.abspath(root))
    if relative.suffix != DECISION_SUFFIX or not SAMPLE_ID.fullmatch(relative.stem):
        return None, None, f"a decisions folder holds only <sample id>{DECISION_SUFFIX} files (12 hex digits)"
    if len(relative.parts) < 2:
        return (
            None,
            None,
            f"a decision lives in its leaf's folder: {DECISIONS_DIR}/<leaf id>/<sample id>{DECISION_SUFFIX}",
        )
    return relative.parent.as_posix(), relative.stem, None


def read_decision(
    path: Path, root: Path, display: str | None = None, settings: ValidateSettings = ValidateSettings()
) -> tuple[Decision | None, list[Finding]]:
    shown = display or str(path)
    leaf_id, file_id, problem = place_of(path, root)
    if problem:
        return None, [finding(shown, 1, 1, "R002", problem)]
    return parse_decision(read_qna(Path(path), settings, shown), leaf_id, file_id)


def load_leaf_decisions(root: Path, leaf_id: str) -> dict[str, Decision]:
    """sample id -> decision for one leaf; TaxonError naming the first bad file (a decision
    that can't be read is never silently ignored)."""
    folder = Path(root) / leaf_id
    if not folder.is_dir():
        return {}
    decisions = {}
    for path in sorted(folder.iterdir()):
        if path.is_dir() and not path.is_symlink():
            continue  # another leaf's folder
        decision, findings = read_decision(path, root)
        errors = [f for f in findings if f.severity == ERROR]
        if errors or decision is None:
            first = errors[0]
            raise TaxonError(
                f"{first.message} [{first.rule}]",
                where=f"{path}:{first.line}:{first.column}",
                hint=f"run: taxon validate {path}",
            )
        decisions[decision.sample] = decision
    return decisions


def write_decision(root: Path, decision: Decision) -> Path:
    """Write (or replace) a decision's file; a fix needs its answer and every field its form."""
    from taxon.core.store import atomic_write_text
    from taxon.qna.loader import parse_text

    text = render_decision(decision)
    parsed = parse_text(text, str(decision_path(root, decision.leaf, decision.sample)))
    _, findings = parse_decision(parsed, decision.leaf, decision.sample)
    errors = [f for f in findings if f.severity == ERROR]
    if errors:
        raise TaxonError(
            f"the decision is not valid: {errors[0].message} [{errors[0].rule}]", hint="no file was written"
        )
    if has_hidden(decision.fixed_answer or "") or has_hidden(decision.reason or ""):
        raise TaxonError("the answer or reason holds characters a reader can't see", hint="no file was written")
    path = decision_path(root, decision.leaf, decision.sample)
    atomic_write_text(path, text)
    return path


# ------------------------------------------------------------------ applying them


@dataclass
class Applied:
    """A leaf's rows after its decisions, and what the decisions did."""

    kept: list[dict[str, Any]]
    dropped: list[dict[str, Any]]
    orphaned: list[str] = field(default_factory=list)  # decided ids this generation did not make
    blocked: list[str] = field(default_factory=list)  # keep or fix refused: too close to a held-out question


def apply_decisions(
    kept: list[dict[str, Any]],
    dropped: list[dict[str, Any]],
    decisions: dict[str, Decision],
    protected: Iterable[str] = (),
) -> Applied:
    """Each decided row where its decision puts it: a drop in the dropped rows whatever the
    filters said, a keep in the kept rows whatever they said, a fix kept with the maintainer's
    answer. What the filters said stays in `filter_reason` / `filter_step` (None: they kept
    it), so their agreement with the maintainers can be measured. A row dropped for one of
    the `protected` reasons (a question too close to one evaluation keeps) is never kept."""
    protected = set(protected)
    out_kept: list[dict[str, Any]] = []
    out_dropped: list[dict[str, Any]] = []
    blocked: list[str] = []
    seen: set[str] = set()
    for row, was_kept in [(row, True) for row in kept] + [(row, False) for row in dropped]:
        identity = row_sample_id(row)
        metadata = {**(row.get("metadata") or {}), "id": identity}
        decision = decisions.get(identity)
        if decision is None:
            (out_kept if was_kept else out_dropped).append({**row, "metadata": metadata})
            continue
        seen.add(identity)
        filter_reason, filter_step = metadata.pop("reason", None), metadata.pop("step", None)
        metadata.update(
            decision=decision.action,
            decided_by=decision.by,
            decided_at=decision.at,
            decision_reason=decision.reason,
            filter_reason=filter_reason,
            filter_step=filter_step,
        )
        messages = row["messages"]
        if decision.action == DROP or filter_reason in protected:
            if decision.action != DROP:
                blocked.append(identity)
            metadata.update(reason=filter_reason if decision.action != DROP else DROPPED_BY_MAINTAINER, step="review")
            out_dropped.append({**row, "metadata": metadata})
            continue
        if decision.action == FIX:
            metadata["original_answer"] = answer_of(row)
            messages = (
                [*messages[:-1], {**messages[-1], "content": decision.fixed_answer}]
                if messages and messages[-1].get("role") == "assistant"
                else [*messages, {"role": "assistant", "content": decision.fixed_answer}]
            )
        out_kept.append({**row, "messages": messages, "metadata": metadata})
    orphaned = sorted(set(decisions) - seen)
    return Applied(out_kept, out_dropped, orphaned, blocked)


# ------------------------------------------------------------------ counting them


def is_teacher_written(row: dict[str, Any]) -> bool:
    return bool((row.get("metadata") or {}).get("source", "generated") == "generated")


def filters_kept(row: dict[str, Any]) -> bool:
    """What the automatic filters said of a row, before any decision."""
    metadata = row.get("metadata") or {}
    reason = metadata["filter_reason"] if "filter_reason" in metadata else metadata.get("reason")
    return reason is None


def decision_counts(
    kept: list[dict[str, Any]], dropped: list[dict[str, Any]], orphaned: Iterable[str] = (), blocked: Iterable[str] = ()
) -> dict[str, Any]:
    """A leaf's reviewed, kept, dropped, fixed and unreviewed samples; `unreviewed` counts
    the samples that train without a decision. For the train policy: the teacher-written
    samples the filters kept, and how many of them carry a decision."""
    rows = kept + dropped
    actions: Counter[Any] = Counter((row.get("metadata") or {}).get("decision") for row in rows)
    teacher = [row for row in rows if is_teacher_written(row) and filters_kept(row)]
    return {
        "reviewed": sum(actions[action] for action in ACTIONS),
        "keep": actions[KEEP],
        "drop": actions[DROP],
        "fix": actions[FIX],
        "unreviewed": sum(1 for row in kept if not (row.get("metadata") or {}).get("decision")),
        "teacher_written": len(teacher),
        "teacher_reviewed": sum(1 for row in teacher if (row.get("metadata") or {}).get("decision")),
        "orphaned": list(orphaned),
        "blocked": list(blocked),
    }


COUNTED = ("reviewed", "keep", "drop", "fix", "unreviewed", "teacher_written", "teacher_reviewed")


def add_counts(counts: Iterable[dict[str, Any]]) -> dict[str, int]:
    """The totals of several leaves' decision counts."""
    total = dict.fromkeys(COUNTED, 0)
    for entry in counts:
        for key in COUNTED:
            value = entry.get(key)
            total[key] += value if isinstance(value, int) else 0
    return total


# The automatic filters whose verdicts are compared with the maintainers': the whole chain,
# the judge alone (samples it rated) and the checkers alone (samples they checked).
FILTERS = ("filters", "judge", "checks")


def _verdicts(row: dict[str, Any]) -> dict[str, bool]:
    """Each filter's verdict on a row (True: keep), where it gave one."""
    metadata = row.get("metadata") or {}
    step = metadata["filter_step"] if "filter_step" in metadata else metadata.get("step")
    verdicts = {"filters": filters_kept(row)}
    if metadata.get("judge") is not None or step == "judge":
        verdicts["judge"] = step != "judge"
    checks = metadata.get("checks")
    if isinstance(checks, dict) and checks:
        verdicts["checks"] = all(value is True for value in checks.values())
    return verdicts


def agreement(rows: Iterable[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Per filter, its verdicts on the decided samples against the maintainers': a maintainer
    keeps a sample with `keep`; a drop or a fix (the answer as generated was not right) says
    it should not have been kept. tp: both keep; fp: the filter kept what a maintainer did not;
    fn: it dropped what a maintainer kept; tn: both not."""
    table = {name: {"tp": 0, "fp": 0, "fn": 0, "tn": 0} for name in FILTERS}
    for row in rows:
        action = (row.get("metadata") or {}).get("decision")
        if action not in ACTIONS:
            continue
        wanted = action == KEEP
        for name, kept in _verdicts(row).items():
            table[name][("t" if kept == wanted else "f") + ("p" if kept else "n")] += 1
    return table


def add_agreements(tables: Iterable[dict[str, Any]]) -> dict[str, dict[str, int]]:
    total = {name: {"tp": 0, "fp": 0, "fn": 0, "tn": 0} for name in FILTERS}
    for table in tables:
        for name in FILTERS:
            for cell in ("tp", "fp", "fn", "tn"):
                value = (table.get(name) or {}).get(cell)
                total[name][cell] += value if isinstance(value, int) else 0
    return total


def precision_recall(cells: dict[str, int]) -> tuple[float | None, float | None, int]:
    """(precision, recall, samples) of a filter's 'kept' against the maintainers' 'keep';
    None where there is nothing to divide by."""
    tp, fp, fn, tn = (cells.get(key, 0) for key in ("tp", "fp", "fn", "tn"))
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    return precision, recall, tp + fp + fn + tn


def decisions_still_needed(counts: dict[str, Any], share: float) -> int:
    """How many more of a leaf's teacher-written samples (those the filters kept) need a
    decision for `share` of them to carry one ([review] require_decisions)."""
    written, reviewed = int(counts.get("teacher_written") or 0), int(counts.get("teacher_reviewed") or 0)
    return max(0, math.ceil(share * written - 1e-9) - reviewed)


def curation_summary(generate_dir: Path, leaf_ids: Iterable[str]) -> dict[str, Any]:
    """From a generate output's stats.json files: each leaf's decision counts and its filters'
    agreement with the maintainers, and the totals over all leaves."""
    leaves: dict[str, dict[str, Any]] = {}
    for leaf_id in sorted(leaf_ids):
        try:
            stats = json.loads((Path(generate_dir) / leaf_id / STATS_NAME).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(stats, dict) and isinstance(stats.get("decisions"), dict):
            leaves[leaf_id] = {"decisions": stats["decisions"], "agreement": stats.get("agreement") or {}}
    return {
        "leaves": leaves,
        "decisions": add_counts(entry["decisions"] for entry in leaves.values()),
        "agreement": add_agreements(entry["agreement"] for entry in leaves.values()),
    }


# ------------------------------------------------------------------ deciding


def find_samples(generate_dir: Path, wanted: Iterable[str], leaf_id: str | None = None) -> dict[str, dict[str, Any]]:
    """sample id -> its row (kept or dropped) in a generate output, for the ids wanted that
    it holds, in one leaf or in all. Ids are computed from the rows, never read from them."""
    wanted = set(wanted)
    folders = [Path(generate_dir) / leaf_id] if leaf_id else leaf_sample_dirs(Path(generate_dir))
    found: dict[str, dict[str, Any]] = {}
    for folder in folders:
        for name in (SAMPLES_NAME, DROPPED_NAME):
            if not (folder / name).is_file():
                continue
            for row in read_jsonl(folder / name, hint="rerun taxon generate"):
                if isinstance(row.get("messages"), list) and (identity := row_sample_id(row)) in wanted:
                    found.setdefault(identity, row)
    return found


def decision_for(
    row: dict[str, Any], action: str, by: str, fixed_answer: str | None = None, reason: str | None = None
) -> Decision:
    """A maintainer's decision on a generated row, now."""
    metadata = row.get("metadata") or {}
    generated = metadata.get("original_answer") if metadata.get("decision") == FIX else None
    return Decision(
        sample=row_sample_id(row),
        leaf=str(metadata.get("leaf")),
        action=action,
        by=by,
        at=now(),
        question=question_of(row),
        answer=generated if isinstance(generated, str) else answer_of(row),
        fixed_answer=fixed_answer if action == FIX else None,
        reason=reason or None,
    )
