# matchbot's set-up and everyday commands. `make demo` and `make test` work on a fresh machine with
# Python 3.11: they create .venv, install the CPU build of torch first (so nothing pulls a CUDA build),
# then matchbot with its test tools. Re-running is quick: the install is redone only when
# pyproject.toml changes, and the index only re-embeds articles that changed. The bot's words in each
# language (bot/locales/*/LC_MESSAGES/matchbot.po) are compiled to .mo whenever their .po changes.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH := torch==2.13.0
STAMP := $(VENV)/.installed

LOCALES := bot/locales
LANGUAGES := fr es pt de ar
CATALOGUES := $(LANGUAGES:%=$(LOCALES)/%/LC_MESSAGES/matchbot.mo)
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)

.PHONY: setup demo index test lint catalogue bench bench-seed bench-squad bench-kill bench-load bench-rerank bench-multilingual bench-scale bench-ready clean

setup: $(STAMP) $(CATALOGUES)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/matchbot export-model  # MiniLM to ONNX, checked against the model: questions skip torch
	touch $(STAMP)

$(LOCALES)/%/LC_MESSAGES/matchbot.mo: $(LOCALES)/%/LC_MESSAGES/matchbot.po $(STAMP)
	$(BIN)/pybabel compile --domain=matchbot --input-file=$< --output-file=$@ --locale=$*

catalogue: $(STAMP)  ## the bot's words: extract them from the code into the .pot, update each language's .po, compile
	$(BIN)/pybabel extract --mapping-file=$(LOCALES)/babel.cfg --keyword=locale_str --add-comments=TRANSLATORS: \
	  --add-location=file --sort-output --width=100 --project=matchbot --version=$(VERSION) \
	  --header-comment="# matchbot's own words, taken from its code by make catalogue (README, Languages)." \
	  --output-file=$(LOCALES)/matchbot.pot .
	$(BIN)/pybabel update --domain=matchbot --input-file=$(LOCALES)/matchbot.pot --output-dir=$(LOCALES) \
	  --width=100 --ignore-pot-creation-date
	$(BIN)/pybabel compile --domain=matchbot --directory=$(LOCALES) --statistics

demo: $(STAMP) $(CATALOGUES)  ## build the index from seeds/ if needed and answer a sample question
	$(BIN)/matchbot ask

index: $(STAMP)
	$(BIN)/matchbot index

test: $(STAMP) $(CATALOGUES)  ## the whole suite, real-model and end-to-end Discord tests included
	$(BIN)/python -m pytest -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)  ## speed beside the naive path: latency, throughput, indexing, cold start (ratios first)
	nice -n 10 $(BIN)/matchbot bench

bench-seed: $(STAMP)  ## quality on the seed questions, beside the BM25-only and dense-only baselines
	$(BIN)/matchbot eval tests/data/seed_questions.jsonl --baselines --split dev
	$(BIN)/matchbot eval tests/data/seed_questions.jsonl --baselines --split test
	$(BIN)/matchbot eval tests/data/seed_questions_fresh.jsonl --baselines

bench-rerank: $(STAMP)  ## what the second stage adds per question (p50, p95) and to memory, beside the first stage
	$(BIN)/python -m bench.rerank_cost

bench-multilingual: $(STAMP)  ## what the multilingual encoder adds: indexing, index size, memory, p50 per question
	$(BIN)/python -m bench.multilingual_cost

bench-ready: $(STAMP) $(CATALOGUES)  ## matchbot run against the local Discord stand-in: start to READY, READY to the first answer
	$(BIN)/python -m bench.ready --no-warm

bench-scale: $(STAMP)  ## build, open and search synthetic indexes of 10k and 100k passages, both corpora (no model)
	nice -n 10 $(BIN)/python -m bench.scale

SQUAD := ../shared/data/squad-dev-a
bench-squad: $(STAMP)  ## quality on SQuAD dev (half), read from ../shared beside the repo
	@test -f $(SQUAD)/articles.jsonl -a -f $(SQUAD)/questions.jsonl || { \
	  echo "bench-squad: $(SQUAD)/articles.jsonl and questions.jsonl are missing: put the squad-dev-a benchmark folder at $(SQUAD) (see README)"; exit 1; }
	$(BIN)/matchbot eval $(SQUAD)/questions.jsonl --seeds $(SQUAD)/articles.jsonl --data data/squad-dev-a --baselines

bench-kill: $(STAMP)  ## kill -9 every change to the articles and the index at 20 moments each; checks nothing is lost
	$(BIN)/python scripts/kill_loop.py --moments 20

bench-load: $(STAMP)  ## 500 questions from 100 members in 10 s while a reindex runs, four times (real model)
	$(BIN)/python scripts/load.py --rounds 4

clean:
	rm -rf $(VENV) data
