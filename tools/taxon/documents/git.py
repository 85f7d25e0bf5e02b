"""Fetching one pinned commit of an external document repository, as hostile input.

Only https (file:// too, when the test-only setting `allow_file_urls` is on). The runner's git
config, hooks, submodules and LFS are all out of play; objects are fsck'd on fetch; the
repository is bare and shallow (the one commit), and blobs are read by id without a checkout.
Every git process runs with a scrubbed environment and a timeout.

Nothing is downloaded before it is chosen: the commit comes with its trees only (a partial
fetch, `--filter=blob:none`; a server that ignores the filter is refused), so the listing
caps and the patterns decide on names alone, and then only the blobs the patterns selected
are fetched by id, the fetch stopped once it has written more than the leaf's byte cap.
git's record of the remote is removed after the first fetch, so no later command fetches a
missing object on its own. Fetched repositories are cached by (repo, commit), with the blobs
fetched so far: a rerun touches no network.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

from taxon.core.git import GitFailed, batch_request, parse_batch, run_git
from taxon.core.git import printable as _printable
from taxon.core.settings import DocumentsSettings
from taxon.core.store import atomic_dir, hash_value
from taxon.documents.records import DocumentProblem

# What a maintainer can do about a repository this network cannot reach (D002)
WAYS_OUT = (
    "map it to a copy you can reach in [documents] mirrors of taxon.toml (an internal git URL or a folder "
    "holding a clone), or vendor the document: commit it beside the qna.yaml and drop `repo` and `commit`"
)
FULL_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
FSCK_MESSAGE_ID = re.compile(r"^error: object [0-9a-f]+: ([a-zA-Z]+):", re.M)  # e.g. hasDotgit
PINNED_REF = "refs/taxon/pinned"
PACK_SLACK_BYTES = (
    1 << 20
)  # a blob fetch may write this much past the leaf's byte cap: git's pack and index  # a ref keeps the fetched commit safe from any gc
# On top of the runner's hardening (taxon.core.git): objects checked, no submodules.
FETCH_CONFIG = {
    "fetch.fsckObjects": "true",
    "transfer.fsckObjects": "true",
    "fetch.recurseSubmodules": "false",
    "submodule.recurse": "false",
}


def fetch_protocols(settings: DocumentsSettings) -> tuple[str, ...]:
    """The transports a fetch may use: https, and file:// where tests allow it."""
    return ("https", "file") if settings.allow_file_urls else ("https",)


@dataclass(frozen=True)
class TreeEntry:
    mode: str  # 100644 / 100755 file, 120000 symlink, 160000 submodule
    object_id: str
    path: str

    @property
    def is_regular_file(self) -> bool:
        return self.mode in ("100644", "100755")


def check_repo_url(url: str, settings: DocumentsSettings) -> None:
    """Refuse anything but a plain https URL before git ever sees it."""
    url = str(url)
    parts = _split_url(url)
    if parts is None or parts.scheme not in fetch_protocols(settings):
        allowed = " or ".join(f"{scheme}://" for scheme in fetch_protocols(settings))
        raise DocumentProblem("D001", f"document repository '{_printable(url)}' is refused: use an {allowed} URL")
    if parts.scheme == "https" and (not parts.hostname or parts.username or parts.password):
        raise DocumentProblem(
            "D001",
            f"document repository '{_printable(url)}' is refused: use an https://HOST/... URL without credentials",
        )


