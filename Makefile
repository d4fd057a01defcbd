# The two commands a fresh clone needs (each does its own set-up: venv, Packer, Azurite):
#   make release   a whole release on the local cloud, then a second release of a changed app
#   make test      the test suite (also installs Chromium for the report test; starts what the tests use)
.PHONY: release test setup

setup:
	@scripts/bootstrap

release: setup
	.venv/bin/invoke demo

test:
	@BOOTSTRAP_TEST_TOOLS=1 scripts/bootstrap
	.venv/bin/python -m pytest -p no:cacheprovider $(PYTEST_ARGS)
