from eventops.cli import main

raise SystemExit(main())
