"""A stand-in for GitHub behind the `gh` and `hf` command lines the workflow steps call: REST
paths answered from a state folder (JSON answers, downloads of artifact zips and release
assets), `gh release create` recording a release with the digest of each asset (uploaded by
the workflow's token), `gh attestation verify` answering from the attestations recorded with
`attest` (what actions/attest-build-provenance would have made), `hf upload` recording what it
was given. Every call is logged. The Python side (FakeGitHub) fills the
state as the runner's `uses:` steps would: workflow runs and their uploaded artifacts."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

from support.github_payloads import workflow_run

GH_SCRIPT = r"""#!/usr/bin/env python3
import hashlib, json, os, shutil, sys
state = os.environ["FAKE_GH_STATE"]
args = sys.argv[1:]
body = sys.stdin.read() if "--input" in args else None
with open(os.path.join(state, "calls.jsonl"), "a") as log:
    log.write(json.dumps({"args": args, "input": body}) + "\n")
routes_path, files_path = os.path.join(state, "routes.json"), os.path.join(state, "files.json")
routes = json.load(open(routes_path))
files = json.load(open(files_path)) if os.path.exists(files_path) else {}
if args[:2] == ["release", "create"]:
    tag, repo = args[2], args[args.index("--repo") + 1]
    assets = []
    for path in args[3:]:
        if path.startswith("--"):
            break
        copy = os.path.join(state, "assets", f"{len(files)}-{os.path.basename(path)}")
        os.makedirs(os.path.dirname(copy), exist_ok=True)
        shutil.copy(path, copy)
        asset_id = 500 + len(files)
        files[f"repos/{repo}/releases/assets/{asset_id}"] = copy
        digest = hashlib.sha256(open(copy, "rb").read()).hexdigest()
        uploader = {"login": "github-actions[bot]", "type": "Bot"}
        assets.append({"id": asset_id, "name": os.path.basename(path), "digest": f"sha256:{digest}", "uploader": uploader})
    notes = args[args.index("--notes") + 1] if "--notes" in args else ""
    listing = f"repos/{repo}/releases?per_page=30"
    release = {"tag_name": tag, "draft": False, "prerelease": False, "assets": assets, "body": notes}
    routes[listing] = [release, *routes.get(listing, [])]
    json.dump(routes, open(routes_path, "w"))
    json.dump(files, open(files_path, "w"))
    sys.exit(0)
if args[:2] == ["attestation", "verify"]:
    digest = "sha256:" + hashlib.sha256(open(args[2], "rb").read()).hexdigest()
    attested_path = os.path.join(state, "attestations.json")
    attested = json.load(open(attested_path)) if os.path.exists(attested_path) else {}
    wanted = {
        "repo": args[args.index("--repo") + 1],
        "workflow": args[args.index("--signer-workflow") + 1],
        "ref": args[args.index("--source-ref") + 1],
        "hosted": "--deny-self-hosted-runners" in args or None,
    }
    if any(all(v is None or record.get(k) == v for k, v in wanted.items()) for record in attested.get(digest, [])):
        print(json.dumps([{"verificationResult": {"statement": {"subject": [{"digest": digest}]}}}]))
        sys.exit(0)
    sys.stderr.write(f"Error: no attestation of {digest} matched the policy\n")
    sys.exit(1)
path = next(a for a in args[1:] if a.startswith("repos/"))
for key in (path, path.split("?")[0]):
    if key in files:
        sys.stdout.buffer.write(open(files[key], "rb").read())
        sys.exit(0)
    if key in routes:
        answer = routes[key]
        break
else:
    answer = {}
if "--jq" in args:
    print("".join(json.dumps(item) + "\n" for item in answer), end="")
else:
    print(json.dumps(answer))
"""

HF_SCRIPT = r"""#!/usr/bin/env python3
import hashlib, json, os, sys
args = sys.argv[1:]
folder = args[2]
uploaded = {
    os.path.relpath(os.path.join(root, name), folder): hashlib.sha256(open(os.path.join(root, name), "rb").read()).hexdigest()
    for root, _, names in os.walk(folder)
    for name in names
}
with open(os.path.join(os.environ["FAKE_GH_STATE"], "hf_uploads.jsonl"), "a") as log:
    log.write(json.dumps({"args": args, "files": uploaded}) + "\n")
