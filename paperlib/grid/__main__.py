from ..cli.grid import main

raise SystemExit(main())
