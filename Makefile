# The two commands a fresh clone needs (each does its own set-up: venv, Packer, Azurite):
#   make release   a whole release on the local cloud, then a second release of a changed app
#   make test      the test suite (starts the local cloud and Azurite it needs)
.PHONY: release test setup

setup:
	@scripts/bootstrap

release: setup
	.venv/bin/invoke demo

test: setup
	.venv/bin/python -m pytest -p no:cacheprovider $(PYTEST_ARGS)