def network_config(url: str) -> dict[str, str]:
    """git settings for fetching `url`: no redirects, and for an https host its addresses
    resolved here, checked, and pinned (git's curl uses them, so a second lookup can't
    point elsewhere). D001 for a host on a loopback, private, link-local, IPv4-mapped or
    otherwise non-public address: documents come from the internet, not the runner's
    network; D002 when the name does not resolve."""
    parts = urlsplit(url)
    config = {"http.followRedirects": "false"}
    if parts.scheme != "https":
        return config
    try:
        port = parts.port or 443
        found = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError, UnicodeError):
        raise DocumentProblem(
            "D002", f"document repository '{_printable(url)}' cannot be fetched: its host does not resolve; {WAYS_OUT}"
        ) from None
    addresses = sorted({str(info[4][0]) for info in found})
    for address in addresses:
        if not _is_public(ipaddress.ip_address(address.split("%")[0])):
            raise DocumentProblem(
                "D001",
                f"document repository '{_printable(url)}' is refused: its host is on a loopback, private, "
                "link-local or IPv4-mapped address (or one embedding such an IPv4 address); use a public https URL "
                "(a host of your own network is reached through [documents] mirrors of taxon.toml, which the "
                "maintainer sets)",
            )
    if not _is_ip_literal(parts.hostname or ""):
        config["http.curloptResolve"] = f"{parts.hostname}:{port}:{','.join(_bracketed(a) for a in addresses)}"
    return config


# IPv6 forms that carry an IPv4 address a gateway may translate to (RFC 6052, 7915, 4291)
NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")  # the IPv4 address in the last 32 bits
NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215: where the IPv4 sits is the operator's choice
SIIT_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")  # IPv4-translated
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated, still routed by some stacks
ISATAP_IDS = (0x00005EFE, 0x02005EFE)  # interface identifier 0000:5efe or 0200:5efe, then the IPv4 address


