"""The runner: nothing a user does loses work or leaves a run that cannot continue.

Kill points are made real: a forked child trains and dies with ``os._exit`` just before or just after its k-th
atomic rename (every file typedrl writes is committed by one ``os.replace``), and the parent resumes what is on
disk. Interrupts are real signals sent to a real ``typedrl`` process.
"""

import json
import multiprocessing
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from typedrl import _files
from typedrl.checkpoint import load_checkpoint
from typedrl.config import PPOConfig, ReinforceConfig, ppo_preset, reinforce_preset
from typedrl.errors import ConfigError, RunLogError
from typedrl.runlog import load_trainlog
from typedrl.runner import RunInterrupted, restart_seed, train

COMMAND = [sys.executable, "-m", "typedrl.cli"]
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def small_ppo(**overrides: Any) -> PPOConfig:
    settings: dict[str, Any] = {
        "updates": 4,
        "num_envs": 2,
        "horizon": 16,
        "epochs": 2,
        "checkpoint_every": 1,
        "eval": {"every": 2, "episodes": 2, "max_steps": 50},
    }
    return ppo_preset(**{**settings, **overrides})


def small_reinforce(**overrides: Any) -> ReinforceConfig:
    settings: dict[str, Any] = {"updates": 3, "num_envs": 2, "min_steps_per_update": 100}
    return reinforce_preset(**{**settings, **overrides})


