"""Cost caps a contribution cannot get past: generate.max_teacher_calls per run (recorded in
summary.json's config; the calls made are the result's and the command prints them) and [documents] max_chunks_per_leaf (D016 at validate --check-documents)."""

import json
import shutil

import pytest
from generate_helpers import BIRD_QUESTIONS, write_skill

from support.scripted_teacher import ScriptedTeacher
from taxon.cli import main
from taxon.core.errors import TaxonError
from taxon.generate.run import generate_leaves
from taxon.qna.layout import SUMMARY_NAME
from taxon.qna.taxonomy import load_leaves


def test_a_run_stops_at_its_teacher_call_cap_and_records_the_calls(tmp_path, make_config):
    write_skill(tmp_path / "taxonomy", "birds", BIRD_QUESTIONS)
    leaves = load_leaves(tmp_path / "taxonomy")
    with pytest.raises(TaxonError, match="cap of 3 teacher calls"):
        generate_leaves(leaves, tmp_path / "capped", make_config(max_teacher_calls=3), ScriptedTeacher(), quiet=True)
    result = generate_leaves(leaves, tmp_path / "out", make_config(), ScriptedTeacher(), quiet=True)
    summary = json.loads((tmp_path / "out" / SUMMARY_NAME).read_text())
    assert summary["config"]["max_teacher_calls"] == 200_000 and result.calls > 3  # the cap the run had


def test_documents_over_the_chunk_cap_are_a_finding_at_check_documents(tmp_path, repo_root, capsys):
    leaf = tmp_path / "taxonomy" / "knowledge" / "geography" / "fictional_towns" / "brindlemoor"
    shutil.copytree(repo_root / "taxonomy" / "knowledge" / "geography" / "fictional_towns" / "brindlemoor", leaf)
    (leaf / "document.md").write_text("# Big\n\n" + "Otters swim in rivers. " * 2000)
    path = leaf / "qna.yaml"
    config = ["--config", str(repo_root / "taxon.toml"), "--format", "json"]
    assert main(["validate", "--check-documents", *config, str(path)]) == 0
    capsys.readouterr()
    code = main(["validate", "--check-documents", *config, "--set", "documents.max_chunks_per_leaf=10", str(path)])
    findings = [f for file in json.loads(capsys.readouterr().out)["files"] for f in file["findings"]]
    assert code == 1 and [f["rule"] for f in findings] == ["D016"] and "about 33 chunks" in findings[0]["message"]
