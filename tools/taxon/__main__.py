from taxon.cli import main

raise SystemExit(main())
