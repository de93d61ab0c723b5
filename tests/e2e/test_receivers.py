"""The example receivers (examples/receivers/), run as shipped, against real deliveries.

Each file is started as its own process on a free loopback port, with the webhook's
secret in CALENDENCE_WEBHOOK_SECRET and the port in PORT, as docs/receiving.md tells a
reader to run it. A real Celery worker delivers to it; the receiver must print
`verified <event> <id>` for a genuine delivery, answer 200 (the delivery log says so),
and answer 401 to the same body with a forged signature.

Python and Node.js are the two the issue requires; PHP and Ruby run too where their
interpreters are installed, and are skipped with the reason otherwise.
"""

import hashlib
import hmac
import os
import queue
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings

from deliveries.models import Event
from tests.e2e.api import create_booking, deliveries_of, register_webhook
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

RECEIVERS = Path(settings.BASE_DIR) / "examples" / "receivers"
FILES = {
    "python": "python/receiver.py", "node": "node/receiver.js", "php": "php/receiver.php", "ruby": "ruby/receiver.rb",
}
VERIFIED = re.compile(r"verified (booking\.[a-z]+) (evt_[0-9a-f]+)")


def _ruby_missing() -> str | None:
    if not shutil.which("ruby"):
        return "ruby is not on PATH: the example Ruby receiver cannot be run"
    probe = subprocess.run(["ruby", "-e", 'require "webrick"'], capture_output=True, timeout=30)
    if probe.returncode != 0:
        return "ruby has no webrick (gem install webrick): the example Ruby receiver cannot be run"
    return None


def _missing(language: str) -> str | None:
    """Why this language's receiver cannot run here, or None."""
    if language == "python":
        return None
    if language == "node":
        return None if shutil.which("node") else "node is not on PATH: the example Node.js receiver cannot be run"
    if language == "php":
        return None if shutil.which("php") else "php is not on PATH: the example PHP receiver cannot be run"
    return _ruby_missing()


LANGUAGES = [
    pytest.param(language, marks=pytest.mark.skipif(bool(reason), reason=reason or ""), id=language)
    for language, reason in ((language, _missing(language)) for language in FILES)
]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def command(language: str, path: Path, port: int) -> list[str]:
    if language == "python":
        return [sys.executable, str(path)]
    if language == "node":
        return [shutil.which("node"), str(path)]
    if language == "php":  # as docs/receiving.md runs it: php -S 127.0.0.1:9000 receiver.php
        return [shutil.which("php"), "-S", f"127.0.0.1:{port}", str(path)]
    return [shutil.which("ruby"), str(path)]