def _die_at_rename(config: Any, out: Path, count: int, after: bool) -> None:
    """In a forked child: train, and exit abruptly just before (or after) the ``count``-th os.replace."""
    calls = 0
    replace = os.replace

    def dying_replace(source: Any, target: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == count and not after:
            os._exit(9)
        replace(source, target)
        if calls == count and after:
            os._exit(9)

    os.replace = dying_replace  # type: ignore[assignment]
    try:
        train(config, out_dir=out, quiet=True)
    finally:
        os._exit(0)


def _kill_at(config: Any, out: Path, count: int, *, after: bool) -> int:
    context = multiprocessing.get_context("fork")
    child = context.Process(target=_die_at_rename, args=(config, out, count, after))
    child.start()
    child.join(timeout=120)
    return child.exitcode if child.exitcode is not None else -1


def _renames_of_a_whole_run(config: Any, out: Path) -> int:
    calls = 0
    replace = os.replace

    def counting(source: Any, target: Any) -> None:
        nonlocal calls
        calls += 1
        replace(source, target)

    os.replace = counting  # type: ignore[assignment]
    try:
        train(config, out_dir=out, quiet=True)
    finally:
        os.replace = replace
    return calls


def _check_complete(out: Path, budget: int, every: int) -> None:
    log = load_trainlog(out / "trainlog.json")
    assert log.finished
    assert [record.update for record in log.updates] == list(range(1, budget + 1))
    steps = [record.env_steps for record in log.updates]
    assert steps == sorted(steps)
    expected_evaluations = sorted({*range(every, budget + 1, every), budget}) if every else [budget]
    assert [record.update for record in log.evaluations] == expected_evaluations
    checkpoint = load_checkpoint(out / "checkpoint.pt")
    assert checkpoint.progress["done"] == budget
    assert checkpoint.extra["finished"] is True
    assert (out / "curve.png").exists()
    assert not [path.name for path in out.iterdir() if path.name.endswith(".tmp")]
    best = max(log.evaluations, key=lambda record: record.mean)  # the first of equal bests
    assert load_checkpoint(out / "best.pt").progress["done"] == best.update
    rows = (out / "progress.csv").read_text().splitlines()
    assert len(rows) == budget + 1  # a header and one row per update


@pytest.mark.parametrize("algo", ["ppo", "reinforce"])
def test_resume_works_from_every_kill_point(tmp_path: Path, algo: str) -> None:
    config = small_ppo() if algo == "ppo" else small_reinforce(eval={"every": 2, "episodes": 2, "max_steps": 50})
    budget = 4 if algo == "ppo" else 3
    renames = _renames_of_a_whole_run(config, tmp_path / "whole")
    _check_complete(tmp_path / "whole", budget, 2)
    assert renames >= 2 * budget + 3  # log + checkpoint at the start, after each update, at the end; the curve
    for count in range(1, renames + 1):
        for after in (False, True):
            out = tmp_path / f"killed-{count}-{after}"
            assert _kill_at(config, out, count, after=after) == 9
            if not (out / "checkpoint.pt").exists():  # killed before the first checkpoint: start again
                with pytest.raises(ConfigError, match="nothing to resume"):
                    train(None, out_dir=out, resume=True, quiet=True)
                train(config, out_dir=out, quiet=True, overwrite=True)
            else:
                train(None, out_dir=out, resume=True, quiet=True)
            _check_complete(out, budget, 2)


def test_a_directory_holding_a_run_is_refused_unless_overwritten(tmp_path: Path) -> None:
    train(small_ppo(updates=2), out_dir=tmp_path, quiet=True)
    before = (tmp_path / "trainlog.json").read_bytes()
    with pytest.raises(ConfigError) as caught:
        train(small_ppo(updates=1), out_dir=str(tmp_path), quiet=True)  # a str is a path too
    assert str(caught.value) == (
        f"{str(tmp_path)!r} holds a run (checkpoint.pt, best.pt, curve.png, progress.csv, trainlog.json); continue "
        "it with --resume, or pass --overwrite to replace it"
    )
    assert (tmp_path / "trainlog.json").read_bytes() == before
    result = train(small_ppo(updates=1, eval={"every": 0}), out_dir=tmp_path, quiet=True, overwrite=True)
    assert result.updates == 1
    assert [record.update for record in load_trainlog(tmp_path / "trainlog.json").updates] == [1]
    assert not (tmp_path / "curve.png").exists() or result.curve_path is not None


def test_resume_reads_the_config_and_only_the_budget_may_grow(tmp_path: Path) -> None:
    train(small_ppo(updates=2), out_dir=tmp_path, quiet=True)
    finished = train(None, out_dir=tmp_path, resume=True, quiet=True)  # a finished run: nothing to do
    assert finished.updates == 2
    assert finished.final_evaluation is not None
    with pytest.raises(ConfigError) as caught:
        train(small_ppo(updates=6, seed=3), out_dir=tmp_path, resume=True, quiet=True)
    assert str(caught.value) == (
        "resume: seed is 3, but the run was trained with 0; a resumed run keeps its config (only updates, device, "
        "checkpoint_every, vector and env_timeout may change)"
    )
    with pytest.raises(ConfigError, match=r"^resume: updates is 1, but the run has done 2; a resumed run can only"):
        train(small_ppo(updates=1), out_dir=tmp_path, resume=True, quiet=True)
    extended = train(small_ppo(updates=4), out_dir=tmp_path, resume=True, quiet=True)
    assert extended.updates == 4
    log = load_trainlog(tmp_path / "trainlog.json")
    assert [record.update for record in log.updates] == [1, 2, 3, 4]
    assert [record.update for record in log.evaluations] == [2, 4]
    assert log.config["updates"] == 4
    assert "resumed at update 2 with the budget 2 raised to 4" in log.widget.notes


def test_resume_needs_a_checkpoint_and_a_log_of_the_same_run(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"checkpoint.pt' does not exist; nothing to resume$"):
        train(None, out_dir=tmp_path / "empty", resume=True)
    with pytest.raises(ConfigError, match=r"^resume and overwrite exclude each other"):
        train(None, out_dir=tmp_path, resume=True, overwrite=True)
    first, second = tmp_path / "first", tmp_path / "second"
    train(small_ppo(updates=2), out_dir=first, quiet=True)
    train(small_ppo(updates=2, seed=5), out_dir=second, quiet=True)
    os.replace(second / "trainlog.json", first / "trainlog.json")
    with pytest.raises(RunLogError) as caught:
        train(small_ppo(updates=3), out_dir=first, resume=True, quiet=True)
    assert str(caught.value).endswith(
        "trainlog.json belongs to another run: its seed is 5, the checkpoint's 0; move it away and resume with --log "
        "off, or restore this run's log"
    )


def test_a_resumed_run_does_not_replay_the_first_episodes(tmp_path: Path) -> None:
    assert restart_seed(0, 4) == restart_seed(0, 4)
    assert len({restart_seed(0, 4), restart_seed(0, 8), restart_seed(1, 4), 0}) == 4
    config = small_ppo(updates=1, eval={"every": 0})
    train(config, out_dir=tmp_path, quiet=True)
    from typedrl.algos.ppo import PPO

    fresh = PPO(config)
    first = fresh.collector.collect().observations[0]
    resumed = PPO(config)
    resumed.restart_environments(restart_seed(config.seed, 1))
    again = resumed.collector.collect().observations[0]
    assert not bool((first == again).all())


def test_one_run_per_directory(tmp_path: Path) -> None:
    with _files.RunLock(tmp_path, error=ConfigError), pytest.raises(ConfigError) as caught:
        train(small_ppo(updates=1), out_dir=tmp_path, quiet=True)
    assert str(caught.value) == (
        f"{str(tmp_path)!r} is in use by another typedrl run (process {os.getpid()}); wait for it, or choose "
        "another --out"
    )
    assert not (tmp_path / "checkpoint.pt").exists()


def test_temporaries_of_dead_writers_are_removed(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".trainlog.json.{int(dead.stdout)}.0123abcd.tmp"
    live = tmp_path / f".checkpoint.pt.{os.getpid()}.0123abcd.tmp"
    stale.write_text("half")
    live.write_text("half")
    train(small_ppo(updates=1, eval={"every": 0}), out_dir=tmp_path, quiet=True, overwrite=True)
    assert not stale.exists()
    assert live.exists()  # its writer (this process) is alive


def test_only_regular_files_are_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: train(small_ppo(), out_dir=tmp_path / "a", log="/dev/null"), "is a character device"),
        (lambda: train(small_ppo(), out_dir=tmp_path / "b", log=fifo), "is a FIFO"),
        (lambda: train(small_ppo(), out_dir=tmp_path / "c", log=tmp_path), "is a directory"),
    ]
    for call, problem in cases:
        with pytest.raises(ConfigError, match=f"^log: .* {problem}; expected a regular file or a new path$"):
            call()
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    file = tmp_path / "file"
    file.write_text("x")
    with pytest.raises(ConfigError, match="which is a file; expected a run directory"):
        train(small_ppo(), out_dir=file)
    with pytest.raises(ConfigError, match="is not a directory, so"):
        train(small_ppo(), out_dir=tmp_path / "d", log=file / "log.json")
    link = tmp_path / "linked.json"
    link.symlink_to(tmp_path / "real.json")
    train(small_ppo(updates=1, eval={"every": 0}), out_dir=tmp_path / "e", log=link, quiet=True)
    assert link.is_symlink()
    assert load_trainlog(tmp_path / "real.json").finished


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*COMMAND, *args], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )


