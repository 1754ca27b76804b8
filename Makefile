# Benchmarks of issue 7. Each prints a table and writes bench/results/NAME.json.
# They run one after another: each wants the machine to itself.
# Use the project's virtualenv: activate it, or `make bench PYTHON=/path/to/venv/bin/python`.
PYTHON ?= $(if $(wildcard .venv/bin/python),.venv/bin/python,python3)
BENCHES := who_owns storm escalation memory matching console

.PHONY: bench bench-quick

# Full sizes: about 5 minutes (storm ~2 min, escalation ~2.5 min).
bench:
	set -e; for b in $(BENCHES); do $(PYTHON) -m bench.$$b; done

# A tenth of the sizes: under a minute each (escalation ~30 s by design).
bench-quick:
	set -e; for b in $(BENCHES); do $(PYTHON) -m bench.$$b --quick; done
