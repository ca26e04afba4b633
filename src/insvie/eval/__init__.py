"""Evaluation: the field's editor metrics, VLM judge protocols, benchmark readers and reports (issue 7)."""
