"""Report contexts: typed dataclasses built from engine results, one per report.

``data.ReportInputs`` reads the store once (accounts, scores, deltas, open triggers,
account ARR); ``board``, ``playbook`` and ``renewals`` turn engine results into the
figures a template prints. No metric is computed here: contexts select, order and label.
"""
