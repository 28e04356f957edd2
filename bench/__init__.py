"""Offline benchmarks: run by hand from the repository root, not part of `make test`, not in the image.

Runtime packages never import this package. Each entry point writes its report into reports/
(docs/benchmarks.md explains what each measures):

- ``python -m bench.nlu``: the NLU on BANKING77, CLINC150, data/nlu and the held-out shopper messages,
  beside a frozen-MiniLM baseline and Rasa's DIET → reports/nlu.{json,md}
- ``python -m bench.onnx``: ONNX Runtime against torch for the intent model and the sentence encoder
  → reports/onnx.{json,md}
- ``python -m bench.search``: search quality on three labelled catalogs (bench/search/) and scale
  → reports/search.{json,md}
- ``python -m bench.needs``: needs without product words → reports/needs.{json,md}
- ``python -m bench.faq``: FAQ retrieval on bench/faq_questions.yml → reports/faq.{json,md}
- ``python -m bench.recs``: recommendations on the demo shop and MovieLens-100k → reports/recs.{json,md}
- ``python -m bench.recs_scale``: the recommender at a mid-size store's scale → reports/recs_scale.{json,md}
- ``python -m bench.load``: shopper traffic against Aisle and a stock Rasa peer
  → reports/load.{json,md,svg}
- ``python -m bench.faults``: services killed and frozen under load → reports/faults.{json,md}

Not entry points of their own: ``bench.load_peer`` (the stock Rasa peer; ``python -m bench.load_peer``
only trains it), ``bench.nlu_diet`` (Rasa's DIET, run in .venv-rasa by bench.nlu), ``bench.nlu_eval``
and ``bench.nlu_baseline`` (scoring and the baseline row), ``bench.search.scale`` (bench.search's scale
part) and ``bench.machine`` (the CPU every report names).
"""
