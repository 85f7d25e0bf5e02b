"""Checks of a bundle, for `taxon verify` and at the end of every publish: only regular
files, no code (`.py` files, remote-code keys such as `auto_map`), no pickle (by extension
and by content, every protocol), checksums, and a manifest coherent with the files.

SHA256SUMS and the manifest sit inside the bundle: whoever can change a file can recompute
both. Integrity needs a digest kept outside it: `sums_digest`, the sha256 of SHA256SUMS as
the release recorded it (`taxon verify BUNDLE --sha256sums-digest D`)."""

from __future__ import annotations

import hashlib
import json
import os
import pickletools
import re
import stat
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from taxon.core.github import log_name
from taxon.core.store import hash_file
from taxon.publish.dataset import dataset_problems
from taxon.publish.manifest import bundle_files
from taxon.qna.layout import MANIFEST_NAME, SUMS_NAME, read_manifest

PICKLE_SUFFIXES = {".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib", ".npy", ".npz"}
CODE_SUFFIXES = {".py", ".pyc", ".pyo", ".pyd", ".so", ".dylib", ".dll"}
# Config keys that make transformers or a pipeline import code shipped with (or named by) a model.
REMOTE_CODE_KEYS = {"auto_map", "trust_remote_code", "custom_pipelines"}
# peft's adapter_config.json names the base model's class and the module to import it from
# (AutoPeftModel imports it): only a module of transformers itself is accepted.
_PEFT_AUTO_MAPPING = "auto_mapping"
_TRANSFORMERS_MODULE = re.compile(r"transformers(\.[A-Za-z_][A-Za-z0-9_]*)+")
# Config formats other loaders read (JSON5, YAML, TOML...): searched as text for those keys.
CONFIG_TEXT_SUFFIXES = {".json5", ".jsonc", ".yaml", ".yml", ".toml", ".cfg", ".ini"}
_REMOTE_CODE_WORD = re.compile(r"\b(" + "|".join(sorted(REMOTE_CODE_KEYS | {_PEFT_AUTO_MAPPING})) + r")\b")
PICKLE_SCAN_BYTES = 1 << 20  # a stream of valid pickle opcodes this long is a pickle
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
    """A pickle stream of any protocol (0 and 1 have no header: the opcodes are parsed, never
    run) or a zip archive holding a .pkl member (torch.save's format)."""
    with open(path, "rb") as handle:
        head = handle.read(4)
        if head.startswith(b"PK") and zipfile.is_zipfile(path):
            try:
                with zipfile.ZipFile(path) as archive:
                    return any(name.endswith(".pkl") for name in archive.namelist())
            except (OSError, zipfile.BadZipFile):
                return False
        handle.seek(0)
        return _parses_as_pickle(
            handle.read(PICKLE_SCAN_BYTES), complete=os.fstat(handle.fileno()).st_size <= PICKLE_SCAN_BYTES
        )


def _parses_as_pickle(data: bytes, complete: bool) -> bool:
    """Does `data` read as pickle opcodes up to a STOP (or, when it is only the start of a
    larger file, up to its end)?"""
    if not data:
        return False
    try:
        for opcode, _argument, _position in pickletools.genops(data):
            if opcode.name == "STOP":
                return True
    except Exception:  # genops raises ValueError, EOFError, UnicodeDecodeError... on non-pickles
        return False
    return not complete


def _about(name: str, problem: str) -> str:
    """A problem with a file of the bundle: its name is anyone's (a bundle can come from
    anywhere), so it is shown escaped (a newline and '::' would start a workflow command on
    the release job's log)."""
    return f"{log_name(name)}: {problem}"


def walk_bundle(bundle: Path) -> tuple[list[str], list[str]]:
    """(regular files, everything else but folders) under the bundle, as posix paths, with
    no link followed."""
    regular: list[str] = []
    other: list[str] = []
    for folder, dirnames, filenames in os.walk(bundle):
        for name in sorted(dirnames):
            if os.path.islink(os.path.join(folder, name)):
                other.append(Path(folder, name).relative_to(bundle).as_posix())
        for name in sorted(filenames):
            path = Path(folder, name)
            mode = os.lstat(path).st_mode
            (regular if stat.S_ISREG(mode) else other).append(path.relative_to(bundle).as_posix())
    return sorted(regular), sorted(other)


