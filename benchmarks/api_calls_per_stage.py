"""Count the Prefect API calls one stage transition makes, and the server's CPU for them.

Run: .venv/bin/python benchmarks/api_calls_per_stage.py [--cases 3] [--transitions 1]
         [--idle 12] [--settle 6] [--poll 1] [--reaper] [--json FILE] [--trace FILE]

Starts a real Prefect server and `safepassage serve` in a temporary home, with a counting
reverse proxy between them: `serve` (and so the flow-run processes it starts) and this script
are pointed at the proxy through PREFECT_API_URL, the proxy forwards every byte to the server.
Each case (examples/bg-eligible.json, a new person each time) is taken in and left to reach its
first checkpoint (travel-document); then each transition is measured, from the resume (as
`safepassage resume` does it) to the run suspended at the next checkpoint with its flow-run
process gone, plus `--settle` seconds: what the runner does after the process ends, and the
server's batched writes of the events (at least every 5 s). Serve's orphan reaper sweeps once an
hour here (its 9 calls every 15 s are per time, not per transition; `--reaper` keeps them).

The proxy counts HTTP requests by method and route template, and the messages sent on a
websocket (Prefect's events: task-run state changes, heartbeats) by event name, and tells who
sent each from the client's socket: `serve` (the runner's polling, the orphan reaper), a
`flow run` process (a child of `serve`), or the `driver` (this script: the resume, as the CLI).
The server's CPU is utime + stime of its process tree from /proc, over the transition, shown
as measured and net of the idle rate: over `--idle` seconds with every case waiting (the
runner's polling and the server's own loops). `--trace` writes every call in order, with the
start of its body (an event's resource name), to see where each comes from.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


# -- who is on the other end of a connection ---------------------------------------------------


def _parent_of(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def descendants(root: int) -> set[int]:
    """Return the pids of `root`'s process tree, `root` included."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (parent := _parent_of(int(entry.name))) is not None:
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        found.add(pid)
        todo += children.get(pid, [])
    return found


def cpu_seconds(root: int) -> float:
    """Return utime + stime (seconds) of `root` and its live descendants."""
    total = 0
    for pid in descendants(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / TICKS


def pid_of_peer(peer_port: int, local_port: int) -> int | None:
    """Return the pid whose socket 127.0.0.1:`peer_port` is connected to our `local_port`."""
    wanted_local = f"0100007F:{peer_port:04X}"
    wanted_remote = f"0100007F:{local_port:04X}"
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        if parts[1] == wanted_local and parts[2] == wanted_remote:
            inode = parts[9]
            break
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) == target:
                    return int(entry.name)
        except OSError:
            continue
    return None


# -- the counting proxy --------------------------------------------------------------------------


def route_of(method: str, target: str) -> str:
    """Return `METHOD /route/{id}` for a request target: ids and names replaced by templates."""
    path = target.split("?", 1)[0]
    path = UUID_RE.sub("{id}", path)
    path = re.sub(r"/input/(?!filter$)[^/]+$", "/input/{key}", path)
    path = re.sub(r"/deployments/name/[^/]+/[^/]+$", "/deployments/name/{flow}/{name}", path)
    return f"{method} {path}"


@dataclass
class Call:
    """One request or websocket message the server received."""

    at: float
    who: str
    what: str
    #: The start of the request's body (for --trace).
    body: bytes = b""


