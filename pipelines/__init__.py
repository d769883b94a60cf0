"""Model pipelines: one package per model, each with self-contained step scripts."""