def _is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """A global, non-multicast address whose embedded IPv4 addresses (an IPv6 form a NAT64,
    6to4, Teredo, ISATAP or SIIT gateway translates) are global too. IPv4-mapped addresses
    and the local-use NAT64 prefix are refused whatever they hold."""
    if not ip.is_global or ip.is_multicast:
        return False
    if isinstance(ip, ipaddress.IPv4Address):
        return True
    if ip.ipv4_mapped is not None or ip in NAT64_LOCAL_USE:
        return False
    return all(_is_public(embedded) for embedded in embedded_ipv4(ip))


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries for a translator or tunnel."""
    value = int(ip)
    low32 = ipaddress.IPv4Address(value & 0xFFFFFFFF)
    found = []
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)  # the server and the (unobfuscated) client
    if any(ip in network for network in (NAT64_WELL_KNOWN, SIIT_TRANSLATED, IPV4_COMPATIBLE)):
        found.append(low32)
    if (value >> 32) & 0xFFFFFFFF in ISATAP_IDS:
        found.append(low32)
    return found


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _bracketed(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def _split_url(url: str) -> SplitResult | None:
    """The parts of a URL made of printable, non-space characters only; None otherwise."""
    if not url.isprintable() or any(char.isspace() for char in url):
        return None
    try:
        parts = urlsplit(url)
        _ = parts.hostname  # raises on a malformed host such as '[::1'
    except ValueError:
        return None
    return parts


def check_commit(commit: str | None) -> str:
    commit = "" if commit is None else str(commit)
    if not FULL_SHA.fullmatch(commit.lower()):
        raise DocumentProblem(
            "D003",
            f"document commit '{_printable(commit)}' is not a full commit sha: pin the full 40-character id",
        )
    return commit.lower()


def _remote(
    repo: str, settings: DocumentsSettings, mirror: str | None
) -> tuple[str, dict[str, str], DocumentsSettings]:
    """Where a fetch goes: `repo` with its addresses checked and pinned, or the mirror
    [documents] mirrors gave for it, which is the maintainer's own copy (a private host or a
    folder is why it is there)."""
    if mirror:
        return mirror, {"http.followRedirects": "false"}, replace(settings, allow_file_urls=True)
    return repo, network_config(repo), settings


def fetch_commit(repo: str, commit: str | None, settings: DocumentsSettings, mirror: str | None = None) -> Path:
    """A bare repository holding exactly `commit` of `repo`, fetched once and cached; from
    `mirror` instead when [documents] mirrors gave one. The cache is keyed by the repository
    and the commit: where the commit came from changes nothing."""
    check_repo_url(repo, settings)
    commit = check_commit(commit)
    folder = Path(settings.cache_dir) / "repos" / hash_value({"repo": repo, "commit": commit})[:32]
    if (folder / PINNED_REF).is_file():
        return folder
    source, network, settings = _remote(repo, settings, mirror)  # only when fetching: no lookup for the cache
    with atomic_dir(folder) as building:
        try:
            _run_git(["init", "--quiet", "--bare", "--template="], settings, git_dir=building)
            _run_git(
                [
                    "fetch",
                    "--quiet",
                    "--depth=1",
                    "--filter=blob:none",
                    "--no-tags",
                    "--no-recurse-submodules",
                    "--no-write-fetch-head",
                    "--end-of-options",
                    source,
                    f"{commit}:{PINNED_REF}",
                ],
                settings,
                git_dir=building,
                network=network,
            )
            _run_git(["cat-file", "-e", "--end-of-options", f"{commit}^{{commit}}"], settings, git_dir=building)
            _forget_remote(building, settings)
        except GitFailed as failure:
            raise _explain_failed_fetch(repo, commit, failure, settings, building, network, mirror) from None
        if not mirror and _holds_blobs(building, settings):  # a mirror of one's own may send the commit whole
            raise DocumentProblem(
                "D002",
                f"document repository '{repo}' ignores partial fetches (git's --filter), so its commit would be "
                "downloaded whole: host the documents where partial fetches work (GitHub, GitLab, Bitbucket)",
            )
    return folder


def _forget_remote(git_dir: Path, settings: DocumentsSettings) -> None:
    """Remove the promisor remote a filtered fetch records, and check that none is left:
    with one, git would fetch any missing object by itself, past every check here."""
    names = _run_git(["config", "--name-only", "--get-regexp", r"^remote\."], settings, git_dir, allow_fail=True)
    for section in {line.rsplit(".", 1)[0] for line in names.decode("utf-8", "replace").splitlines() if line}:
        _run_git(["config", "--remove-section", section], settings, git_dir=git_dir)
    if _run_git(["config", "--get-regexp", r"^(remote|extensions)\."], settings, git_dir, allow_fail=True):
        raise GitFailed("the fetched repository still names a remote")


def _holds_blobs(git_dir: Path, settings: DocumentsSettings) -> bool:
    listing = _run_git(["cat-file", "--batch-all-objects", "--batch-check=%(objecttype)"], settings, git_dir)
    return b"blob" in listing.split()


def fetch_blobs(
    git_dir: Path,
    repo: str,
    object_ids: list[str],
    settings: DocumentsSettings,
    max_bytes: int,
    mirror: str | None = None,
) -> None:
    """Fetch these blobs of `repo` (from `mirror` when there is one) by id (only those
    missing), stopped as soon as the repository has grown by more than `max_bytes`:
    DocumentProblem D008 then, D002 when the server does not send them."""
    missing = sorted(set(object_ids) - set(blob_sizes(git_dir, object_ids, settings)))
    if not missing:
        return
    source, network, settings = _remote(repo, settings, mirror)
    try:
        run_git(
            ["fetch", "--quiet", "--no-tags", "--no-recurse-submodules", "--no-write-fetch-head", "--stdin"]
            + ["--end-of-options", source],
            git_dir=git_dir,
            protocols=fetch_protocols(settings),
            # no "have" lines: the server would leave out every blob reachable from our commit
            config={**FETCH_CONFIG, **network, "fetch.negotiationAlgorithm": "noop"},
            input_bytes=batch_request(missing),
            timeout_s=settings.fetch_timeout_s,
            max_growth=(git_dir / "objects", max_bytes + PACK_SLACK_BYTES),
        )
    except GitFailed as failure:
        _remove_partial_packs(git_dir)
        if failure.over_cap:
            raise DocumentProblem(
                "D008",
                f"the {len(missing)} selected documents of '{repo}' passed max_leaf_bytes ({max_bytes}) while "
                "downloading: split the leaf or narrow its patterns",
            ) from None
        if failure.timed_out:
            raise DocumentProblem(
                "D002", f"document repository '{repo}' timed out after {settings.fetch_timeout_s:g} s"
            ) from None
        raise DocumentProblem("D002", f"the selected documents of '{repo}' cannot be fetched") from None


def _remove_partial_packs(git_dir: Path) -> None:
    """What a stopped fetch leaves behind: the pack it was receiving."""
    for partial in (git_dir / "objects" / "pack").glob("tmp_*"):
        partial.unlink(missing_ok=True)


def blob_sizes(git_dir: Path, object_ids: list[str], settings: DocumentsSettings) -> dict[str, int]:
    """The sizes of the blobs present here, by id, read locally (`cat-file --batch-check`)."""
    if not object_ids:
        return {}
    output = _run_git(["cat-file", "--batch-check"], settings, git_dir, input_bytes=batch_request(object_ids))
    sizes = {}
    for line in output.decode().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] == "blob":
            sizes[parts[0]] = int(parts[2])
    return sizes


def _explain_failed_fetch(
    repo: str,
    commit: str,
    failure: GitFailed,
    settings: DocumentsSettings,
    git_dir: Path,
    network: dict[str, str],
    mirror: str | None = None,
) -> DocumentProblem:
    """Tell malformed objects, a silent or unreachable repository and a missing commit apart
    (the last two with one cheap probe). The messages reach pull-request comments, so they
    name fixed categories and never repeat what the remote or the network said."""
    source = f"'{_printable(mirror)}' ([documents] mirrors of '{repo}')" if mirror else f"'{repo}'"
    if "fsck error" in failure.stderr:
        checks = sorted(set(FSCK_MESSAGE_ID.findall(failure.stderr))) or ["unknown"]
        return DocumentProblem(
            "D012", f"commit {commit} of {source} fails git's object checks ({', '.join(checks)}): it is not used"
        )
    if not failure.timed_out:
        try:
            _run_git(
                ["ls-remote", "--heads", "--end-of-options", mirror or repo], settings, git_dir=git_dir, network=network
            )
        except GitFailed as probe:
            failure = probe
        else:
            where = "the mirror: update it from the repository" if mirror else "the repository"
            return DocumentProblem(
                "D003", f"commit {commit} is not in {source}: pin a commit that is pushed to {where}"
            )
    if failure.timed_out:
        ways_out = "" if mirror else f"; if this network cannot reach it, {WAYS_OUT}"
        return DocumentProblem(
            "D002", f"document repository {source} timed out after {settings.fetch_timeout_s:g} s{ways_out}"
        )
    if mirror:
        return DocumentProblem(
            "D002", f"document repository {source} cannot be fetched: check that the mirror is a git repository"
        )
    return DocumentProblem(
        "D002", f"document repository {source} cannot be fetched: check the URL and that it is public, or {WAYS_OUT}"
    )


def list_tree(git_dir: Path, commit: str, settings: DocumentsSettings) -> list[TreeEntry]:
    """The commit's entries from its trees alone (no blob is needed, none is fetched)."""
    output = _run_git(["ls-tree", "-r", "-z", "--full-tree", "--end-of-options", commit], settings, git_dir=git_dir)
    entries = []
    for record in output.split(b"\0"):
        if not record:
            continue
        meta, path = record.split(b"\t", 1)
        mode, _kind, object_id = meta.decode().split()
        entries.append(TreeEntry(mode, object_id, path.decode("utf-8", "surrogateescape")))
    return entries


def read_blobs(git_dir: Path, object_ids: list[str], settings: DocumentsSettings) -> dict[str, bytes]:
    """The blobs by id, read by one `git cat-file --batch` process."""
    if not object_ids:
        return {}
    return parse_batch(_run_git(["cat-file", "--batch"], settings, git_dir, input_bytes=batch_request(object_ids)))


def _run_git(
    args: list[str],
    settings: DocumentsSettings,
    git_dir: Path,
    network: dict[str, str] | None = None,
    input_bytes: bytes | None = None,
    allow_fail: bool = False,
) -> bytes:
    """git's output; with `allow_fail`, nothing when it exits non-zero (`config --get`
    finding nothing)."""
    try:
        return run_git(
            args,
            git_dir=git_dir,
            protocols=fetch_protocols(settings),
            config={**FETCH_CONFIG, **(network or {})},
            input_bytes=input_bytes,
            timeout_s=settings.fetch_timeout_s,
        )
    except GitFailed:
        if allow_fail:
            return b""
        raise
