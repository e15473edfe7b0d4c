"""Sweeps on real Dask clusters: embedded LocalCluster, separate scheduler + worker processes, faults, resume.

Every sweep here is tiny (a few epochs on a few dozen samples); what costs time is starting worker
processes, which import numpy, python-control and the compiled kernels once each.
"""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

distributed = pytest.importorskip("distributed")

from blockloop.cli import main  # noqa: E402
from blockloop.errors import ParameterError  # noqa: E402
from blockloop.study.sweep.config import load_config, normalize_run, parse_config  # noqa: E402
from blockloop.study.sweep.runner import run_sweep  # noqa: E402
from blockloop.study.sweep.store import SweepStore  # noqa: E402
from blockloop.study.sweep.trial import run_trial  # noqa: E402

# 2 inits × 2 seeds + one run whose loss overflows at epoch 2: 4 completed, 1 diverged.
TINY = """name = "tiny"
[base]
epochs = 3
steps = 40
[grid]
init = ["computed", "random"]
seed = [0, 1]
[[runs]]
lr0 = 1e300
"""


def tiny(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY, encoding="utf-8")
    return path


def stored(path) -> list[dict]:
    with SweepStore(path, readonly=True) as store:
        return store.rows()


@pytest.fixture(scope="module")
def cluster():
    """A LocalCluster of 2 worker processes (1 thread each), warmed up, shared by the tests that pass its address."""
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address="127.0.0.1:0")   # not 8787, which others may hold
    with distributed.Client(cluster) as client:
        client.run(run_trial, normalize_run({"epochs": 1, "steps": 10}))   # imports and kernels, once per worker
    yield cluster
    cluster.close()


@pytest.fixture(scope="module")
def threads():
    """A LocalCluster whose 2 workers are threads of this process: starts in a second, shares this process's imports."""
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                       dashboard_address="127.0.0.1:0")
    yield cluster
    cluster.close()


def check_tiny(rows, plan, worker="tcp://127.0.0.1:"):
    by_config = {(r["init"], r["seed"], r["lr0"]): r for r in rows}
    assert len(rows) == 5 and {r["hash"] for r in rows} == set(plan.hashes)
    assert by_config[("computed", 0, 1e300)]["status"] == "diverged"
    assert "loss is inf" in by_config[("computed", 0, 1e300)]["error"]
    for seed in (0, 1):
        assert by_config[("computed", seed, 1e-4)]["status"] == "completed"
        assert by_config[("computed", seed, 1e-4)]["near_linear"] is True        # gates pinned at ±100
        assert by_config[("random", seed, 0.04)]["near_linear"] is False          # rand biases in [0, 1)
    assert all(r["worker"].startswith(worker) for r in rows)          # the Dask worker that ran it