@dataclass
class CountingProxy:
    """A TCP proxy to the Prefect server that records each request and websocket message."""

    upstream_port: int
    calls: list[Call] = field(default_factory=list)
    port: int = 0
    pids_seen: dict[int, float] = field(default_factory=dict)  # pid -> first connection (monotonic)
    #: Who a client pid is ("serve", "flow run", "driver"), decided when it connects.
    classify: Callable[[int | None], str] = lambda pid: "other"
    _loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> CountingProxy:
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            server = self._loop.run_until_complete(
                asyncio.start_server(self._connection, "127.0.0.1", 0)
            )
            self.port = server.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()

        threading.Thread(target=run, daemon=True, name="counting-proxy").start()
        ready.wait(10)
        return self

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer_port = writer.get_extra_info("peername")[1]
        pid = pid_of_peer(peer_port, self.port)
        if pid is not None:
            self.pids_seen.setdefault(pid, time.monotonic())
        who = self.classify(pid)
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.close()
            return
        back = asyncio.ensure_future(self._pipe(up_reader, writer))
        try:
            await self._requests(reader, up_writer, who)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            up_writer.close()
            await back
            writer.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _requests(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, who: str
    ) -> None:
        """Forward HTTP/1.1 requests one by one, then websocket frames after an upgrade."""
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {
                name.strip().lower(): value.strip()
                for name, _, value in (line.partition(":") for line in lines[1:] if line)
            }
            writer.write(head)
            if headers.get("upgrade", "").lower() == "websocket":
                self.calls.append(Call(time.monotonic(), who, f"WS {route_of('GET', target)}"))
                await writer.drain()
                await self._frames(reader, writer, who, target)
                return
            call = Call(time.monotonic(), who, route_of(method, target))
            self.calls.append(call)
            if headers.get("transfer-encoding", "").lower() == "chunked":
                while True:
                    size_line = await reader.readuntil(b"\r\n")
                    size = int(size_line.split(b";")[0], 16)
                    chunk = await reader.readexactly(size + 2)
                    call.body += chunk[:300]
                    writer.write(size_line + chunk)
                    if size == 0:
                        break
            elif length := int(headers.get("content-length", "0")):
                body = await reader.readexactly(length)
                call.body = target.encode() + b" " + body[:300]
                writer.write(body)
            else:
                call.body = target.encode()
            await writer.drain()

    async def _frames(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        who: str,
        target: str,
    ) -> None:
        """Forward websocket frames; record each message by its event name (or its type)."""
        inflate = zlib.decompressobj(-15)  # permessage-deflate, context kept across messages
        message, compressed = b"", False
        path = target.split("?", 1)[0].removeprefix("/api")
        while True:
            header = await reader.readexactly(2)
            fin, rsv1, opcode = header[0] & 0x80, header[0] & 0x40, header[0] & 0x0F
            masked, length = header[1] & 0x80, header[1] & 0x7F
            extra = b""
            if length == 126:
                extra = await reader.readexactly(2)
                length = int.from_bytes(extra, "big")
            elif length == 127:
                extra = await reader.readexactly(8)
                length = int.from_bytes(extra, "big")
            mask = await reader.readexactly(4) if masked else b""
            payload = await reader.readexactly(length)
            writer.write(header + extra + mask + payload)
            await writer.drain()
            if opcode >= 0x8:  # close, ping, pong
                if opcode == 0x8:
                    return
                continue
            if opcode in (1, 2):
                message, compressed = b"", bool(rsv1)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            message += payload
            if fin:
                name, body = self._name(inflate, message, compressed)
                self.calls.append(Call(time.monotonic(), who, f"WS {path} {name}", body[:300]))

    @staticmethod
    def _name(inflate: Any, message: bytes, compressed: bool) -> tuple[str, bytes]:
        """Return a message's name (its event's, or its type) and its text."""
        try:
            if compressed:
                message = inflate.decompress(message + b"\x00\x00\xff\xff")
            body = json.loads(message)
        except (zlib.error, ValueError):
            return "message", message
        if isinstance(body, dict):
            if "event" in body:
                resource = body.get("resource", {}).get("prefect.resource.name", "")
                return f"event {body['event']}", f"{resource}".encode()
            if "type" in body:
                return f"{body['type']} message", b""
        return "message", message


# -- the run ------------------------------------------------------------------------------------


@dataclass
class Window:
    """What the server received and spent between two moments."""

    calls: Counter[tuple[str, str]]
    seconds: float
    server_cpu: float
    trace: list[Call]


