# Shortcuts for the two README commands (each script sets itself up first).
.PHONY: demo test bench setup
demo:
	@./scripts/demo.sh
test:
	@./scripts/test.sh
setup:
	@bash scripts/bootstrap.sh
bench: setup
	@for b in bench/bench_*.py; do echo "== $$b"; .venv/bin/python $$b || exit 1; done