def _wait_for(path: Path, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while not path.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    assert path.exists(), process.communicate()


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupt_saves_at_the_next_update_and_says_so(tmp_path: Path, number: int) -> None:
    out = tmp_path / "run"
    process = _start("ppo", "--updates", "400", "--eval-every", "0", "--out", str(out))
    _wait_for(out / "checkpoint.pt", process)
    time.sleep(0.5)
    process.send_signal(number)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 128 + number, stderr
    lines = stderr.strip().splitlines()
    assert "Traceback" not in stderr
    saved = load_checkpoint(out / "checkpoint.pt").progress["done"]
    assert lines[0] == (
        f"typedrl ppo: interrupted at update {saved}: the log and a checkpoint at update {saved} are saved in {out}"
    )
    assert lines[1] == f"typedrl ppo: continue with: typedrl ppo --out {out} --resume"
    assert 0 < saved < 400
    assert len(load_trainlog(out / "trainlog.json").updates) == saved


def test_a_second_interrupt_stops_at_once_and_tells_the_truth(tmp_path: Path) -> None:
    out = tmp_path / "run"
    # Long epochs: the second signal arrives while the first waits for the epoch to end.
    process = _start("reinforce", "--epochs", "50", "--out", str(out), "--quiet")
    _wait_for(out / "checkpoint.pt", process)
    process.send_signal(signal.SIGINT)
    time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "Traceback" not in stderr
    saved = load_checkpoint(out / "checkpoint.pt").progress["done"]
    first = stderr.strip().splitlines()[0]
    # The update count is how far training got (the update in progress may finish between the two signals); the
    # checkpoint named is the one on disk.
    assert first.startswith("typedrl reinforce: interrupted at update ")
    assert first.endswith(f"the checkpoint at update {saved} in {out} is kept") or "are saved" in first


def _catches_sigint(pid: int) -> bool:
    """Whether the process has a SIGINT handler (Python installs its own early in start-up; before that, a
    SIGINT kills any process, which no program can change)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)))
    return False


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the signal mask from /proc")
def test_an_interrupt_during_start_up_prints_one_line(tmp_path: Path) -> None:
    process = _start("ppo", "--out", str(tmp_path / "run"))
    while not _catches_sigint(process.pid):
        time.sleep(0.005)
    time.sleep(0.2)  # while typedrl, torch and gymnasium load
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) in (1, 2), stderr


def test_reinforce_checkpoints_every_epoch_by_default(tmp_path: Path) -> None:
    config = small_reinforce()
    assert config.checkpoint_every == 1
    out = tmp_path / "run"
    # Each save renames the log, progress.csv, then the checkpoint: after the 9th rename, update 2 is saved.
    assert _kill_at(config, out, 9, after=True) == 9
    assert load_checkpoint(out / "checkpoint.pt").progress["done"] == 2


def test_interrupted_is_a_keyboard_interrupt() -> None:
    error = RunInterrupted("x", signal_number=signal.SIGINT, saved_update=3, out_dir=Path("r"))
    assert isinstance(error, KeyboardInterrupt)
    assert (error.saved_update, error.out_dir) == (3, Path("r"))


def test_best_pt_keeps_the_best_evaluation_and_eval_reproduces_it(tmp_path: Path) -> None:
    config = ppo_preset(seed=1, updates=24, eval={"every": 4, "episodes": 3}, checkpoint_every=4)
    result = train(config, out_dir=tmp_path, quiet=True)
    log = load_trainlog(tmp_path / "trainlog.json")
    best = max(log.evaluations, key=lambda record: record.mean)  # the first of equal bests
    assert result.best_path == tmp_path / "best.pt"
    assert result.best_evaluation is not None
    assert result.best_evaluation.mean == best.mean
    assert load_checkpoint(tmp_path / "best.pt").progress["done"] == best.update
    evaluated = subprocess.run(
        [*COMMAND, "eval", str(tmp_path / "best.pt")], capture_output=True, text=True, env=ENV, check=False
    )
    assert evaluated.returncode == 0, evaluated.stderr
    assert f"{len(best.returns)} episodes: mean {best.mean:.2f} ± {best.std:.2f}" in evaluated.stdout


def test_a_target_return_stops_early_and_says_so(tmp_path: Path) -> None:
    lines: list[str] = []
    config = ppo_preset(seed=0, updates=200, target_return=100.0, eval={"every": 4, "episodes": 2})
    result = train(config, out_dir=tmp_path, echo=lines.append)
    assert result.reached_target
    assert result.updates < 200
    note = next(line for line in lines if line.startswith("stopped at update"))
    assert note.startswith(f"stopped at update {result.updates}: greedy mean ")
    assert note.endswith("reached the target 100")
    assert note in load_trainlog(tmp_path / "trainlog.json").notes
    assert train(None, out_dir=tmp_path, resume=True, quiet=True).updates == result.updates  # it is complete


def test_a_log_elsewhere_is_never_replaced_and_a_resumed_run_keeps_its_log(tmp_path: Path) -> None:
    other = tmp_path / "other"
    train(small_ppo(updates=1, eval={"every": 0}), out_dir=other, quiet=True)
    before = (other / "trainlog.json").read_bytes()
    for overwrite in (False, True):
        with pytest.raises(ConfigError) as caught:
            train(small_ppo(), out_dir=tmp_path / "new", log=other / "trainlog.json", overwrite=overwrite)
        assert str(caught.value) == (
            f"log: {str(other / 'trainlog.json')!r} exists (another run's log?); choose a new --log path, or remove it"
        )
    assert (other / "trainlog.json").read_bytes() == before
    assert not (tmp_path / "new").exists()  # refused before anything was written
    # "off" in any case is no log, not a file named OFF.
    quiet = train(small_ppo(updates=1, eval={"every": 0}), out_dir=tmp_path / "off", log="OFF", quiet=True)
    assert quiet.log_path is None
    assert sorted(path.name for path in (tmp_path / "off").iterdir()) == [
        ".typedrl.lock",
        "checkpoint.pt",
        "progress.csv",
    ]
    # A resumed run writes where it wrote before; another --log would split the log in two.
    elsewhere = tmp_path / "logs" / "run.json"
    train(small_ppo(updates=2, eval={"every": 0}), out_dir=tmp_path / "split", log=elsewhere, quiet=True)
    with pytest.raises(ConfigError, match=r"^--resume: the run wrote its log to .*run.json'; resume without --log"):
        train(small_ppo(updates=3, eval={"every": 0}), out_dir=tmp_path / "split", log=tmp_path / "x.json", resume=True)
    train(small_ppo(updates=3, eval={"every": 0}), out_dir=tmp_path / "split", resume=True, quiet=True)
    assert [record.update for record in load_trainlog(elsewhere).updates] == [1, 2, 3]
    assert not (tmp_path / "split" / "trainlog.json").exists()
    with pytest.raises(ConfigError, match=r"^--resume: the run wrote no log \(--log off\)"):
        train(small_ppo(updates=3, eval={"every": 0}), out_dir=tmp_path / "off", log=tmp_path / "y.json", resume=True)


def test_a_resumed_log_must_be_whole(tmp_path: Path) -> None:
    train(small_ppo(updates=4, eval={"every": 0}), out_dir=tmp_path, quiet=True)
    log = json.loads((tmp_path / "trainlog.json").read_text())
    log["updates"] = [record for record in log["updates"] if record["update"] not in (2, 3)]
    (tmp_path / "trainlog.json").write_text(json.dumps(log))
    with pytest.raises(RunLogError, match=r"trainlog.json lacks updates 2–3 of the 4 the checkpoint has done"):
        train(small_ppo(updates=6, eval={"every": 0}), out_dir=tmp_path, resume=True, quiet=True)
    (tmp_path / "trainlog.json").unlink()
    with pytest.raises(
        RunLogError, match=r"the run's log .*trainlog.json' is missing; restore it, or resume with --log"
    ):
        train(small_ppo(updates=6, eval={"every": 0}), out_dir=tmp_path, resume=True, quiet=True)
    result = train(small_ppo(updates=6, eval={"every": 0}), out_dir=tmp_path, resume=True, quiet=True, log="off")
    assert result.updates == 6


def test_where_a_run_may_not_write(tmp_path: Path) -> None:
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError) as caught:
        train(small_ppo(), out_dir=tmp_path / "home")
    assert str(caught.value) == (
        f"{str(tmp_path / 'home')!r} holds other files (notes.txt); a run writes into a directory of its own: choose a"
        " new --out, or pass --overwrite to write into this one anyway"
    )
    with pytest.raises(ConfigError, match=r"^out is an empty path; expected a directory name$"):
        train(small_ppo(), out_dir="")
    with pytest.raises(ConfigError, match=r"^out: '.*' cannot be used: File name too long$"):
        train(small_ppo(), out_dir=tmp_path / ("a" * 300))
    for bad in (b"x", 3):
        with pytest.raises(ConfigError, match=r"^train: out is .*; expected a path \(str or Path\)$"):
            train(small_ppo(), out_dir=bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"^train: config is \{'algo': 'ppo'\} \(a dict\); expected a config"):
        train({"algo": "ppo"})  # type: ignore[arg-type]
    unchecked = small_ppo().model_copy(update={"hidden": 10**6, "layers": 10})  # model_copy does not validate
    with pytest.raises(ConfigError, match=r"^train: config: hidden: Input should be less than or equal to 65536"):
        train(unchecked, out_dir=tmp_path / "huge")
    assert not (tmp_path / "huge").exists()
    with pytest.raises(ConfigError, match=r"^env_id is 'CartPole-v9'"):
        train(small_ppo(env_id="CartPole-v9"), out_dir=tmp_path / "bad-env")
    assert not (tmp_path / "bad-env").exists()  # the env is made before the run directory


def test_evaluation_off_means_no_evaluation_at_all(tmp_path: Path) -> None:
    result = train(small_ppo(updates=2, eval={"every": 0}), out_dir=tmp_path, quiet=True)
    assert result.final_evaluation is None
    assert result.curve_path is None
    assert load_trainlog(tmp_path / "trainlog.json").evaluations == []


def test_default_run_directories_do_not_collide() -> None:
    from typedrl.runner import default_run_dir

    name = default_run_dir(small_ppo()).name
    assert name.startswith("ppo-CartPole-v1-0-")
    assert name.endswith(f"-{os.getpid()}")
    assert "/" not in default_run_dir(small_ppo(env_id="ALE/Pong-v5")).name
