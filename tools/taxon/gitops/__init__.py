"""What the GitHub workflows decide, as plain functions, one module per job: what a pull
request changes (changes), who may ask for samples (authorize), a pull request's leaves as
data (export), the sticky comment (comment) and the runner's plumbing (actions).

The workflow `run:` steps only call `taxon gitops <subcommand>`; everything they decide is
here and unit-tested. Nothing here executes content from a pull request: its files are read
as git blobs and written out as data.
"""
