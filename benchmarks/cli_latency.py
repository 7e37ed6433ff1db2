"""Measure how long a coordinator waits on `--help`, `status REF`, `case REF` and `cases`.

Run: .venv/bin/python benchmarks/cli_latency.py [--runs 5] [--bytecode env|cached|both]
         [--target 0.5]

Starts `safepassage serve` (its own Prefect server, free ports) in a temporary home, takes in
one example case and waits until its run is suspended at its first checkpoint, then runs each
command `--runs` times as a coordinator would (the installed `safepassage`, a new process each
time, after one untimed run) and prints the median, fastest and slowest wall time, the median
CPU time, and the ratios to `python -c pass` and to the floor (importing SQLAlchemy's ORM,
pydantic-settings, Typer and Rich alone, which any command reading the store pays), both
measured in the same run. `status` is measured against the running server and, as a
coordinator would meet it, with none. Then the JSON, also written to
benchmarks/results/cli-latency-<time>.json.

Bytecode: with PYTHONDONTWRITEBYTECODE set (some sandboxes set it), every command compiles
SafePassage's own modules anew. `env` measures the environment as it is; `cached` lets Python
cache bytecode (in a folder of the temporary home); `both` measures each when they differ.
The figures are wall time on a shared machine: the load average is printed beside them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
COMMAND = str(Path(sys.executable).with_name("safepassage"))
EXAMPLE = ROOT / "examples" / "ro-eligible.json"
#: The imports every store-reading command needs, whatever SafePassage does: a reference row.
FLOOR = "import sqlalchemy.orm, pydantic_settings, typer, rich.table"
#: How long the example case may take to reach its first checkpoint.
WAIT_SECONDS = 180.0


def _timed(argv: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """Run `argv` once; return its wall time, its CPU time (user + system) and exit code."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    completed = subprocess.run(
        argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, check=False
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, completed.returncode


def measure(name: str, argv: list[str], env: dict[str, str], runs: int) -> dict[str, Any]:
    """Run `argv` once untimed, then `runs` times; return its figures."""
    _timed(argv, env)  # the first run creates what a first run creates (bytecode, key ring)
    walls, cpus, codes = [], [], set()
    for _ in range(runs):
        wall, cpu, code = _timed(argv, env)
        walls.append(wall)
        cpus.append(cpu)
        codes.add(code)
    return {
        "command": name,
        "runs": runs,
        "median_s": statistics.median(walls),
        "min_s": min(walls),
        "max_s": max(walls),
        "median_cpu_s": statistics.median(cpus),
        "exit_codes": sorted(codes),
    }


def _run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [COMMAND, *args], env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        check=False, timeout=120,
    )  # fmt: skip


def take_in_and_wait(env: dict[str, str]) -> str:
    """Take in the example case; return its reference once its run waits at a checkpoint."""
    taken = _run_cli(env, "intake", str(EXAMPLE), "--json")
    if taken.returncode != 0:
        raise SystemExit(f"intake failed ({taken.returncode}): {taken.stderr.strip()}")
    reference = str(json.loads(taken.stdout)["reference"])
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        status = _run_cli(env, "status", reference, "--json")
        if status.returncode == 0 and json.loads(status.stdout)["waiting_for"]:
            return reference
        time.sleep(1)
    raise SystemExit(f"{reference} did not reach a checkpoint in {WAIT_SECONDS:.0f} s")


def bytecode_modes(choice: str, home: Path, env: dict[str, str]) -> dict[str, dict[str, str]]:
    """Return the environments to measure in, by name."""
    cached = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
    cached["PYTHONPYCACHEPREFIX"] = str(home / "pycache")
    modes = {"env": env, "cached": cached}
    if choice == "both":
        return modes if env.get("PYTHONDONTWRITEBYTECODE") else {"env": env}
    return {choice: modes[choice]}


