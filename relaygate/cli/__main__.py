"""`python -m relaygate.cli`: the same as the `relaygate` command."""

from relaygate.cli import main

raise SystemExit(main())
