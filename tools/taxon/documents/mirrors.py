"""[documents] mirrors: where a document repository is fetched from instead of its own URL.

An organisation keeps its documents behind its own walls, and a CI runner inside them may
reach no public host: the maintainer maps a repository's URL to an internal git URL or a
folder holding a clone, in taxon.toml. The qna.yaml keeps the public URL and the pinned
commit; only where the commit is fetched from changes, and the fetch is as hardened as ever
(the commit pinned, objects checked, no hooks or submodules). A mirror is the maintainer's
own choice, so a private host or a local folder is allowed there and nowhere else.

A key ending in "/" maps every repository under it ("https://github.com/" to
"https://git.example.com/github/"); otherwise a key names one repository. Keys are compared
without a trailing ".git" or "/"; the longest matching key wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from taxon.core.git import printable
from taxon.documents.records import DocumentProblem

MIRROR_SCHEMES = ("https", "file")


def _normal(url: str) -> str:
    url = url.strip()
    while url.endswith("/") or url.endswith(".git"):
        url = url.removesuffix("/").removesuffix(".git")
    parts = urlsplit(url)
    return parts._replace(scheme=parts.scheme.lower(), netloc=parts.netloc.lower()).geturl()


def mirror_for(repo: str, mirrors: Mapping[str, str]) -> str | None:
    """The URL to fetch `repo` from, from the mirror map; None when no mirror maps it. A
    relative folder is one of the working folder (load_config has made those of taxon.toml
    relative to its folder absolute). DocumentProblem (D001) for a mirror that is neither an
    https:// or file:// URL nor a folder."""
    wanted = _normal(repo)
    best: tuple[int, str] | None = None
    for key, target in mirrors.items():
        prefix = key.strip().endswith("/")
        normal = _normal(key)
        if wanted == normal:
            rest = ""
        elif prefix and wanted.startswith(normal + "/"):
            rest = wanted[len(normal) + 1 :]
        else:
            continue
        if best is None or len(normal) > best[0]:
            best = (len(normal), _joined(target, rest, key))
    return best[1] if best else None


def _joined(target: str, rest: str, key: str) -> str:
    target = target.strip()
    if "://" in target:
        scheme = urlsplit(target).scheme.lower()
        if scheme not in MIRROR_SCHEMES:
            raise DocumentProblem(
                "D001",
                f"mirror '{printable(target)}' of '{printable(key)}' in [documents] mirrors is refused: "
                "use an https:// or file:// URL, or a folder",
            )
        return f"{target.rstrip('/')}/{rest}" if rest else target
    return (Path(target).expanduser() / rest).resolve().as_uri()
