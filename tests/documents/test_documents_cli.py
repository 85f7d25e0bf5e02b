"""`taxon documents`: what a person sees, and an exit code CI can use."""

from __future__ import annotations

from document_helpers import make_leaf

from taxon.cli import main

BIRDS = "# Chickadees\n\n" + "The black-capped chickadee is a small bird of North American forests. " * 8


def test_lists_documents_and_chunks_by_the_teacher_tokenizer(tmp_path, repo_root, tiny_model_dir, capsys):
    leaf = make_leaf(tmp_path, {"patterns": ["*.md"]}, {"birds.md": BIRDS})

    code = main(
        [
            "documents",
            str(leaf.folder),
            "--chunks",
            "--config",
            str(repo_root / "taxon.toml"),
            "--set",
            f"generate.teacher={tiny_model_dir}",
            "--set",
            "generate.chunk_tokenizer=''",
            "--set",
            "documents.chunk_tokens=32",
            "--set",
            "documents.chunk_overlap=4",
        ]
    )

    out = capsys.readouterr().out
    assert code == 0
    assert "knowledge/science/birds" in out and "birds.md" in out and "in-tree" in out
    assert "chunks of at most 32 tokens, overlap 4" in out and "│ 1     │ birds.md" in out


def test_a_leaf_with_bad_documents_fails_without_a_traceback(tmp_path, repo_root, capsys):
    leaf = make_leaf(tmp_path, {"patterns": ["../*.md"]}, {"birds.md": BIRDS})

    code = main(["documents", str(leaf.qna_path), "--config", str(repo_root / "taxon.toml")])

    err = capsys.readouterr().err
    assert code == 1 and "D005" in err and "Traceback" not in err
