"""Moving an InstructLab taxonomy in, as the README's "Moving from InstructLab" says: the 16
current files and the 147 of August 2024 imported into a repository made by `taxon init`,
`taxon migrate --report` read, its defaults accepted, what it asks for filled in (stand-in
seeds where seeds are missing, as a person would write real ones), until the whole tree
passes `taxon validate --latest`; then `taxon pipeline --leaves` on five leaves, one of them
knowledge whose document comes from a local mirror ([documents] mirrors).

The corpus is read from ../shared/corpus (TAXON_SHARED), never copied into the repository."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from support.git import git
from support.leaves import CORPUS, CORPUS_2024, need
from support.pipeline_runs import PROBE, TAXON, PipelineServer, cli_env, pipeline_config, stage_statuses, toml_text
from taxon.publish import verify_bundle

pytestmark = pytest.mark.slow
KINDS = ("knowledge", "compositional_skills", "foundational_skills")
OLD = "instructlab_2024_08"  # the 2024 tree goes under this folder of each kind: its leaves overlap today's
CHICKADEE = "knowledge/science/animals/birds/black_capped_chickadee"
FIVE = (
    CHICKADEE,
    "foundational_skills/reasoning/linguistics_reasoning/odd_one_out",
    "foundational_skills/reasoning/temporal_reasoning",
    "compositional_skills/grounded/linguistics/writing/rewriting",
    f"compositional_skills/{OLD}/writing/freeform/emoji",
)
STAND_IN_ATTRIBUTION = (
    "Title of work: {leaf}\nLink to work: https://github.com/instructlab/taxonomy\n"
    "License of the work: CC-BY-4.0\nCreator names: a stand-in written by the import test\n"
)


def taxon(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(TAXON), *args],
        cwd=repo,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )


def import_corpus(repo: Path) -> int:
    taxonomy = repo / "taxonomy"
    for kind in KINDS:
        shutil.copytree(need(CORPUS) / kind, taxonomy / kind, dirs_exist_ok=True)
        shutil.copytree(need(CORPUS_2024) / kind, taxonomy / kind / OLD)
    return sum(1 for _ in taxonomy.rglob("qna.yaml"))


def report(repo: Path, *flags: str) -> dict:
    done = taxon(repo, "migrate", "--report", "--format", "json", *flags, "taxonomy")
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout)


def visible(value):
    """The data with the private-use characters Y015 named taken out."""
    if isinstance(value, str):
        return re.sub("[\ue000-\uf8ff]", "", value)
    if isinstance(value, list):
        return [visible(item) for item in value]
    if isinstance(value, dict):
        return {key: visible(item) for key, item in value.items()}
    return value


def fill(repo: Path, entry: dict) -> None:
    """What a person does for one file of the report, with stand-ins for what only a person
    can write (seeds, descriptions, attributions)."""
    path = repo / entry["path"]
    folder = path.parent
    leaf = folder.relative_to(repo / "taxonomy").as_posix()
    data = visible(yaml.safe_load(path.read_text(encoding="utf-8")))
    rules = {need["rule"] for need in entry["needs"]}
    whats = {need["what"] for need in entry["needs"]}
    licenses = [need["message"] for need in entry["needs"] if need["what"] == "license"]
    if any("names no license" not in message for message in licenses):
        shutil.rmtree(folder)  # a license the project does not take: the leaf does not come in
        return
    if "attribution" in whats or licenses:  # none, or one that names no license
        (folder / "attribution.txt").write_text(STAND_IN_ATTRIBUTION.format(leaf=leaf), encoding="utf-8")
    if "P020" in rules:
        for key in ("task_description", "document_outline"):
            if key in data and not str(data[key]).strip():
                data[key] = f"A stand-in description of {leaf}, written during the import."
    seeds = data["seed_examples"]
    if rules & {"S007", "P030"}:
        unique = {}
        for seed in seeds:
            unique.setdefault(seed.get("question"), seed)
        seeds[:] = list(unique.values())
    if "P012" in rules:
        seeds.remove(max(seeds, key=lambda seed: len(str(seed.get("answer", "")))))
    if "contexts" in whats:
        data["version"] = 3
        data["document_outline"] = data.pop("task_description", "") or f"The document of {leaf}."
        seeds[:] = [
            {
                "context": f"Stand-in passage {n} of {leaf}: the year {1900 + n} saw event number {n}.",
                "questions_and_answers": [
                    {"question": f"What happened in {1900 + n} ({leaf}, {m})?", "answer": f"Event number {n}."}
                    for m in range(3)
                ],
            }
            for n in range(5)
        ]
    missing = 5 - len(seeds) if "seeds" in whats or rules & {"S007", "P030", "P012"} else 0
    seeds += [
        {"question": f"Stand-in question {n} of {leaf}?", "answer": f"Stand-in answer {n} of {leaf}."}
        for n in range(max(missing, 0))
    ]
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=10**6), encoding="utf-8")
    if "P051" in rules:  # folders named in capitals
        relative = folder.relative_to(repo / "taxonomy")
        lowered = repo / "taxonomy" / relative.as_posix().lower()
        if lowered != folder and folder.exists():
            lowered.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(folder, lowered)


def mirror_the_chickadee_document(repo: Path, mirrors: Path) -> dict[str, str]:
    """A local clone standing in for the leaf's document repository (whose commit cannot be
    fetched offline): the leaf pins the commit the mirror holds, and keeps its public URL."""
    qna = repo / "taxonomy" / CHICKADEE / "qna.yaml"
    data = yaml.safe_load(qna.read_text(encoding="utf-8"))
    document, folder = data["document"], mirrors / "chickadee"
    folder.mkdir(parents=True)
    text = "# Black-capped chickadee\n\n" + "\n\n".join(seed["context"] for seed in data["seed_examples"])
    (folder / "chickadee.md").write_text(text, encoding="utf-8")
    git(folder, "init", "--quiet")
    git(folder, "add", "--all")
    git(folder, "commit", "--quiet", "-m", "the document")
    commit = git(folder, "rev-parse", "HEAD")
    assert document["patterns"] == ["chickadee.md"]
    qna.write_text(qna.read_text(encoding="utf-8").replace(document["commit"], commit), encoding="utf-8")
    return {document["repo"]: str(folder)}


def test_an_instructlab_taxonomy_moves_in_and_five_leaves_run(tmp_path, tiny_model_dir):
    from support.paths import REPO

    repo = tmp_path / "acme-taxonomy"
    head = git(REPO, "rev-parse", "HEAD")
    done = taxon(tmp_path, "init", str(repo), "--source", str(REPO), "--rev", head)
    assert done.returncode == 0, done.stderr
    examples = sum(1 for _ in (repo / "taxonomy").rglob("qna.yaml"))
    assert import_corpus(repo) == examples + 16 + 147

    # the maintainer says the foundational skills are the repository's own, under its license
    config = (repo / "taxon.toml").read_text(encoding="utf-8")
    (repo / "taxon.toml").write_text(config.replace('repository_license = ""', 'repository_license = "Apache-2.0"'))
    first = report(repo)
    files = {entry["path"]: entry for entry in first["files"]}
    assert len(files) == examples + 163
    assert sum(bool(entry["offered"]) for entry in files.values()) == 22  # 11 foundational skills, twice
    assert "A person must: add 375 seed examples to 136 files" in first["summary"]
    escaped = f"taxonomy/compositional_skills/{OLD}/extraction/annual_report/bullet_points/qna.yaml"
    assert [need["rule"] for need in files[escaped]["needs"]] == ["P040", "S004", "Y015", "Y015", "Y015"]
    assert taxon(repo, "migrate", "--accept-defaults", "taxonomy").returncode == 1
    rounds = 0
    while True:
        current = report(repo)
        waiting = [entry for entry in current["files"] if entry["needs"]]
        if not waiting:
            break
        rounds += 1
        assert rounds <= 3, [(entry["path"], entry["needs"]) for entry in waiting][:5]
        for entry in waiting:
            fill(repo, entry)
    assert rounds == 1, "the report asks for everything at once: one round of filling"
    validated = taxon(repo, "validate", "--latest", "--quiet", "taxonomy")
    assert validated.returncode == 0, validated.stdout[-3000:]
    leaves = sum(1 for _ in (repo / "taxonomy").rglob("qna.yaml"))
    assert leaves == examples + 163 - 2  # a non-commercial and a "public domain" leaf left out

    with PipelineServer() as teacher:
        settings = pipeline_config(teacher.base_url, tiny_model_dir)
        settings["validate"]["repository_license"] = "Apache-2.0"
        settings["documents"]["mirrors"] = mirror_the_chickadee_document(repo, tmp_path / "mirrors")
        (repo / "taxon.toml").write_text(toml_text(settings), encoding="utf-8")
        (repo / "probe.jsonl").write_text("".join(json.dumps(row) + "\n" for row in PROBE), encoding="utf-8")
        checked = taxon(repo, "validate", "--latest", "--check-documents", f"taxonomy/{CHICKADEE}")
        assert checked.returncode == 0, checked.stdout + checked.stderr
        ran = taxon(repo, "pipeline", "--quiet", "--set", "train.threads=1", "--leaves", *FIVE)
    assert ran.returncode == 0, ran.stdout[-4000:] + ran.stderr[-4000:]
    assert set(stage_statuses(ran.stdout).values()) == {"done"}
    run = repo / "runs" / "cpu"
    chosen = json.loads((run / "leaves.json").read_text())
    assert chosen["leaves"] == sorted(FIVE) and len(chosen["left_out"]) == leaves - 5
    assert f"leaves: 5 of {leaves} chosen by" in ran.stdout
    stats = {
        path.parent.relative_to(run / "generate").as_posix(): json.loads(path.read_text())
        for path in (run / "generate").rglob("stats.json")
    }
    assert sorted(stats) == sorted(FIVE) and all(entry["kept"] > 0 for entry in stats.values())
    rows = [json.loads(line) for line in (run / "generate" / CHICKADEE / "samples.jsonl").read_text().splitlines()]
    from_document = [row for row in rows if row["metadata"]["source"] == "document"]
    assert from_document and not [row for row in from_document if "wikilink" in json.dumps(row["messages"])]
    assert verify_bundle(run / "bundle") == []
