"""The taxonomy tree: where leaves are, what kind they are, and their seed examples in one
shape whatever the file's schema version (1-4).

Reading a file goes through the validator's safe loader; stages after validation call
`load_leaf`, which raises TaxonError on a file that does not load.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taxon.core.store import hash_file
from taxon.qna.layout import QNA_NAME

KINDS = ("knowledge", "compositional_skills", "foundational_skills")


def kind_of(path: Path) -> str | None:
    """The kind from the nearest path segment named after one (closest to the file wins)."""
    for part in reversed(Path(path).parts):
        if part in KINDS:
            return part
    return None


def leaf_id(qna_path: Path) -> str:
    """Stable id of a leaf: its folder from the kind segment on, e.g.
    'compositional_skills/linguistics/synonyms'. Falls back to the folder name."""
    parts = Path(qna_path).parent.parts
    for index in range(len(parts) - 1, -1, -1):
        if parts[index] in KINDS:
            return "/".join(parts[index:])
    return Path(qna_path).parent.name


def iter_qna_files(root: Path) -> list[Path]:
    """Every qna.yaml under root (or root itself), sorted, symlinked folders not followed."""
    root = Path(root)
    if root.is_file() or root.is_symlink():
        return [root]
    found = []
    for folder, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        if QNA_NAME in filenames:
            found.append(Path(folder) / QNA_NAME)
    return sorted(found)


@dataclass(frozen=True)
class Seed:
    question: str
    answer: str
    context: str | None = None


@dataclass(frozen=True)
class DocumentRef:
    patterns: tuple[str, ...]
    repo: str | None = None  # None: in-tree, patterns relative to the leaf folder (v4)
    commit: str | None = None


@dataclass
class Leaf:
    qna_path: Path
    kind: str
    leaf_id: str
    version: int
    data: dict[str, Any]
    seeds: list[Seed] = field(default_factory=list)
    task_description: str = ""
    domain: str = ""
    document_outline: str = ""
    document: DocumentRef | None = None

    @property
    def folder(self) -> Path:
        return self.qna_path.parent

    def content_hash(self) -> str:
        """Hash of the leaf's own files (qna.yaml, attribution, in-tree documents)."""
        from taxon.core.store import hash_value

        files = {}
        for folder, dirnames, filenames in os.walk(self.folder):
            dirnames[:] = [d for d in dirnames if not (Path(folder) / d / QNA_NAME).exists()]
            for name in filenames:
                path = Path(folder) / name
                relative = path.relative_to(self.folder).as_posix()  # a name that is not UTF-8 keeps its bytes
                files[relative.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")] = hash_file(path)
        return hash_value(files)


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _folded(value: object) -> str:
    from taxon.qna.markdown import fold_lines

    return fold_lines(_text(value))


def leaf_from_data(qna_path: Path, data: dict[str, Any]) -> Leaf:
    """Normalise parsed qna.yaml data of any version into a Leaf."""
    qna_path = Path(qna_path)
    kind = kind_of(qna_path) or "compositional_skills"
    version = data.get("version", 1)
    # A knowledge seed's question and answer are prose: the lines a YAML block wrapped them in
    # are no line breaks of theirs. A skill's may be (a poem, a list, CSV), and a context is an
    # excerpt of its document, so those stay as written.
    text = _folded if kind == "knowledge" else _text
    seeds: list[Seed] = []
    for example in data.get("seed_examples") or []:
        if not isinstance(example, dict):
            continue
        context = _text(example.get("context")) or None
        pairs = example.get("questions_and_answers")
        if isinstance(pairs, list):
            for pair in pairs:
                if isinstance(pair, dict):
                    seeds.append(Seed(text(pair.get("question")), text(pair.get("answer")), context))
        else:
            seeds.append(Seed(text(example.get("question")), text(example.get("answer")), context))
    document = None
    raw_document = data.get("document")
    if isinstance(raw_document, dict):
        patterns = raw_document.get("patterns") or []
        document = DocumentRef(
            patterns=tuple(str(p) for p in patterns),
            repo=raw_document.get("repo"),
            commit=raw_document.get("commit"),
        )
    return Leaf(
        qna_path=qna_path,
        kind=kind,
        leaf_id=leaf_id(qna_path),
        version=version if isinstance(version, int) else 1,
        data=data,
        seeds=seeds,
        task_description=_text(data.get("task_description")),
        domain=_text(data.get("domain")),
        document_outline=_text(data.get("document_outline")),
        document=document,
    )


def load_leaf(qna_path: Path) -> Leaf:
    """Load one qna.yaml safely and normalise it; TaxonError when it can't be read."""
    from taxon.qna.loader import load_qna

    return leaf_from_data(Path(qna_path), load_qna(Path(qna_path)))


def leaf_matches(leaf: str, pattern: str) -> bool:
    """A leaf id chosen by a pattern: a shell-style glob on the id (`*` also crosses folders)
    or a folder naming every leaf under it ('compositional_skills/linguistics')."""
    pattern = pattern.strip().strip("/")
    return fnmatch.fnmatchcase(leaf, pattern) or leaf.startswith(f"{pattern}/")


def select_qna_files(root: Path, patterns: Sequence[str] = ()) -> tuple[list[Path], list[Path]]:
    """(chosen, left out): the qna.yaml files under root whose leaf ids match any of the
    patterns (all of them when there are none). UsageError for a pattern that chooses no
    leaf: a typo would quietly run on less than meant."""
    from taxon.core.errors import UsageError

    files = iter_qna_files(root)
    if not patterns:
        return files, []
    ids = {path: leaf_id(path) for path in files}
    unmatched = [p for p in patterns if not any(leaf_matches(leaf, p) for leaf in ids.values())]
    if unmatched:
        raise UsageError(
            f"no leaf under {root} matches {', '.join(repr(p) for p in unmatched)}",
            hint="patterns are leaf ids, globs on them ('compositional_skills/*/synonyms') or folders",
        )
    chosen = [path for path in files if any(leaf_matches(ids[path], p) for p in patterns)]
    return chosen, [path for path in files if path not in set(chosen)]


def load_leaves(root: Path, patterns: Sequence[str] = ()) -> list[Leaf]:
    """The leaves under root, or those the patterns choose (see `select_qna_files`)."""
    return [load_leaf(path) for path in select_qna_files(root, patterns)[0]]
