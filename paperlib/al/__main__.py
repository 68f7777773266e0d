from ..cli.al import main

raise SystemExit(main())
