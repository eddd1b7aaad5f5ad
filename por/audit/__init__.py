"""Audit: policies and their rules, prices, reconciliation of reserves with liabilities, the report.

`run.run_audit` is the use case; `reconcile.reconcile` the pure core; `html.render_html` the page.
"""

__all__ = ["html", "policy", "prices", "reconcile", "rules", "run"]
