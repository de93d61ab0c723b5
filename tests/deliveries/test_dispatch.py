"""Handing retries to Celery: one message per tenth of a second, never before what it names is due."""

from datetime import UTC, datetime, timedelta

from deliveries import dispatch


def test_retries_due_in_the_same_tenth_of_a_second_share_a_message_sent_at_its_end(monkeypatch):
    sent = []
    monkeypatch.setattr(dispatch, "enqueue", lambda ids, *, eta: sent.append((sorted(ids), eta)))
    base = datetime(2026, 3, 24, 14, 0, 0, 120_000, tzinfo=UTC)

    dispatch.enqueue_retries(
        [("a", base), ("b", base + timedelta(milliseconds=50)), ("c", base + timedelta(seconds=1))]
    )

    tick_end = base.replace(microsecond=200_000)
    assert sent == [(["a", "b"], tick_end), (["c"], tick_end + timedelta(seconds=1))]
    assert all(eta >= base for _ids, eta in sent)