"""


def _zip_bytes(path: Path) -> bytes:
    """What actions/upload-artifact stores for one path: a folder's files relative to it, or the file itself."""
    import io

    buffer = io.BytesIO()
    path = Path(path)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if path.is_dir():
            for item in sorted(p for p in path.rglob("*") if p.is_file()):
                archive.write(item, item.relative_to(path).as_posix())
        else:
            archive.write(path, path.name)
    return buffer.getvalue()


class FakeGitHub:
    def __init__(self, root: Path, repository: str = "octo/taxonomy", repository_id: int = 4242):
        self.state = Path(root) / "gh-state"
        self.bin = Path(root) / "bin"
        self.repository, self.repository_id = repository, repository_id
        self.state.mkdir(parents=True, exist_ok=True)
        self.bin.mkdir(parents=True, exist_ok=True)
        for name, script in (("gh", GH_SCRIPT), ("hf", HF_SCRIPT)):
            (self.bin / name).write_text(script)
            (self.bin / name).chmod(0o755)
        self.routes: dict = {}
        self.files: dict = {}
        self.runs: list[dict] = []
        self.save()

    @property
    def env(self) -> dict:
        return {"FAKE_GH_STATE": str(self.state)}

    @property
    def _runs_path(self) -> str:
        return f"repos/{self.repository}/actions/workflows/train.yml/runs"

    def load(self) -> None:
        """Take back what the fake `gh` recorded (a release it created)."""
        self.routes = json.loads((self.state / "routes.json").read_text())
        self.files = json.loads((self.state / "files.json").read_text())
        self.runs = self.routes[self._runs_path]["workflow_runs"]

    def save(self) -> None:
        self.routes[self._runs_path] = {"workflow_runs": self.runs}
        (self.state / "routes.json").write_text(json.dumps(self.routes))
        (self.state / "files.json").write_text(json.dumps(self.files))

    def update_routes(self, changes: dict) -> None:
        """Answer these REST paths from now on (beside what the fake `gh` recorded)."""
        self.load()
        self.routes.update(changes)
        self.save()

    def add_comment(self, number: int, login: str, body: str) -> None:
        """A comment on pull request `number`, as GitHub lists it."""
        self.load()
        self.routes[f"repos/{self.repository}/issues/{number}/comments"].append(
            {"body": body, "user": {"login": login}}
        )
        self.save()

    def add_run(self, sha: str, event: str = "push", head_branch: str = "main", **fields) -> dict:
        """A finished train.yml run of this repository (fields override: conclusion, head_repository, path)."""
        self.load()
        run_id = 1000 + len(self.runs)
        run = workflow_run(
            run_id, sha, self.repository, self.repository_id, event=event, head_branch=head_branch, **fields
        )
        self.runs.insert(0, run)  # the API lists the newest first
        self.routes[f"repos/{self.repository}/actions/runs/{run_id}/artifacts"] = {"artifacts": []}
        self.save()
        return run

    def upload_artifact(self, run: dict, name: str, path: Path) -> dict:
        """What actions/upload-artifact does in `run`: the zip, its digest recorded by GitHub."""
        self.load()
        data = _zip_bytes(path)
        artifact_id = 7000 + len(self.files)
        stored = self.state / "artifacts" / f"{artifact_id}.zip"
        stored.parent.mkdir(exist_ok=True)
        stored.write_bytes(data)
        artifact = {
            "id": artifact_id,
            "name": name,
            "expired": False,
            "digest": f"sha256:{hashlib.sha256(data).hexdigest()}",
            "workflow_run": {"id": run["id"], "head_sha": run["head_sha"]},
        }
        self.routes[f"repos/{self.repository}/actions/runs/{run['id']}/artifacts"]["artifacts"].append(artifact)
        self.files[f"repos/{self.repository}/actions/artifacts/{artifact_id}/zip"] = str(stored)
        self.save()
        return artifact

    def attest(
        self, path: Path, ref: str, workflow: str = ".github/workflows/release.yml", hosted: bool = True
    ) -> None:
        """What actions/attest-build-provenance records for `path`, signed by `workflow` run on `ref`."""
        store = self.state / "attestations.json"
        attested = json.loads(store.read_text()) if store.exists() else {}
        digest = f"sha256:{hashlib.sha256(Path(path).read_bytes()).hexdigest()}"
        record = {"repo": self.repository, "workflow": f"{self.repository}/{workflow}", "ref": ref, "hosted": hosted}
        attested.setdefault(digest, []).append(record)
        store.write_text(json.dumps(attested))

    def calls(self) -> list[dict]:
        log = self.state / "calls.jsonl"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    def hf_uploads(self) -> list[dict]:
        log = self.state / "hf_uploads.jsonl"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
