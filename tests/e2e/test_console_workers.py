"""The console's overview sees a running worker: Celery's ping, answered over the real broker."""

from console.workers import workers_ping


def test_a_running_worker_answers_the_console_s_ping(celery_worker):
    assert celery_worker.hostname in workers_ping(timeout=2.0).answered
