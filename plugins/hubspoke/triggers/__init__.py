"""Deferrable waits: each runs in the triggerer, never holding a worker slot."""
