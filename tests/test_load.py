"""The quick load test (benchmarks/load_test.py) against the launched app: concurrent clients on every tab.

Every request must be served and the server's memory may not grow beyond the stated bound; latencies are printed
(``pytest -s``), never asserted. The full run (4 clients × 25 requests) is ``python -m benchmarks.load_test``.
"""

from __future__ import annotations

from benchmarks.load_test import MEMORY_GROWTH_BOUND_MB, QUICK, load_test, report, server_pid

BUDGET_S = 300  # clients give up after this; a quick run takes well under a minute


def test_quick_load(app_url: str) -> None:
    clients, per_client = QUICK
    outcome = load_test(app_url, server_pid(app_url), clients, per_client, "u2netp", BUDGET_S)
    print(report(outcome))
    assert outcome["served"] == outcome["requested"] == clients * per_client, outcome["errors"]
    assert not outcome["errors"] and outcome["server_alive"]
    assert outcome["rss_after_mb"] - outcome["rss_before_mb"] <= MEMORY_GROWTH_BOUND_MB
