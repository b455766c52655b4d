"""`python -m hub` is the `vigie` command."""

from hub.cli import main

raise SystemExit(main())
