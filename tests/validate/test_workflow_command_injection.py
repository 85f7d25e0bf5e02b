"""Contributed text (file and folder names, patterns, values) never reads as a workflow
command on a runner's log: `--format github` escapes it inside annotations, the text format
and error messages neutralise any line that would start one, and `##[` never survives."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from support.leaves import knowledge_text

OURS = ("::error ", "::warning ", "::notice ")  # taxon's own annotations, with escaped properties


def _assert_no_injected_command(output: str) -> None:
    for line in output.splitlines():
        stripped = line.lstrip()
        assert not stripped.startswith("::") or stripped.startswith(OURS), line
        assert "##[" not in line, line


def _taxon(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "GITHUB_ACTIONS": "true"}
    return subprocess.run(
        [sys.executable, "-m", "taxon", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_hostile_names_and_patterns_stay_data(make_leaf, tmp_path):
    hostile = "x\n::add-mask::secret\n##[add-mask]secret"
    document = f'document:\n  patterns:\n    - animals.md\n    - "{hostile.encode("unicode_escape").decode()}.md"'
    path = make_leaf("knowledge/zoo/animals", knowledge_text(document=document), files={"animals.md": "# A\n\nB.\n"})
    (path.parent / f"{hostile}.txt").write_text("a stray file with a hostile name\n")
    folder = tmp_path / "taxonomy" / "knowledge" / f"zoo{hostile}" / "leaf"
    folder.mkdir(parents=True)
    (folder / "qna.yaml").write_text("version: 4\n")
    for fmt in ("github", "text"):
        result = _taxon("validate", "--format", fmt, "taxonomy", cwd=tmp_path)
        assert result.returncode == 1 and "Traceback" not in result.stderr
        _assert_no_injected_command(result.stdout + result.stderr)
        assert "add-mask" in result.stdout  # reported, as data


def test_error_messages_and_the_summary_step_are_neutralised(tmp_path):
    result = _taxon("validate", "--changed", "--base", "\n::add-mask::secret\n##[x]", cwd=tmp_path)
    assert result.returncode != 0
    _assert_no_injected_command(result.stdout + result.stderr)
    sarif = {
        "runs": [
            {
                "results": [
                    {
                        "ruleId": "T003",
                        "level": "error",
                        "message": {"text": "\n::add-mask::secret\n##[add-mask]x"},
                        "locations": [{"physicalLocation": {"artifactLocation": {"uri": "taxonomy/::error::x"}}}],
                    }
                ]
            }
        ]
    }
    (tmp_path / "report.sarif").write_text(json.dumps(sarif))
    result = _taxon("gitops", "summary", "--sarif", str(tmp_path / "report.sarif"), cwd=tmp_path)
    assert result.returncode == 0
    _assert_no_injected_command(result.stdout + result.stderr)


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout.strip()


def _repo_with_hostile_pr(tmp_path: Path, hostile: str, links: int) -> tuple[Path, str]:
    repo = tmp_path / "repo"
    leaf = repo / "taxonomy" / "knowledge" / "zoo" / "animals"
    leaf.mkdir(parents=True)
    _git(repo.parent, "init", "-q", "-b", "main", str(repo))
    for key, value in (("user.name", "t"), ("user.email", "t@example.org")):
        _git(repo, "config", key, value)
    (leaf / "qna.yaml").write_text(knowledge_text())
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "main")
    _git(repo, "checkout", "-qb", "pr")
    (leaf / f"{hostile}.md").write_text("# A\n")
    other = repo / "taxonomy" / "knowledge" / f"x{hostile}" / "leaf"
    other.mkdir(parents=True)
    (other / "qna.yaml").write_text(knowledge_text())
    for number in range(links):
        os.symlink("/etc/passwd", leaf / f"link{number}.md")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "pr")
    return repo, _git(repo, "rev-parse", "HEAD")


def test_diff_and_export_print_names_escaped_and_count_what_they_skip(tmp_path):
    hostile = "a\n::add-mask::secret\r::error::forged"
    repo, head = _repo_with_hostile_pr(tmp_path, hostile, links=300)
    result = _taxon("diff", "--base", "main", cwd=repo)
    assert result.returncode == 0, result.stderr
    _assert_no_injected_command(result.stdout + result.stderr)
    assert "add-mask" in result.stdout
    out = tmp_path / "out"
    config = ["--config", str(Path(__file__).resolve().parents[2] / "taxon.toml")]
    result = _taxon("gitops", "export-pr", "--base", "main", "--head", head, "--out", str(out), *config, cwd=repo)
    assert result.returncode == 0, result.stderr
    _assert_no_injected_command(result.stdout + result.stderr)
    lines = result.stdout.splitlines()
    assert len(lines) < 30, "300 skipped links are counted, not listed one by one"
    assert any("more files not used" in line and "not a regular file" in line for line in lines)
