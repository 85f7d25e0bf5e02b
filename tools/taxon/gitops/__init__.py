"""What the GitHub workflows decide, as plain functions: what a pull request changes
(changes), who may ask for samples (authorize), a pull request's leaves as data (export), our
own marked comments and issues (comment), a train run's gate on main (gate), the releases and
their bundles (releases), the generation cache carried from run to run (restore), what a
trusted job may take from other runs (trusted), the GitHub API through `gh` (gh) and the
runner's plumbing (actions).

The workflow `run:` steps only call `taxon gitops <subcommand>`; everything they decide is
here and unit-tested. Nothing here executes content from a pull request: its files are read
as git blobs and written out as data.
"""
