from taxon.cli import entry

entry()
