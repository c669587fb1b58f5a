"""The HTTP layer: app factory, lifespan and thin routes per front door."""
