"""The release steps (infra, bake, stage, smoke, promote, rollback, retire, status): read facts, decide with the
pure modules, then act unless dry-run. Each returns a frozen result with a one-line `summary` and `to_json()`."""
