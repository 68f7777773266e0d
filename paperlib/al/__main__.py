from .session import main

raise SystemExit(main())