def irregular_problems(other: list[str]) -> list[str]:
    return [
        _about(relative, "links, FIFOs and devices are not allowed in a bundle (regular files only)")
        for relative in other
    ]


def content_problems(bundle: Path, files: list[str]) -> list[str]:
    """Code, remote-code configs and pickle files, among the bundle's regular files."""
    problems = []
    for relative in files:
        path = bundle / relative
        suffix = PurePosixPath(relative).suffix.lower()
        if suffix in CODE_SUFFIXES:
            problems.append(_about(relative, f"code files ({suffix}) are not allowed in a bundle"))
        elif suffix in PICKLE_SUFFIXES:
            problems.append(_about(relative, f"a pickle-format file type ({suffix}) is not allowed; use safetensors"))
        elif is_pickle(path):
            problems.append(_about(relative, "pickle content is not allowed; use safetensors"))
        elif suffix == ".json":
            value = _json_value(path)
            keys = sorted(_keys(value) & REMOTE_CODE_KEYS)
            if _PEFT_AUTO_MAPPING in _keys(value) and not _transformers_mapping(value):
                keys.append(f"{_PEFT_AUTO_MAPPING} (a module outside transformers)")
            if value is None:
                problems.append(
                    _about(relative, "is not JSON (UTF-8, 16 or 32): a lenient loader could read it otherwise")
                )
            elif keys:
                problems.append(_about(relative, f"{', '.join(keys)} would load code with the model; remove it"))
        elif suffix in CONFIG_TEXT_SUFFIXES:
            keys = sorted(set(_REMOTE_CODE_WORD.findall(_any_text(path))))
            if keys:
                problems.append(_about(relative, f"{', '.join(keys)} would load code with the model; remove it"))
    return problems


def _transformers_mapping(value: object) -> bool:
    """Is the only `auto_mapping` peft's own, at the top, empty or naming a class of a
    transformers module?"""
    if not isinstance(value, dict):
        return False
    mapping = value.get(_PEFT_AUTO_MAPPING)
    if _PEFT_AUTO_MAPPING in _keys({key: item for key, item in value.items() if key != _PEFT_AUTO_MAPPING}):
        return False
    return mapping is None or (
        isinstance(mapping, dict)
        and set(mapping) <= {"base_model_class", "parent_library"}
        and isinstance(mapping.get("parent_library"), str)
        and bool(_TRANSFORMERS_MODULE.fullmatch(mapping["parent_library"]))
        and str(mapping.get("base_model_class", "")).isidentifier()
    )


def _any_text(path: Path) -> str:
    """A file's text in the Unicode encoding its bytes show (a BOM or JSON's null-byte rule)."""
    data = path.read_bytes()
    return data.decode(json.detect_encoding(data), errors="replace")


