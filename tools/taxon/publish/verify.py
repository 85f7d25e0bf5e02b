"""Checks of a bundle, for `taxon verify` and at the end of every publish: checksums, no
pickle files (by extension and by content), and a manifest coherent with the files."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import yaml

from taxon.core.store import hash_file
from taxon.publish.dataset import dataset_problems
from taxon.publish.manifest import bundle_files
from taxon.qna.layout import MANIFEST_NAME, SUMS_NAME, read_manifest

PICKLE_SUFFIXES = {".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib", ".npy", ".npz"}
REQUIRED_FILES = ("config.json", "generation_config.json", "tokenizer_config.json", "README.md", MANIFEST_NAME)
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
CARD_KEYS = ("license", "base_model", "base_model_relation", "datasets", "tags", "model-index")
_SUM_LINE = re.compile(r"^([0-9a-f]{64}) [ *](.+)$")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMG]i?B)?\s*$", re.IGNORECASE)
_UNITS = {None: 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 2**10, "mib": 2**20, "gib": 2**30}


def parse_size(text: str | int) -> int:
    """Bytes in '2GB' (decimal, as transformers reads it), '500MiB' or a plain number."""
    if isinstance(text, int):
        return text
    match = _SIZE.match(str(text))
    if not match:
        raise ValueError(f"not a size: {text!r} (write e.g. 2GB or 500MB)")
    number, unit = match.groups()
    return int(float(number) * _UNITS[unit.lower() if unit else None])


def is_pickle(path: Path) -> bool:
    """A pickle stream (protocol 2+ starts with 0x80) or a torch zip archive holding data.pkl."""
    with open(path, "rb") as handle:
        head = handle.read(4)
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return True
    if head.startswith(b"PK") and zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                return any(name.endswith(".pkl") for name in archive.namelist())
        except (OSError, zipfile.BadZipFile):
            return False
    return False


def content_problems(bundle: Path) -> list[str]:
    """Links (an upload would follow them out of the bundle) and pickle files."""
    problems = []
    for path in sorted(p for p in bundle.rglob("*") if p.is_symlink() or p.is_file()):
        relative = path.relative_to(bundle).as_posix()
        if path.is_symlink():
            problems.append(f"{relative}: links are not allowed in a bundle")
        elif path.suffix.lower() in PICKLE_SUFFIXES:
            problems.append(f"{relative}: a pickle-format file type ({path.suffix}) is not allowed; use safetensors")
        elif is_pickle(path):
            problems.append(f"{relative}: pickle content is not allowed; use safetensors")
    return problems


def checksum_problems(bundle: Path) -> list[str]:
    sums_path = bundle / SUMS_NAME
    if not sums_path.is_file():
        return [f"{SUMS_NAME} is missing"]
    problems, listed = [], set()
    for number, line in enumerate(sums_path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        match = _SUM_LINE.match(line)
        if not match:
            problems.append(f"{SUMS_NAME} line {number} is not 'SHA256  PATH'")
            continue
        digest, relative = match.groups()
        listed.add(relative)
        path = bundle / relative
        if ".." in Path(relative).parts or not path.is_file():
            problems.append(f"{relative}: listed in {SUMS_NAME} but missing")
        elif hash_file(path) != digest:
            problems.append(f"{relative}: checksum mismatch (the file changed after publishing)")
    for path in sorted(bundle.rglob("*")):
        relative = path.relative_to(bundle).as_posix()
        if path.is_file() and relative != SUMS_NAME and relative not in listed:
            problems.append(f"{relative}: not listed in {SUMS_NAME}")
    return problems


def card_problems(bundle: Path) -> list[str]:
    card = bundle / "README.md"
    text = card.read_text(encoding="utf-8", errors="replace") if card.is_file() else ""
    match = re.match(r"---\n(.*?)\n---\n", text, re.DOTALL)
    if not match:
        return ["README.md: no YAML front matter"]
    try:
        front = yaml.safe_load(match.group(1))
    except yaml.YAMLError as error:
        return [f"README.md: front matter is not valid YAML: {error}"]
    if not isinstance(front, dict):
        return ["README.md: front matter is not a mapping"]
    return [f"README.md: front matter lacks '{key}'" for key in CARD_KEYS if key not in front]


def manifest_problems(bundle: Path) -> list[str]:
    manifest = read_manifest(bundle)
    if manifest is None:
        return [f"{MANIFEST_NAME} is missing or not a taxon bundle manifest"]
    recorded, actual = manifest.get("files"), bundle_files(bundle)
    if not isinstance(recorded, dict):
        return [f"{MANIFEST_NAME} has no file list"]
    problems = []
    for relative in sorted(set(recorded) - set(actual)):
        problems.append(f"{relative}: in {MANIFEST_NAME} but missing")
    for relative in sorted(set(actual) - set(recorded)):
        problems.append(f"{relative}: not in {MANIFEST_NAME}")
    for relative in sorted(set(recorded) & set(actual)):
        entry = recorded[relative]
        if not isinstance(entry, dict) or entry.get("sha256") != actual[relative]["sha256"]:
            problems.append(f"{relative}: sha256 differs from {MANIFEST_NAME}")
    weights = [name for name in actual if name.endswith(".safetensors") and "/" not in name]
    if not weights:
        problems.append("no merged weights (*.safetensors) at the top of the bundle")
    if manifest.get("adapter"):
        problems += [
            f"{manifest['adapter']}/{name}: the adapter file is missing"
            for name in ADAPTER_FILES
            if f"{manifest['adapter']}/{name}" not in actual
        ]
    return problems + shard_problems(manifest, {name: actual[name]["size"] for name in weights})


def shard_problems(manifest: dict, weight_sizes: dict[str, int]) -> list[str]:
    shard_limit = (manifest.get("config") or {}).get("publish", {}).get("max_shard_size")
    if not shard_limit:
        return []
    try:
        limit = parse_size(shard_limit)
    except ValueError as error:
        return [f"{MANIFEST_NAME}: publish.max_shard_size: {error}"]
    return [
        f"{name}: {size} bytes, over the shard limit {shard_limit}"
        for name, size in weight_sizes.items()
        if size > limit
    ]


def _json_object(path: Path) -> dict:
    """A JSON file's object; {} when it is absent or not a JSON object (its checksum tells which)."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def model_problems(bundle: Path) -> list[str]:
    problems = [f"{name} is missing" for name in REQUIRED_FILES if not (bundle / name).is_file()]
    has_template = (bundle / "chat_template.jinja").is_file() or "chat_template" in _json_object(
        bundle / "tokenizer_config.json"
    )
    if not has_template:
        problems.append("the tokenizer has no chat template")
    shards = set(_json_object(bundle / "model.safetensors.index.json").get("weight_map", {}).values())
    problems += [
        f"{shard}: named in the weight index but missing" for shard in sorted(shards) if not (bundle / shard).is_file()
    ]
    return problems


def verify_bundle(bundle: Path) -> list[str]:
    """Every problem found in a bundle; an empty list means it is complete and untouched."""
    bundle = Path(bundle)
    if not bundle.is_dir():
        return [f"{bundle}: not a folder"]
    if not (bundle / MANIFEST_NAME).is_file() and not (bundle / SUMS_NAME).is_file():
        return [f"{bundle}: not a taxon bundle (no {MANIFEST_NAME}, no {SUMS_NAME})"]
    checks = (content_problems, checksum_problems, manifest_problems, model_problems, card_problems, dataset_problems)
    try:
        return [problem for check in checks for problem in check(bundle)]
    except OSError as error:
        return [f"cannot read the bundle: {error}"]
