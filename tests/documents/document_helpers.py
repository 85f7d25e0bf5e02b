"""Leaves and git repositories made in tmp folders, for the documents tests."""

from __future__ import annotations

import io
import os
import subprocess
import zlib
from pathlib import Path

import yaml

from support.git import GIT_ENV, git
from taxon.qna.taxonomy import Leaf, load_leaf


def make_repo(folder: Path, files: dict[str, bytes | str]) -> str:
    """A git repository holding `files` in one commit; returns the commit sha."""
    folder.mkdir(parents=True)
    git(folder, "init", "--quiet")
    serve_partial_fetches(folder)
    write_files(folder, files)
    git(folder, "add", "--all")
    git(folder, "commit", "--quiet", "-m", "documents")
    return git(folder, "rev-parse", "HEAD")


def make_repo_fast(folder: Path, files: dict[str, bytes]) -> str:
    """A repository of one commit holding `files` (any number, any depth) written by `git
    fast-import`, without a work tree: thousands of files in a second. Returns the commit."""
    folder.mkdir(parents=True)
    git(folder, "init", "--quiet", "--bare")
    serve_partial_fetches(folder)
    stream = [b"commit refs/heads/main\ncommitter t <t@example.org> 0 +0000\ndata 4\ndocs\n"]
    for name, data in files.items():
        stream.append(b"M 100644 inline %s\ndata %d\n%s\n" % (name.encode(), len(data), data))
    subprocess.run(
        ["git", "--git-dir", str(folder), "fast-import", "--quiet"],
        input=b"".join(stream),
        check=True,
        env={**os.environ, **GIT_ENV},
    )
    return git(folder, "rev-parse", "refs/heads/main")


def shared_stream_pdf(pages: int, chars_per_page: int, declared_pages: int | None = None) -> bytes:
    """A PDF whose pages all show one compressed content stream: small on disk, each page
    `chars_per_page` characters of text. `declared_pages` is the /Count it claims."""
    line = b"(" + b"A" * 1000 + b") Tj T* "
    stream = zlib.compress(b"BT /F1 1 Tf " + line * max(1, chars_per_page // 1000) + b"ET", 9)
    kids = b" ".join(b"%d 0 R" % (5 + number) for number in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages if declared_pages is None else declared_pages),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (len(stream), stream),
    ]
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents 4 0 R >>"
    objects += [page] * pages
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def serve_partial_fetches(folder: Path) -> None:
    """Serve `--filter` fetches from this repository, as GitHub and GitLab do (git's
    upload-pack refuses filters by default)."""
    git(folder, "config", "uploadpack.allowFilter", "true")


def write_files(folder: Path, files: dict[str, bytes | str]) -> None:
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def make_leaf(root: Path, document: dict, files: dict[str, bytes | str] | None = None) -> Leaf:
    """A knowledge leaf under root/taxonomy with the given `document` section and files."""
    folder = root / "taxonomy" / "knowledge" / "science" / "birds"
    folder.mkdir(parents=True, exist_ok=True)
    write_files(folder, files or {})
    data = {
        "version": 4,
        "created_by": "tester",
        "domain": "birds",
        "document_outline": "Chickadees",
        "seed_examples": [
            {
                "context": "Chickadees are small birds.",
                "questions_and_answers": [{"question": "What are chickadees?", "answer": "Small birds."}],
            }
        ],
        "document": document,
    }
    (folder / "qna.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return load_leaf(folder / "qna.yaml")