def _keys(value: object) -> set[str]:
    """Every mapping key anywhere in a JSON value."""
    found: set[str] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            found.update(str(key) for key in item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _plain_relative(path: str) -> bool:
    parts = path.split("/")
    return "\\" not in path and not path.startswith("/") and all(part not in ("", ".", "..") for part in parts)


def checksum_problems(bundle: Path, files: list[str]) -> list[str]:
    """SHA256SUMS against the files; a listed path that is not a plain relative path is
    refused unread (an absolute path would tell whether a file exists outside the bundle)."""
    sums_path = bundle / SUMS_NAME
    if SUMS_NAME not in files:
        return [f"{SUMS_NAME} is missing"]
    present = set(files)
    problems, listed = [], set()
    for number, line in enumerate(sums_path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        match = _SUM_LINE.match(line)
        if not match:
            problems.append(f"{SUMS_NAME} line {number} is not 'SHA256  PATH'")
            continue
        digest, relative = match.groups()
        if not _plain_relative(relative):
            problems.append(f"{SUMS_NAME} line {number}: not a plain relative path inside the bundle")
            continue
        listed.add(relative)
        if relative not in present:
            problems.append(_about(relative, f"listed in {SUMS_NAME} but missing"))
        elif hash_file(bundle / relative) != digest:
            problems.append(_about(relative, "checksum mismatch (the file changed after publishing)"))
    problems += [
        _about(relative, f"not listed in {SUMS_NAME}")
        for relative in files
        if relative != SUMS_NAME and relative not in listed
    ]
    return problems


def sums_digest_problems(bundle: Path, expected: str | None) -> list[str]:
    """The bundle's SHA256SUMS against a digest from outside the bundle (the release's)."""
    if expected is None:
        return []
    expected = expected.strip().lower().removeprefix("sha256:")  # as GitHub shows an asset's digest
    if not re.fullmatch(r"[0-9a-f]{64}", expected):
        return [f"the expected {SUMS_NAME} digest is not 64 hex digits"]
    actual = sums_digest(bundle)
    if actual != expected:
        return [f"{SUMS_NAME} has sha256 {actual}, not the expected {expected}: this is not the released bundle"]
    return []


def sums_digest(bundle: Path) -> str | None:
    """sha256 of the bundle's SHA256SUMS: the one value to record outside the bundle."""
    path = Path(bundle) / SUMS_NAME
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() and not path.is_symlink() else None


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
        problems.append(_about(relative, f"in {MANIFEST_NAME} but missing"))
    for relative in sorted(set(actual) - set(recorded)):
        problems.append(_about(relative, f"not in {MANIFEST_NAME}"))
    for relative in sorted(set(recorded) & set(actual)):
        entry = recorded[relative]
        if not isinstance(entry, dict) or entry.get("sha256") != actual[relative]["sha256"]:
            problems.append(_about(relative, f"sha256 differs from {MANIFEST_NAME}"))
    weights = [name for name in actual if name.endswith(".safetensors") and "/" not in name]
    if not weights:
        problems.append("no merged weights (*.safetensors) at the top of the bundle")
    if manifest.get("adapter"):
        problems += [
            _about(f"{manifest['adapter']}/{name}", "the adapter file is missing")
            for name in ADAPTER_FILES
            if f"{manifest['adapter']}/{name}" not in actual
        ]
    return problems + shard_problems(manifest, {name: actual[name]["size"] for name in weights})


def shard_problems(manifest: dict[str, Any], weight_sizes: dict[str, int]) -> list[str]:
    shard_limit = (manifest.get("config") or {}).get("publish", {}).get("max_shard_size")
    if not shard_limit:
        return []
    try:
        limit = parse_size(shard_limit)
    except ValueError as error:
        return [f"{MANIFEST_NAME}: publish.max_shard_size: {error}"]
    return [
        _about(name, f"{size} bytes, over the shard limit {shard_limit}")
        for name, size in weight_sizes.items()
        if size > limit
    ]


def _json_value(path: Path) -> Any:
    """A JSON file's value, in whichever encoding JSON allows (UTF-8 with or without a BOM,
    UTF-16, UTF-32: a loader may accept any); None when it is absent or not JSON."""
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None


def _json_object(path: Path) -> dict[str, Any]:
    value = _json_value(path)
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
        _about(shard, "named in the weight index but missing")
        for shard in sorted(shards)
        if not (bundle / shard).is_file()
    ]
    return problems


def verify_bundle(bundle: Path, sums_digest: str | None = None) -> list[str]:
    """Every problem found in a bundle; an empty list means it is complete and untouched
    (and, with `sums_digest`, the very bundle that digest was recorded for)."""
    bundle = Path(bundle)
    if not bundle.is_dir():
        return [_about(str(bundle), "not a folder")]
    if not (bundle / MANIFEST_NAME).is_file() and not (bundle / SUMS_NAME).is_file():
        return [_about(str(bundle), f"not a taxon bundle (no {MANIFEST_NAME}, no {SUMS_NAME})")]
    try:
        files, other = walk_bundle(bundle)
        if other:  # nothing more is opened: a link could lead out, a FIFO would block
            return irregular_problems(other)
        problems = sums_digest_problems(bundle, sums_digest)
        problems += content_problems(bundle, files) + checksum_problems(bundle, files)
        checks = (manifest_problems, model_problems, card_problems, dataset_problems)
        return problems + [problem for check in checks for problem in check(bundle)]
    except OSError as error:
        return [f"cannot read the bundle: {log_name(str(error))}"]
