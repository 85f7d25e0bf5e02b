"""A run on main starts from the generation unit cache of the last good run on main.

Why the unit cache and not the generate folder: a leaf's finished output is keyed by its
content AND by the code of the generate pipeline (its filters, its prompts), so any code change
merged between two runs would invalidate every leaf of a restored folder and send them all to
the teacher again. A unit is keyed only by what the teacher is asked (request, teacher,
templates, sampling parameters); its result is the teacher's raw reply, which stays valid
across such changes. Restoring the units lets generate re-derive every unchanged leaf's
samples from cached replies, byte for byte what a from-scratch run writes, and only the units
of changed leaves reach the teacher.

Restored entries are stamped at the epoch; the unit cache refreshes an entry's mtime when a
run reads it, and new entries are written now, so after the run `pack_used_units` carries on
exactly the units this run used: the cache handed from run to run stays the size of one full
generation of the current taxonomy instead of growing with every superseded leaf version.

The restore is content-addressed: an entry lands at its own key's place in the store, a name
that is not a unit key refuses the whole archive, an entry already in the store is kept, and
the archive itself must match the digest GitHub recorded when the trusted run uploaded it.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from taxon.core.errors import TaxonError
from taxon.gitops import trusted
from taxon.gitops.gh import GhRunner, run_gh
from taxon.qna.layout import UNITS_DIR, unit_entry

_UNIT_NAME = re.compile(r"([0-9a-f]{2})/([0-9a-f]{64})\.json")
MAIN = "main"


@dataclass
class Restored:
    run: dict[str, Any] | None  # the run whose cache was restored; None: no good run on main yet
    added: int = 0  # entries written into the store
    kept: int = 0  # entries the store already held


def unit_key_of(name: str) -> str | None:
    """The key of a unit cache entry's name (`ab/ab....json`), None for any other name."""
    match = _UNIT_NAME.fullmatch(name)
    return match.group(2) if match and match.group(2).startswith(match.group(1)) else None


def restore_units(archive: Path, cache_root: Path) -> tuple[int, int]:
    """Merge a unit cache archive into `<cache_root>/units`; (added, kept). Checked whole first:
    one entry that is not a unit refuses the archive, and nothing is written."""
    members = trusted.zip_members(archive)
    keys = {info.filename: key for info in members if (key := unit_key_of(info.filename))}
    bad = [info.filename for info in members if info.filename not in keys]
    if bad:
        raise TaxonError(
            f"the unit cache archive holds {len(bad)} file(s) that are not unit entries, e.g. {bad[0]!r}",
            where=str(archive),
            hint="nothing was restored; this run generates every leaf",
        )
    store = Path(cache_root) / UNITS_DIR
    added = kept = 0
    with zipfile.ZipFile(archive) as opened:
        for info in members:
            target = store / unit_entry(keys[info.filename])
            if target.exists():
                kept += 1
                continue
            data = opened.read(info)
            try:
                json.loads(data)
            except ValueError:
                raise TaxonError(f"unit entry {info.filename} is not JSON", where=str(archive))
            target.parent.mkdir(parents=True, exist_ok=True)
            # like the unit cache's own writes: atomic, not fsynced (a torn entry is redone)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".tmp")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, target)
            os.utime(target, (0, 0))
            added += 1
    return added, kept


def pack_used_units(cache_root: Path, out_dir: Path) -> tuple[int, int]:
    """Link the unit entries this run wrote or read (mtime after the epoch stamp of a restore)
    into `out_dir`, the folder the next run restores; (carried, left out)."""
    carried = left_out = 0
    for entry in sorted((Path(cache_root) / UNITS_DIR).glob("*/*.json")):
        name = entry.relative_to(entry.parents[1]).as_posix()
        if unit_key_of(name) is None or entry.stat().st_mtime <= 0:
            left_out += 1
            continue
        target = Path(out_dir) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(entry, target)
        carried += 1
    return carried, left_out


def restore_generate_cache(
    repo: str, repository_id: int, commits: list[str], cache_root: Path, work_dir: Path, gh: GhRunner = run_gh
) -> Restored:
    """Restore the unit cache of the newest trusted, successful train run on main among
    `commits` (main's first-parent history, newest first) that still has its cache artifact."""
    runs = trusted.train_runs(repo, {"branch": MAIN, "status": "success"}, gh)
    for run in trusted.trusted_runs(runs, repository_id, {MAIN}, commits):
        artifact = trusted.run_artifact(repo, run, trusted.generate_cache_artifact(run["head_sha"]), gh)
        if artifact is None:
            continue  # expired, or that run failed before uploading: an older good run may have one
        archive = trusted.download_artifact(repo, artifact, Path(work_dir) / f"{artifact['name']}.zip")
        added, kept = restore_units(archive, cache_root)
        archive.unlink()
        return Restored(run, added, kept)
    return Restored(None)