def print_table(mode: str, rows: list[dict[str, Any]], target: float) -> None:
    """Print one mode's figures as a table, with ratios to `python -c pass` and to the floor."""
    base = next(r for r in rows if r["command"] == "python -c pass")["median_s"]
    floor = next(r for r in rows if r["command"].startswith("floor"))["median_s"]
    print(f"\nbytecode: {mode}")
    print(f"{'command':<24}{'median s':>10}{'min s':>8}{'max s':>8}{'cpu s':>8}"
          f"{'x python':>10}{'x floor':>9}  under {target} s")  # fmt: skip
    for row in rows:
        row["ratio_to_python"] = row["median_s"] / base
        row["ratio_to_floor"] = row["median_s"] / floor
        row["under_target"] = row["median_s"] < target
        print(
            f"{row['command']:<24}{row['median_s']:>10.3f}{row['min_s']:>8.3f}"
            f"{row['max_s']:>8.3f}{row['median_cpu_s']:>8.3f}{row['ratio_to_python']:>10.1f}"
            f"{row['ratio_to_floor']:>9.2f}  {'yes' if row['under_target'] else 'NO'}"
        )


def main() -> None:
    """Start a server in a temporary home, measure the commands, stop the server."""
    parser = argparse.ArgumentParser(description="How long the coordinator's commands take.")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per command (median)")
    parser.add_argument("--bytecode", choices=["env", "cached", "both"], default="both")
    parser.add_argument("--target", type=float, default=0.5, help="seconds, for the table")
    args = parser.parse_args()

    from safepassage.demo.background import BackgroundServe, free_port

    with tempfile.TemporaryDirectory(prefix="cli-latency-") as tmp:
        home = Path(tmp)
        # Only this home's settings: no PREFECT_API_URL, so the commands find the server as a
        # coordinator's do, through the address `serve` records in the home.
        for name in list(os.environ):
            if name.startswith(("SAFEPASSAGE_", "PREFECT_")):
                del os.environ[name]
        os.environ.update(
            {"SAFEPASSAGE_HOME": str(home / "sp"), "PREFECT_HOME": str(home / "sp" / "prefect")}
        )
        env = dict(os.environ)
        idle = {**env, "SAFEPASSAGE_HOME": str(home / "idle")}  # a home no server runs for
        serving = BackgroundServe.start(port=free_port(), log_path=home / "serve.log", limit=2)
        try:
            reference = take_in_and_wait(env)
            load_before = os.getloadavg()
            results: dict[str, list[dict[str, Any]]] = {}
            for mode, mode_env in bytecode_modes(args.bytecode, home, env).items():
                idle_env = {**mode_env, "SAFEPASSAGE_HOME": idle["SAFEPASSAGE_HOME"]}
                commands = [
                    ("python -c pass", [sys.executable, "-c", "pass"], mode_env),
                    # What every command that reads the store pays at least: how fast the
                    # machine is right now (a shared one varies by a third within minutes).
                    ("floor (imports only)", [sys.executable, "-c", FLOOR], mode_env),
                    ("--help", [COMMAND, "--help"], mode_env),
                    ("status REF", [COMMAND, "status", reference], mode_env),
                    ("case REF", [COMMAND, "case", reference], mode_env),
                    ("cases", [COMMAND, "cases"], mode_env),
                    ("status REF (no server)", [COMMAND, "status", reference], idle_env),
                ]
                results[mode] = [measure(n, argv, e, args.runs) for n, argv, e in commands]
            load_after = os.getloadavg()
        finally:
            serving.stop()
    for mode, rows in results.items():
        print_table(mode, rows, args.target)
    print(f"\nload average (1, 5, 15 min): before {load_before}, after {load_after}")
    report = {
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "python": sys.version.split()[0],
        "load_before": load_before,
        "load_after": load_after,
        "target_s": args.target,
        "results": results,
    }
    print(json.dumps(report, indent=2))
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"cli-latency-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
