# Shortcuts for the two README commands (each script sets itself up first).
.PHONY: demo test bench setup
demo:
	@./scripts/demo.sh
test:
	@./scripts/test.sh
setup:
	@bash scripts/bootstrap.sh
bench:
	@./scripts/bench.sh