class Bench:
    """A server, a proxy, `serve`, and the cases this benchmark drives through them."""

    def __init__(self, home: Path, args: argparse.Namespace) -> None:
        from safepassage.demo.background import free_port
        from safepassage.deployments.server_process import ServerProcess

        self.args = args
        port = free_port()
        env = {
            "SAFEPASSAGE_HOME": str(home),
            "SAFEPASSAGE_MASTER_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
            "SAFEPASSAGE_RUNNER_POLL_SECONDS": str(args.poll),
            "PREFECT_HOME": str(home / "prefect"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        }
        if not args.reaper:  # its sweep (9 calls every 15 s) is per time, not per transition
            env["SAFEPASSAGE_REAPER_INTERVAL_SECONDS"] = "3600"
        os.environ.update(env)
        from safepassage.models.settings import get_settings
        from safepassage.orchestration.connection import apply_prefect_environment

        get_settings.cache_clear()
        # The settings `serve` would give everything (results, poll, heartbeats), so that the
        # server and the proxy see them as `serve` would have them.
        apply_prefect_environment(get_settings())
        self.server = ServerProcess.start(host="127.0.0.1", port=port, log_path=home / "server.log")
        self.proxy = CountingProxy(port).start()
        proxied = f"http://127.0.0.1:{self.proxy.port}/api"
        os.environ["PREFECT_API_URL"] = proxied
        from safepassage.orchestration.connection import use_api

        use_api(proxied)
        command = [sys.executable, "-m", "safepassage.cli.app", "serve"]
        command += ["--limit", "4", "--gateway-port", str(free_port())]
        log = (home / "serve.log").open("ab")
        self.proxy.classify = lambda pid: "driver" if pid == os.getpid() else "other"
        self.serve = subprocess.Popen(
            command, env=os.environ.copy(), stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        self.proxy.classify = self.who
        self._wait_ready(home)
        self.references: dict[str, str] = {}

    def _wait_ready(self, home: Path) -> None:
        from safepassage.demo.background import deployment_ready

        since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.serve.poll() is not None:
                raise RuntimeError(f"serve exited; see {home / 'serve.log'}")
            if deployment_ready(os.environ["PREFECT_API_URL"], since):
                return
            time.sleep(0.5)
        raise TimeoutError("serve was not ready in time")

    def stop(self) -> None:
        """Stop serve (and its flow-run processes), then the server: serve first, or it hangs."""
        if self.serve.poll() is None:
            os.killpg(self.serve.pid, signal.SIGINT)
            try:
                self.serve.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.serve.pid, signal.SIGKILL)
        self.server.stop()

    def who(self, pid: int | None) -> str:
        """Say who a client is: this script, `serve` itself, or one of its flow-run processes."""
        if pid == os.getpid():
            return "driver"
        if pid == self.serve.pid:
            return "serve"
        if pid is not None and pid in descendants(self.serve.pid):
            return "flow run"
        return "other"

    def take_in(self, n: int) -> str:
        from safepassage.models.intake import Intake
        from safepassage.models.rules import decide
        from safepassage.services.intake import take_in

        case_file = Intake.model_validate_json((ROOT / "examples" / "bg-eligible.json").read_text())
        decision = decide(case_file, today=dt.date.today())
        person = case_file.beneficiary.model_copy(update={"phone": f"+359 {n:09d}"})
        taken = take_in(case_file.model_copy(update={"beneficiary": person}), decision, actor="b")
        return str(taken["reference"])

    def waiting_at(self, reference: str, timeout: float = 300) -> str:
        from safepassage.services.checkpoints import case_status

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = case_status(reference)
            if status["waiting_for"]:
                return str(status["waiting_for"])
            if status["status"] == "ended":
                raise RuntimeError(f"{reference} ended at {status['stage']}")
            time.sleep(0.3)
        raise TimeoutError(f"{reference} never reached a checkpoint")

    def idle(self, seconds: float) -> Window:
        began, calls, cpu = time.monotonic(), len(self.proxy.calls), cpu_seconds(self.server.pid)
        time.sleep(seconds)
        return self._window(began, calls, cpu)

    def transition(self, reference: str, checkpoint: str) -> Window:
        """Resume `checkpoint`; return what happened until the next suspend and its process end."""
        from safepassage.demo.sample_answers import Scenario, sample_answer
        from safepassage.models.checkpoints import Checkpoint
        from safepassage.services.checkpoints import answer_checkpoint

        answer = sample_answer(
            Checkpoint(checkpoint), attempt=1, scenario=Scenario(), today=dt.date.today()
        )
        began, calls, cpu = time.monotonic(), len(self.proxy.calls), cpu_seconds(self.server.pid)
        answer_checkpoint(reference, answer, expected=checkpoint)
        self.wait_flow_runs_gone(since=began)
        time.sleep(self.args.settle)
        return self._window(began, calls, cpu)

    def wait_flow_runs_gone(self, *, since: float = 0.0, timeout: float = 300) -> None:
        """Wait until a flow-run process has connected since `since` and every one has ended.

        Nothing is asked of the server meanwhile: the processes are watched in /proc.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = [
                pid
                for pid, first in list(self.proxy.pids_seen.items())
                if first >= since and pid not in (os.getpid(), self.serve.pid)
            ]
            if runs and not any(Path(f"/proc/{pid}").exists() for pid in runs):
                return
            time.sleep(0.05)
        raise TimeoutError("the flow-run process never ended")

    def _window(self, began: float, first_call: int, cpu: float) -> Window:
        server_cpu = cpu_seconds(self.server.pid) - cpu
        seconds = time.monotonic() - began
        counted: Counter[tuple[str, str]] = Counter()
        trace = self.proxy.calls[first_call:]
        for call in trace:
            counted[(call.what, call.who)] += 1
        return Window(counted, seconds, server_cpu, trace)


def print_table(title: str, windows: list[Window], idle_rate: float) -> None:
    """Print route, mean count per transition, who; totals per who; the server's CPU.

    The CPU is shown as measured and net of the idle rate (`idle_rate` CPU-s per second: the
    runner's polling and the server's own loops) over the same time.
    """
    n = len(windows)
    total: Counter[tuple[str, str]] = Counter()
    for window in windows:
        total.update(window.calls)
    print(f"\n{title} ({n} measured)")
    width = max([len(what) for what, _ in total] + [20])
    print(f"  {'route / message':<{width}}  {'count':>6}  who")
    for (what, who), count in sorted(total.items(), key=lambda item: (item[0][1], item[0][0])):
        print(f"  {what:<{width}}  {_mean(count, n):>6}  {who}")
    by_who: Counter[str] = Counter()
    for (_, who), count in total.items():
        by_who[who] += count
    for who, count in sorted(by_who.items()):
        print(f"  {'total ' + who:<{width}}  {_mean(count, n):>6}")
    print(f"  {'total':<{width}}  {_mean(sum(total.values()), n):>6}")
    cpu = [w.server_cpu for w in windows]
    net = [w.server_cpu - idle_rate * w.seconds for w in windows]
    secs = [w.seconds for w in windows]
    print(
        f"  server CPU: median {statistics.median(cpu):.2f} s over {statistics.median(secs):.1f} s;"
        f" net of idle {statistics.median(net):.2f} s (each: {', '.join(f'{c:.2f}' for c in net)})"
    )


def _mean(count: int, n: int) -> str:
    value = count / n
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"


def summary(windows: list[Window]) -> dict[str, Any]:
    total: Counter[str] = Counter()
    for window in windows:
        for (what, who), count in window.calls.items():
            total[f"{who}: {what}"] += count
    return {
        "per_transition": {key: value / len(windows) for key, value in sorted(total.items())},
        "server_cpu_s": [w.server_cpu for w in windows],
        "seconds": [w.seconds for w in windows],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=3)
    parser.add_argument("--transitions", type=int, default=1, help="consecutive, per case")
    parser.add_argument("--idle", type=float, default=12.0, help="seconds of idle baseline")
    # The server persists events in batches at least every 5 s: wait for the batch to count it.
    parser.add_argument("--settle", type=float, default=6.0, help="seconds after the process")
    parser.add_argument("--reaper", action="store_true", help="keep serve's reaper at 15 s")
    parser.add_argument("--poll", type=int, default=1)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--trace", type=Path, help="write each call of each transition here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-api-calls-") as tmp:
        home = Path(tmp) / "home"  # its key ring, `<home>-keys`, goes in the temporary folder too
        home.mkdir(mode=0o700)
        bench = Bench(home, args)
        try:
            references = [bench.take_in(n) for n in range(args.cases)]
            at = {reference: bench.waiting_at(reference) for reference in references}
            bench.wait_flow_runs_gone()
            time.sleep(args.settle)
            idle = bench.idle(args.idle)
            windows: dict[str, list[Window]] = {}
            for reference in references:
                for _ in range(args.transitions):
                    checkpoint = at[reference]
                    window = bench.transition(reference, checkpoint)
                    at[reference] = bench.waiting_at(reference)
                    label = f"{checkpoint} -> {at[reference]}"
                    windows.setdefault(label, []).append(window)
            idle_rate = idle.server_cpu / idle.seconds
            print_table(f"idle {args.idle:.0f} s, every case waiting", [idle], 0.0)
            for label, measured in windows.items():
                print_table(f"transition {label}", measured, idle_rate)
            if args.trace:
                with args.trace.open("w") as out:
                    for label, measured in windows.items():
                        for window in measured:
                            out.write(f"== {label}\n")
                            start = window.trace[0].at if window.trace else 0.0
                            for call in window.trace:
                                body = call.body.decode(errors="replace").replace("\n", " ")
                                out.write(
                                    f"{call.at - start:7.3f} {call.who:8} {call.what}  {body}\n"
                                )
            if args.json:
                args.json.write_text(
                    json.dumps(
                        {
                            "args": {k: str(v) for k, v in vars(args).items()},
                            "idle": summary([idle]),
                            **{label: summary(m) for label, m in windows.items()},
                        },
                        indent=2,
                    )
                )
        finally:
            bench.stop()
    os._exit(0)  # prefect's background threads would hold the exit


if __name__ == "__main__":
    main()
