"""Tables, repositories and migrations: the only place SQL lives."""
