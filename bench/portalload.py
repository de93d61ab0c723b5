"""The portal scenario's measurements: page times from the web server, queries and plans in process.

- Times: one client in a closed loop (the next request leaves when the last answer is read),
  as a developer clicking through the portal, against the production web server. Each page
  is requested once unmeasured (worker warm-up), then `repeat` times. Wall time per request
  on loopback: the server's time plus a fraction of a millisecond of local HTTP.
- Queries: each page once more through Django's test client in this process, every SQL
  statement captured: how many there are, and the plan of each (EXPLAIN without ANALYZE),
  searched for sequential scans of the delivery log's two big tables.
"""

import json
import time
from urllib.parse import urlsplit

from django.db import connection

from bench import measure

BIG_TABLES = ("deliveries_delivery", "deliveries_deliveryattempt")


def page_paths(fixture) -> dict[str, str]:
    """What the scenario requests: the stats call and the portal's read pages, on the busy endpoint."""
    busy = fixture.busy_endpoint_id
    return {
        "stats": f"/api/v1/webhooks/{busy}/stats",
        "endpoints": "/portal/",
        "endpoint": f"/portal/endpoints/{busy}",
        "log": f"/portal/endpoints/{busy}/deliveries",
        "log_filtered": f"/portal/endpoints/{busy}/deliveries?status=failed&event={fixture.failed_event_type}",
        "delivery": f"/portal/deliveries/{fixture.failed_delivery_id}",
    }


# --- Times, from the web server ---------------------------------------------------------------

def portal_client(base: str, api_key: str):
    """A requests session inside the business's portal, entered as a browser does: a link, then its URL."""
    import requests

    session = requests.Session()
    answer = session.post(f"{base}/api/v1/portal-sessions", json={}, headers=_bearer(api_key), timeout=30)
    answer.raise_for_status()
    entered = session.get(answer.json()["url"], allow_redirects=False, timeout=30)
    if entered.status_code != 302:
        raise RuntimeError(f"the portal link answered {entered.status_code}")
    # Production marks the cookies Secure, which requests would not send back over the loopback's http.
    session.headers["Cookie"] = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
    session.cookies.clear()
    return session


def time_pages(session, base: str, paths: dict[str, str], api_key: str, repeat: int) -> dict:
    """{page: latency summary and statuses} over `repeat` requests each, one page after the other."""
    results = {}
    for name, path in paths.items():
        headers = _bearer(api_key) if path.startswith("/api/") else {}
        session.get(base + path, headers=headers, timeout=60)  # warm-up: not counted
        seconds, statuses = [], {}
        for _ in range(repeat):
            started = time.perf_counter()
            answer = session.get(base + path, headers=headers, timeout=60, allow_redirects=False)
            seconds.append(time.perf_counter() - started)
            statuses[str(answer.status_code)] = statuses.get(str(answer.status_code), 0) + 1
        results[name] = {**measure.latency_summary_ms(seconds), "statuses": statuses, "bytes": len(answer.content)}
    return results


def _bearer(api_key: str) -> dict:
    return {"Authorization": f"Bearer {api_key}"}


# --- Queries and plans, in this process --------------------------------------------------------

def queries_and_plans(business, paths: dict[str, str], api_key: str) -> dict:
    """{page: {"status", "queries", "seq_scans", "seq_scanned"}} from one request of each page."""
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from portal.links import portal_link_issue

    client = Client(HTTP_HOST="127.0.0.1")
    client.get(urlsplit(portal_link_issue(business=business, base_url="http://127.0.0.1").url).path)
    pages = {}
    for name, path in paths.items():
        extra = {"HTTP_AUTHORIZATION": _bearer(api_key)["Authorization"]} if path.startswith("/api/") else {}
        with CaptureQueriesContext(connection) as captured:
            answer = client.get(path, **extra)
        scanned = sorted({table for query in captured.captured_queries for table in seq_scanned_tables(query["sql"])})
        pages[name] = {"status": answer.status_code, "queries": len(captured.captured_queries),
                       "seq_scans": bool(scanned), "seq_scanned": scanned}
    return pages


def seq_scanned_tables(sql: str) -> set[str]:
    """The big tables that the statement's plan reads in full (PostgreSQL: Seq Scan; SQLite: SCAN)."""
    if not any(table in sql for table in BIG_TABLES):
        return set()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
            plan = cursor.fetchone()[0]
            return {t for t in _pg_seq_scans(json.loads(plan) if isinstance(plan, str) else plan) if t in BIG_TABLES}
        cursor.execute("EXPLAIN QUERY PLAN " + sql)
        details = [row[-1] for row in cursor.fetchall()]
    # SQLite's SEARCH looks rows up through an index; SCAN reads the whole table (or a whole index).
    return {t for t in BIG_TABLES for d in details if d == f"SCAN {t}" or d.startswith(f"SCAN {t} ")}


def _pg_seq_scans(node) -> set[str]:
    if isinstance(node, list):
        return set().union(*(_pg_seq_scans(n) for n in node))
    found = {node["Relation Name"]} if node.get("Node Type") == "Seq Scan" else set()
    for key in ("Plan", "Plans"):
        if key in node:
            found |= _pg_seq_scans(node[key])
    return found