class ExampleReceiver:
    """One example receiver file running as its own process, its output collected line by line."""

    def __init__(self, language: str, directory: Path, port: int, secret: str):
        self.language, self.port = language, port
        path = RECEIVERS / FILES[language]
        assert path.is_file(), f"{path} is missing"
        # cwd and TMPDIR: a directory of the test's own (the PHP receiver's dedupe markers go there).
        env = {**os.environ, "CALENDENCE_WEBHOOK_SECRET": secret, "PORT": str(port), "TMPDIR": str(directory)}
        self.process = subprocess.Popen(
            command(language, path, port),
            cwd=directory,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,  # PHP's error_log goes to the built-in server's stderr
            text=True,
        )
        self.output: list[str] = []
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhooks"

    def _read(self) -> None:
        for line in self.process.stdout:
            self.output.append(line.rstrip("\n"))
            self._lines.put(line.rstrip("\n"))

    def wait_listening(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the {self.language} receiver exited with {self.process.returncode}: {self.output}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        pytest.fail(
            f"the {self.language} receiver did not listen on 127.0.0.1:{self.port} in {timeout} s: {self.output}"
        )

    def wait_verified(self, timeout: float = 15.0) -> tuple[str, str]:
        """The next `verified <event> <id>` line it prints, as (event, id)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._lines.get(timeout=left)
            except queue.Empty:
                break
            if match := VERIFIED.search(line):
                return match.group(1), match.group(2)
        pytest.fail(f"the {self.language} receiver printed no `verified` line in {timeout} s: {self.output}")

    def verified_lines(self) -> list[tuple[str, str]]:
        return [match.groups() for line in list(self.output) if (match := VERIFIED.search(line))]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process.stdout.close()


@pytest.fixture
def start_receiver(tmp_path):
    """start(language, port, secret): an example receiver running; every one is stopped at teardown."""
    started: list[ExampleReceiver] = []

    def start(language: str, port: int, secret: str) -> ExampleReceiver:
        receiver = ExampleReceiver(language, tmp_path, port, secret)
        started.append(receiver)
        receiver.wait_listening()
        return receiver

    yield start
    for receiver in started:
        receiver.stop()


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    return requests.post(url, data=body, headers={"Content-Type": "application/json", **headers}, timeout=5).status_code


@pytest.mark.parametrize("language", LANGUAGES)
def test_example_receiver_verifies_a_real_delivery_and_rejects_forgeries(
    language, celery_worker, tenant, start_receiver
):
    port = free_port()
    webhook = register_webhook(tenant, f"http://127.0.0.1:{port}/webhooks")
    secret = webhook["secret"]
    receiver = start_receiver(language, port, secret)

    booking = create_booking(tenant)

    event_type, event_id = receiver.wait_verified()
    assert event_type == "booking.created"
    assert wait_until(lambda: deliveries_of(tenant, webhook)[0]["status"] != "pending")
    [delivery] = deliveries_of(tenant, webhook)
    assert delivery["status"] == "succeeded", delivery
    assert delivery["event_id"] == event_id
    assert [(a["number"], a["status_code"], a["error"]) for a in delivery["attempts"]] == [(1, 200, None)]

    # The exact bytes that were delivered, to forge requests around them.
    body = Event.objects.get(id=event_id).body.encode("utf-8")
    assert f'"id":"{booking["id"]}"' in body.decode()
    genuine = sign(secret, body)
    forgeries = {
        "signed with another secret": {"X-Calendence-Signature": sign("whsec_" + "A" * 43, body)},
        "no signature": {},
        "the bare hex digest (no sha256= prefix)": {"X-Calendence-Signature": genuine.removeprefix("sha256=")},
        "signed without the whsec_ prefix": {"X-Calendence-Signature": sign(secret.removeprefix("whsec_"), body)},
        "only in the Previous header, wrong": {"X-Calendence-Signature-Previous": sign("whsec_other", body)},
    }
    for name, headers in forgeries.items():
        assert post(receiver.url, body, headers) == 401, f"{language} receiver accepted a request {name}"
    tampered = body.replace(b'"Jane"', b'"Mallory"')
    assert tampered != body
    assert post(receiver.url, tampered, {"X-Calendence-Signature": genuine}) == 401, "accepted a tampered body"

    # The genuine request again (a retry): acknowledged, but not handled twice.
    assert post(receiver.url, body, {"X-Calendence-Signature": genuine}) == 200
    # A later event, sent after the replay, proves the receiver is past it; then count.
    response = tenant.client.post(
        f"/api/v1/webhooks/{webhook['id']}/test", {"event": "booking.cancelled"}, format="json"
    )
    assert response.status_code == 202, response.content
    later_type, later_id = receiver.wait_verified()
    assert (later_type, later_id) != (event_type, event_id)
    assert later_type == "booking.cancelled"
    assert receiver.verified_lines() == [(event_type, event_id), (later_type, later_id)]
    assert wait_until(lambda: all(d["status"] == "succeeded" for d in deliveries_of(tenant, webhook)))


@pytest.mark.parametrize("language", LANGUAGES)
def test_example_receiver_keeps_verifying_with_the_old_secret_during_a_rotation(
    language, celery_worker, tenant, start_receiver, settings
):
    """docs/receiving.md says: during the grace period, accept either header. The examples do."""
    settings.WEBHOOK_MAX_ATTEMPTS = 1  # the last delivery is meant to fail: no retries
    port = free_port()
    webhook = register_webhook(tenant, f"http://127.0.0.1:{port}/webhooks")
    old_secret = webhook["secret"]
    receiver = start_receiver(language, port, old_secret)

    rotated = tenant.client.post(
        f"/api/v1/webhooks/{webhook['id']}/rotate-secret", {"grace_seconds": 3600}, format="json"
    )
    assert rotated.status_code == 200, rotated.content
    assert rotated.json()["secret"] != old_secret

    response = tenant.client.post(f"/api/v1/webhooks/{webhook['id']}/test", {"event": "booking.created"}, format="json")
    assert response.status_code == 202, response.content
    event_type, event_id = receiver.wait_verified()
    assert event_type == "booking.created"
    assert wait_until(lambda: deliveries_of(tenant, webhook)[0]["status"] != "pending")
    [delivery] = deliveries_of(tenant, webhook)
    assert (delivery["status"], delivery["event_id"]) == ("succeeded", event_id)
    assert [(a["number"], a["status_code"]) for a in delivery["attempts"]] == [(1, 200)]

    # And with the grace period over, the old secret no longer passes: rotate again at once.
    rotated = tenant.client.post(f"/api/v1/webhooks/{webhook['id']}/rotate-secret", {"grace_seconds": 0}, format="json")
    assert rotated.status_code == 200, rotated.content
    response = tenant.client.post(f"/api/v1/webhooks/{webhook['id']}/test", {"event": "booking.created"}, format="json")
    assert response.status_code == 202, response.content
    delivery_id = response.json()["delivery_id"]

    def first_attempt_status():
        attempts = tenant.client.get(f"/api/v1/deliveries/{delivery_id}").json()["attempts"]
        return attempts[0]["status_code"] if attempts and attempts[0]["status_code"] is not None else None

    assert wait_until(lambda: first_attempt_status() is not None)
    assert first_attempt_status() == 401
    assert [line for line in receiver.verified_lines() if line[1] != event_id] == []
