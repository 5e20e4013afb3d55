"""Evaluation suite: authored documents (`evals/documents`), their renderings (`evals.render`)
and the question sets and reports that measure the assistant on them."""
