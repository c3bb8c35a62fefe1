# The two commands a newcomer needs: `make demo` and `make test`. Each sets itself up first.
.PHONY: demo demo-headless test setup bench
VENV := .venv/bin

setup:
	@bash scripts/bootstrap.sh

demo: setup
	@bash scripts/demo.sh

demo-headless: setup
	@$(VENV)/vestibule demo --headless --duration 60

test: setup
	@bash scripts/test.sh

bench: setup
	@for b in bench/bench_*.py; do echo "== $$b"; $(VENV)/python $$b || exit 1; done
