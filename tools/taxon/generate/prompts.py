"""Prompt templates: text files in `taxon/prompts/`, each starting with a `version: N` line.

A template's identity (name, version, text) goes into every cache key that uses it, so
editing a template regenerates exactly the work that depends on it."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from string import Template as _StringTemplate

from taxon.core.errors import TaxonError
from taxon.core.store import hash_value


@dataclass(frozen=True)
class Template:
    name: str
    version: int
    text: str

    @property
    def identity(self) -> str:
        return hash_value({"name": self.name, "version": self.version, "text": self.text})

    def render(self, **fields: object) -> str:
        try:
            return _StringTemplate(self.text).substitute({k: str(v) for k, v in fields.items()}).strip()
        except (KeyError, ValueError) as error:
            raise TaxonError(f"prompt template '{self.name}' needs field {error}") from None


@cache
def load_template(name: str) -> Template:
    """The packaged template `taxon/prompts/<name>.txt`."""
    try:
        raw = resources.files("taxon").joinpath("prompts", f"{name}.txt").read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TaxonError(f"missing prompt template '{name}.txt'", hint="reinstall taxon") from None
    header, _, body = raw.partition("\n")
    key, _, value = header.partition(":")
    if key.strip() != "version" or not value.strip().isdigit():
        raise TaxonError(f"prompt template '{name}.txt' must start with a 'version: N' line")
    return Template(name=name, version=int(value), text=body)


@cache
def template_identities() -> dict[str, str]:
    """The identity of every packaged template, by name."""
    folder = resources.files("taxon").joinpath("prompts")
    names = sorted(entry.name[: -len(".txt")] for entry in folder.iterdir() if entry.name.endswith(".txt"))
    return {name: load_template(name).identity for name in names}
