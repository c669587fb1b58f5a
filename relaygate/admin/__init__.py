"""Operator actions (channels, keys, users, groups, prices, logs) shared by the REST API and the CLI."""