@pytest.mark.slow
def test_embedded_local_cluster_with_two_workers_from_the_cli(tmp_path, capsys):
    store = tmp_path / "tiny.sqlite"
    assert main(["sweep", str(tiny(tmp_path)), "--workers", "2", "--store", str(store), "--json"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert {k: out[k] for k in ("runs", "completed", "diverged", "failed", "executed", "store", "workers")} == {
        "runs": 5, "completed": 4, "diverged": 1, "failed": 0, "executed": 5, "store": str(store), "workers": 2}
    # stderr is captured, not a terminal: the tqdm bar stays silent, the one-line summary is kept
    assert "5/5" not in captured.err and "local Dask cluster of 2 workers" in captured.err
    rows = stored(store)
    check_tiny(rows, load_config(tiny(tmp_path)))
    # the numbers do not depend on where a run ran: the same as in this process
    here = run_trial(normalize_run({"init": "random", "seed": 1, "epochs": 3, "steps": 40}))["metrics"]
    (there,) = [r for r in rows if (r["init"], r["seed"]) == ("random", 1)]
    assert there["final_loss"] == here["final_loss"] and there["metrics"]["rel_dist"] == here["rel_dist"]


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.mark.slow
def test_the_same_sweep_on_a_separately_started_scheduler_and_workers(tmp_path, capsys):
    info = tmp_path / "scheduler.json"
    procs = [subprocess.Popen([sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port", "0",
                               "--dashboard-address", "127.0.0.1:0", "--scheduler-file", str(info)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        wait_for(lambda: info.is_file() and info.stat().st_size > 0, 60, "the scheduler file")
        address = json.loads(info.read_text())["address"]
        procs.append(subprocess.Popen([sys.executable, "-m", "dask", "worker", address, "--nthreads", "1",
                                       "--nworkers", "2", "--host", "127.0.0.1", "--no-dashboard"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        with distributed.Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=120)
        store = tmp_path / "remote.sqlite"
        assert main(["sweep", str(tiny(tmp_path)), "--scheduler", address, "--store", str(store), "--json",
                     "--no-progress"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert (out["runs"], out["completed"], out["diverged"], out["failed"], out["store"], out["scheduler"],
                out["workers"]) == (5, 4, 1, 0, str(store), address, 2)
        rows = stored(store)
        check_tiny(rows, load_config(tiny(tmp_path)))
        here = run_trial(normalize_run({"init": "computed", "seed": 0, "epochs": 3, "steps": 40}))["metrics"]
        (there,) = [r for r in rows if (r["init"], r["seed"], r["lr0"]) == ("computed", 0, 1e-4)]
        assert there["final_loss"] == here["final_loss"] and there["dcgain"] == here["dcgain"]
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in reversed(procs):
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


def test_a_tiny_sweep_on_a_local_cluster_stores_every_run_once(threads, tmp_path):
    plan = load_config(tiny(tmp_path))
    summary = run_sweep(plan, tmp_path / "s.sqlite", scheduler=threads.scheduler_address)
    assert (summary.runs, summary.completed, summary.diverged, summary.failed, summary.executed,
            summary.workers) == (5, 4, 1, 0, 5, 2)
    check_tiny(stored(tmp_path / "s.sqlite"), plan, worker="inproc://")


def test_dask_retries_a_run_that_raised_and_records_one_that_keeps_failing(threads, tmp_path, monkeypatch):
    from blockloop.study.sweep import trial

    calls = {}
    real = trial._train_and_measure

    def flaky(cfg, *args):  # seed 0 fails on its first attempt only; seed 1 always
        calls[cfg["seed"]] = calls.get(cfg["seed"], 0) + 1
        if cfg["seed"] == 1 or calls[cfg["seed"]] == 1:
            raise RuntimeError(f"flaky machine, attempt {calls[cfg['seed']]}")
        return real(cfg, *args)

    monkeypatch.setattr(trial, "_train_and_measure", flaky)   # the workers are threads of this process
    plan = parse_config({"retries": 2, "base": {"epochs": 2, "steps": 30}, "grid": {"seed": [0, 1]}})
    summary = run_sweep(plan, tmp_path / "s.sqlite", scheduler=threads.scheduler_address)
    assert calls == {0: 2, 1: 3}                                # 1 + retries attempts for the hopeless one
    assert (summary.completed, summary.failed) == (1, 1)
    bad = {r["seed"]: r for r in stored(tmp_path / "s.sqlite")}[1]
    assert bad["status"] == "failed" and bad["error"].startswith("RuntimeError: flaky machine, attempt 3")
    assert "in flaky" in bad["error"] and summary.failures[0]["hash"] == bad["hash"]


def test_an_interrupted_sweep_keeps_what_finished_and_resume_runs_only_the_rest(threads, tmp_path):
    cluster = threads
    plan = parse_config({"base": {"epochs": 2, "steps": 30}, "grid": {"seed": list(range(6))}})
    path = tmp_path / "s.sqlite"
    seen = []

    def stop_after_two(config, outcome):
        seen.append(config)
        if len(seen) == 2:
            raise KeyboardInterrupt  # what Ctrl-C raises in the client

    with pytest.raises(KeyboardInterrupt):
        run_sweep(plan, path, scheduler=cluster.scheduler_address, on_result=stop_after_two)
    first = stored(path)
    assert sorted(r["seed"] for r in first) == sorted(c["seed"] for c in seen) and len(first) == 2
    with pytest.raises(ParameterError, match="--resume"):
        run_sweep(plan, path, scheduler=cluster.scheduler_address)
    summary = run_sweep(plan, path, scheduler=cluster.scheduler_address, resume=True)
    assert (summary.executed, summary.skipped, summary.completed, summary.failed) == (4, 2, 6, 0)
    rows = stored(path)
    assert sorted(r["seed"] for r in rows) == list(range(6)) and {r["hash"] for r in rows} == set(plan.hashes)
    assert {r["hash"]: r["finished_at"] for r in first}.items() <= {r["hash"]: r["finished_at"] for r in rows}.items()
    again = run_sweep(plan, path, scheduler=cluster.scheduler_address, resume=True)   # nothing left to do
    assert (again.executed, again.skipped, again.completed) == (0, 6, 6) and len(stored(path)) == 6


@pytest.mark.slow
def test_a_killed_worker_does_not_lose_its_run(cluster, tmp_path):
    plan = parse_config({"base": {"epochs": 3000, "steps": 300}, "grid": {"seed": [0, 1, 2]}})  # a few s each
    killed = {}
    with distributed.Client(cluster.scheduler_address) as client:
        pids = client.run(os.getpid)

        def kill_a_busy_worker():
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                for address, keys in client.processing().items():
                    ours = [str(k) for k in keys if str(k).startswith("blockloop-sweep-")]
                    if ours and address in pids:
                        time.sleep(0.3)   # well into the run (it lasts seconds)
                        os.kill(pids[address], signal.SIGKILL)
                        killed.update(address=address, key=ours[0])
                        return
                time.sleep(0.02)

        killer = threading.Thread(target=kill_a_busy_worker, daemon=True)
        killer.start()
        summary = run_sweep(plan, tmp_path / "s.sqlite", scheduler=cluster.scheduler_address)
        killer.join(timeout=5)
    assert killed, "no worker was killed"
    assert (summary.runs, summary.completed, summary.failed) == (3, 3, 0)
    rows = stored(tmp_path / "s.sqlite")
    (victim,) = [r for r in rows if killed["key"].startswith(f"blockloop-sweep-{r['hash'][:16]}-")]
    assert victim["status"] == "completed" and victim["worker"] != killed["address"]


def test_a_store_that_holds_runs_needs_resume_before_any_cluster_starts(tmp_path):
    plan = parse_config({"base": {"epochs": 1}})
    with SweepStore(tmp_path / "s.sqlite") as store:
        store.put(plan.runs[0], {"status": "completed", "metrics": {}, "worker": None, "wall_s": 0.0})
    t0 = time.perf_counter()
    with pytest.raises(ParameterError, match="already holds 1 runs; pass --resume"):
        run_sweep(plan, tmp_path / "s.sqlite", workers=1)
    summary = run_sweep(plan, tmp_path / "s.sqlite", resume=True)         # everything stored: no cluster at all
    assert (summary.executed, summary.skipped, summary.completed, summary.workers) == (0, 1, 1, 0)
    assert time.perf_counter() - t0 < 5


@pytest.mark.slow
def test_ctrl_c_on_the_cli_keeps_finished_runs_and_resume_completes(cluster, tmp_path):
    # 8 runs of ~1 s on one worker: interrupt once the first is stored.
    path = tmp_path / "s.toml"
    path.write_text("[base]\nepochs = 600\nsteps = 300\n[grid]\nseed = [0, 1, 2, 3, 4, 5, 6, 7]\n")
    store = tmp_path / "s.sqlite"
    proc = subprocess.Popen([sys.executable, "-m", "blockloop", "sweep", str(path), "--workers", "1", "--store",
                             str(store), "--no-progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def some_stored():
        if not store.is_file():
            return False
        try:
            return sqlite3.connect(store).execute("SELECT COUNT(*) FROM runs").fetchone()[0] >= 1
        except sqlite3.OperationalError:  # table not created yet
            return False

    try:
        wait_for(some_stored, 180, "the first stored run")
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "--resume" in err
    done = stored(store)
    assert 1 <= len(done) < 8 and all(r["status"] == "completed" for r in done)
    assert main(["sweep", str(path), "--store", str(store), "--resume", "--scheduler", cluster.scheduler_address,
                 "--no-progress"]) == 0
    rows = stored(store)
    assert sorted(r["seed"] for r in rows) == list(range(8))
    assert {r["hash"]: r["finished_at"] for r in done}.items() <= {r["hash"]: r["finished_at"] for r in rows}.items()


def test_an_unreachable_scheduler_is_a_clear_error(tmp_path, monkeypatch, capsys):
    import socket

    from blockloop.study.sweep import runner

    with socket.socket() as s:                    # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(runner, "CONNECT_TIMEOUT", "1s")
    path = tmp_path / "s.toml"
    path.write_text("[base]\nepochs = 1\n")
    assert main(["sweep", str(path), "--scheduler", f"tcp://127.0.0.1:{port}", "--store",
                 str(tmp_path / "s.sqlite")]) == 2
    err = capsys.readouterr().err
    assert f"--scheduler tcp://127.0.0.1:{port}: cannot connect" in err
    assert stored(tmp_path / "s.sqlite") == []     # nothing ran, nothing stored


def test_without_distributed_the_sweep_says_what_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "distributed", None)   # import distributed → ImportError
    path = tmp_path / "s.toml"
    path.write_text("[base]\nepochs = 1\n")
    assert main(["sweep", str(path), "--store", str(tmp_path / "s.sqlite")]) == 2
    assert "pip install 'blockloop[sweep]'" in capsys.readouterr().err
