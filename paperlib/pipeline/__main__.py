from ..cli.pipeline import main

raise SystemExit(main())
