"""The benchmark's running parts: database, receiver, workers, beat, web, and load processes.

One Harness per invocation. The runner process itself runs Django on the bench
database (the same environment as every subprocess), to make tenants and endpoints
through the services and to count rows.
"""

import json
import os
import secrets
import socket
import sys
import time
import urllib.request
from pathlib import Path

from bench import config
from bench.infra import BenchDatabase, Process, process_env
from bench.measure import UsageSampler
from bench.peerside import Peer
from bench.receiver import ReceiverClient

READY_TIMEOUT = 90.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _json_line(text: str) -> dict:
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"no JSON result in:\n{text[-2000:]}")


class Harness:
    def __init__(self, size: config.Size, work_dir: Path, db_suffix: str, receiver_processes: int,
                 peer_venv: Path = config.PEER_VENV):
        self.size = size
        self.work_dir = work_dir
        self.log_dir = work_dir / "logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for old_log in self.log_dir.glob("*.log"):  # the logs of the latest invocation only
            old_log.unlink()
        self.queue = f"calendence-bench-{secrets.token_hex(4)}"
        self.database = BenchDatabase(work_dir, db_suffix)
        self.peer = Peer(work_dir, db_suffix, peer_venv, self.log_dir)  # set up only if the peer runs
        self.env = process_env(self.database, work_dir / "var", self.queue)
        self.receiver_processes = receiver_processes
        self.sampler = UsageSampler()
        self.workers: list[Process] = []
        self.beat: Process | None = None
        self.receiver: ReceiverClient | None = None
        self._tenants = 0

    # --- Once per invocation -----------------------------------------------------------------

    def start(self) -> None:
        (self.work_dir / "var").mkdir(parents=True, exist_ok=True)
        os.environ.update(self.env)  # this process's Django: the same settings as the workers'
        for name in set(os.environ) - set(self.env):  # CELERY_BROKER_WRITE_URL, an empty broker URL
            os.environ.pop(name)
        self.database.create_template(self.env, self.log_dir / "migrate.log")
        self.database.recreate()
        import django

        django.setup()
        self._start_receiver()
        self.sampler.start()

    def _start_receiver(self) -> None:
        port = free_port()
        control_ports = [free_port() for _ in range(self.receiver_processes)]
        for number, control_port in enumerate(control_ports, 1):
            argv = [sys.executable, "-m", "bench.receiver", "--port", str(port), "--control-port", str(control_port)]
            if self.receiver_processes > 1:
                argv.append("--reuse-port")
            process = Process(f"receiver{number}", argv, self.env, self.log_dir / f"receiver{number}.log")
            process.wait_ready("receiver ready", timeout=30)
            self.sampler.watch(process.name, process.pid)
        self.receiver = ReceiverClient(port, control_ports)

    def close(self, keep_database: bool = False) -> None:
        self.sampler.stop()
        self.stop_workers()
        self.stop_beat()
        self.purge_queue(delete=True)
        try:
            self.peer.close(keep_database=keep_database)
        except Exception as exc:  # noqa: BLE001 - cleanup goes on
            print(f"bench: could not clean up the peer: {exc}", file=sys.stderr)
        if not keep_database:
            try:
                self.database.drop()
            except Exception as exc:  # noqa: BLE001 - cleanup goes on
                print(f"bench: could not drop {self.database.description}: {exc}", file=sys.stderr)

    # --- Per run ----------------------------------------------------------------------------------

    def fresh_run(self) -> None:
        """A clean database, an empty queue, and beat and the workers (re)started."""
        self.stop_workers()
        self.stop_beat()
        self.purge_queue()
        self.database.recreate()
        self.start_beat()
        self.start_workers()

    def purge_queue(self, *, delete: bool = False) -> None:
        """Empty the run's queue (its messages name rows of a database that is gone); at the end, delete it."""
        from calendence.celery import app

        try:
            app.control.purge()
            if delete:
                delete_queue(self.queue)
        except Exception as exc:  # noqa: BLE001 - housekeeping
            print(f"bench: could not purge {self.queue}: {exc}", file=sys.stderr)

    # --- Production processes -------------------------------------------------------------------

    def start_workers(self) -> None:
        """docker-compose.yml's worker command, as many replicas as it runs."""
        if self.workers:
            return
        for number in range(1, config.worker_replicas() + 1):
            name = f"worker{number}"
            self.workers.append(Process(name, config.worker_command(), self.env, self.log_dir / f"{name}.log"))
        for worker in self.workers:
            worker.wait_ready(" ready.", timeout=READY_TIMEOUT)
            self.sampler.watch(worker.name, worker.pid)

    def stop_workers(self) -> None:
        for worker in self.workers:
            self.sampler.unwatch(worker.name)
            worker.stop()
        self.workers = []

    def start_beat(self) -> None:
        if self.beat is None:
            self.beat = Process("beat", config.beat_command(), self.env, self.log_dir / "beat.log")
            self.beat.wait_ready("beat: Starting...", timeout=READY_TIMEOUT)

    def stop_beat(self) -> None:
        if self.beat is not None:
            self.beat.stop()
            self.beat = None

    def start_web(self, **env) -> tuple[Process, str]:
        """docker-compose.yml's web command (gunicorn), on a free loopback port, with `env` added to
        the environment; ready at /healthz."""
        port = free_port()
        web = Process("web", config.web_command(port), {**self.env, **env}, self.log_dir / "web.log")
        base = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2) as answer:
                    return answer.status == 200
            except OSError:
                return False

        deadline = time.monotonic() + READY_TIMEOUT
        while not healthy():
            if not web.alive() or time.monotonic() > deadline:
                web.stop()
                raise RuntimeError(f"the web server did not come up; see {web.log_path}")
            time.sleep(0.1)
        return web, base

    # --- Tenants, through the services --------------------------------------------------------

    def tenant(self, endpoints: int, slow: int = 0) -> tuple[object, list]:
        """A Growth Pro business with a location, a service, and `endpoints` webhooks at the receiver
        (the last `slow` of them answering slowly). Returns the business and its endpoint ids."""
        from bookings.models import Business
        from bookings.services import location_create, service_create
        from webhooks.event_types import EVENT_TYPES
        from webhooks.services import webhook_endpoint_create

        self._tenants += 1
        business = Business.objects.create(name=f"Bench {self._tenants}", plan=Business.Plan.GROWTH_PRO)
        location_create(business=business, name="Main Shop")
        service_create(business=business, name="Express Wash")
        owner = _business_key(business)
        secrets_by_url, ids = {}, []
        for number in range(endpoints):
            url = self.receiver.url(f"t{self._tenants}e{number}", slow=number >= endpoints - slow)
            endpoint = webhook_endpoint_create(owner=owner, url=url, events=list(EVENT_TYPES))
            secrets_by_url[url] = endpoint.secret
            ids.append(endpoint.id)
        self.receiver.set_secrets(secrets_by_url)
        return business, ids

    # --- Load processes -------------------------------------------------------------------------

    def create_bookings(self, business, count: int, *, rate: float = 0.0, processes: int = 1) -> dict:
        """Bookings made by separate processes (bench.load) through booking_create; waits for them."""
        start_at = time.time() + 3.0  # after their Django set-up, all together
        shares = [count // processes + (i < count % processes) for i in range(processes)]
        loads = [
            Process(f"load{n}", [sys.executable, "-m", "bench.load", "--business", str(business.id),
                                 "--count", str(share), "--rate", str(rate / processes if rate else 0),
                                 "--start-at", str(start_at), "--tag", f"{business.id.hex[:8]}-{n}"],
                    self.env, self.log_dir / f"load{n}.log")
            for n, share in enumerate(shares) if share
        ]
        for load in loads:
            try:
                load.popen.wait(timeout=120 + (count / rate if rate else count / 5))
            finally:
                load.stop()
            if load.popen.returncode != 0:
                raise RuntimeError(f"{load.name} failed; see {load.log_path}")
        results = [_json_line(load.log_text()) for load in loads]
        first, last = min(r["first_commit"] for r in results), max(r["last_commit"] for r in results)
        return {"count": count, "first_commit": first, "last_commit": last,
                "cpu_seconds": round(sum(r["cpu_seconds"] for r in results), 2),
                "worst_lag_s": max(r["worst_lag_s"] for r in results)}

    def send_bare(self, url: str, secret: str, count: int) -> list[dict]:
        """The bare sender loop: one process per worker replica, SENDER_THREADS threads each."""
        replicas, threads = config.worker_replicas(), config.SENDER_THREADS
        start_at = time.time() + 2.0
        shares = [count // replicas + (i < count % replicas) for i in range(replicas)]
        senders = [
            Process(f"sender{n}", [sys.executable, "-m", "bench.sender", "--url", url, "--secret", secret,
                                   "--count", str(share), "--threads", str(threads), "--start-at", str(start_at)],
                    self.env, self.log_dir / f"sender{n}.log")
            for n, share in enumerate(shares) if share
        ]
        for sender in senders:
            try:
                sender.popen.wait(timeout=120 + count / 20)
            finally:
                sender.stop()
        return [_json_line(sender.log_text()) for sender in senders]


def delete_queue(queue: str) -> None:
    """Delete a queue on the bench's broker (on Redis, its binding too)."""
    from calendence.celery import app

    with app.connection_for_write() as connection:
        channel = connection.default_channel
        channel.queue_delete(queue)
        if hasattr(channel, "client") and hasattr(channel, "keyprefix_queue"):
            channel.client.delete(channel.keyprefix_queue % queue)


def _business_key(business):
    from bookings.api_keys import api_key_issue

    return api_key_issue(business=business, name="bench").api_key


def business_key(business) -> str:
    """A new API key of the business, in clear (for the API scenario)."""
    from bookings.api_keys import api_key_issue

    return api_key_issue(business=business, name="bench").key
