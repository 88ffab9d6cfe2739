"""The ``typedrl`` command, run as a subprocess the way a user runs it."""

import fcntl
import json
import os
import pty
import re
import signal
import stat
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
import torch

import typedrl
from typedrl.checkpoint import FORMAT_VERSION, _digest
from typedrl.cli import main
from typedrl.config import ppo_preset
from typedrl.runlog import load_trainlog

COMMAND = [sys.executable, "-m", "typedrl.cli"]
# The tests folder on the path: ``--env unsupported_envs:...`` imports the module that registers those envs.
TESTS = str(Path(__file__).resolve().parent)
ENV = {
    **os.environ,
    "PYTHONUNBUFFERED": "1",
    "PYTHONPATH": os.pathsep.join(filter(None, [TESTS, os.environ.get("PYTHONPATH")])),
}
TEXT_ENV = "unsupported_envs:typedrl-test/TextObservations-v0"


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*COMMAND, *args], capture_output=True, text=True, timeout=timeout, env=ENV, check=False)


def test_help_lists_the_commands_and_the_version() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in ("ppo", "reinforce", "eval", "check-env", "plot"):
        assert command in result.stdout
    assert "Run 'typedrl COMMAND --help' for the flags of a command." in result.stdout
    ppo_help = run("ppo", "--help")
    for flag in ("--env", "--num-envs", "--seed", "--device", "--updates", "--eval-every", "--config", "--resume"):
        assert flag in ppo_help.stdout
    assert "default, sb3-zoo, acrobot, pendulum, lunarlander, halfcheetah, torchlean, tensor-cartpole" in " ".join(
        ppo_help.stdout.split()
    )
    version = run("--version")
    assert version.returncode == 0
    assert version.stdout.strip() == f"typedrl {typedrl.__version__}"


def _checkpoint_with_a_string_model(tmp_path: Path) -> Path:
    config = ppo_preset().model_dump(mode="json")
    payload: dict[str, object] = {
        "format": "typedrl-checkpoint",
        "format_version": FORMAT_VERSION,
        "modules": {"model": "weights"},
        "optimizers": {},
        "config": config,
        "progress": {},
        "rng": None,
        "extra": {},
    }
    payload["digest"] = _digest(payload)
    path = tmp_path / "string-model.pt"
    torch.save(payload, path)
    return path


def _bad_inputs(tmp_path: Path) -> list[tuple[tuple[str, ...], str]]:
    """Everything a user can hand over that cannot be used, and the one line it gets."""
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    latin1 = tmp_path / "latin1.json"
    latin1.write_bytes('{"env_id": "Caf\xe9"}'.encode("latin-1"))
    digits = tmp_path / "digits.json"
    digits.write_text('{"seed": ' + "9" * 5000 + "}")
    huge = tmp_path / "huge.toml"
    huge.write_text("hidden = 65536\nlayers = 64\n")
    nan = tmp_path / "nan.json"
    nan.write_text('{"learning_rate": NaN}')
    boolean = tmp_path / "bool.json"
    boolean.write_text('{"num_envs": true}')
    misspelt = tmp_path / "misspelt.toml"
    misspelt.write_text("learning_rat = 0.1\n")
    trainlog = tmp_path / "trainlog.json"
    trainlog.write_text('{"schema_version": 1, "algo": "ppo"}')
    notes = tmp_path / "notes.txt"
    notes.write_text("hello\n")
    return [
        (("ppo", "--bogus"), "typedrl: error: unrecognized arguments: --bogus (see typedrl --help)"),
        (("ppo", "--num-envs", "0"), "typedrl ppo: error: argument --num-envs: 0 is not a positive integer"),
        (("ppo", "--updates", "many"), "typedrl ppo: error: argument --updates: 'many' is not an integer"),
        (("ppo", "--preset", "nope"), "typedrl ppo: error: argument --preset: invalid choice: 'nope'"),
        (("reinforce", "--device", "tpu"), "typedrl reinforce: error: argument --device: invalid choice: 'tpu'"),
        (("ppo", "--resume"), "typedrl ppo: error: --resume needs --out DIR"),
        (("ppo", "--env", "CartPole-v9"), "typedrl ppo: error: env_id is 'CartPole-v9': Environment version `v9`"),
        (("reinforce", "--env", TEXT_ENV), f"typedrl reinforce: error: env '{TEXT_ENV}' has Text("),
        (("ppo", "--env", "nomodule:Env"), "typedrl ppo: error: env_id is 'nomodule:Env': "),
        (("check-env", "NoSuchEnv-v0"), "typedrl check-env: error: Environment `NoSuchEnv` doesn't exist."),
        (
            ("check-env", TEXT_ENV),
            f"typedrl check-env: error: env_id is '{TEXT_ENV}': Contract: observation_space is Text(",
        ),
        (
            ("check-env", "nomodule:Env"),
            "typedrl check-env: error: env_id is 'nomodule:Env': it cannot be made: ModuleNotFoundError: No module "
            "named 'nomodule'",
        ),
        (
            ("ppo", "--seed", "99999999999999999999"),
            "typedrl ppo: error: --seed: Input should be less than or equal to 4294967295 (got 99999999999999999999)",
        ),
        (
            ("ppo", "--out", str(a_file)),
            f"typedrl ppo: error: out is {str(a_file)!r}, which is a file; expected a run directory",
        ),
        (("ppo", "--out", "/proc/typedrl-run"), "typedrl ppo: error: cannot create '/proc/typedrl-run': "),
        (
            ("ppo", "--log", "/dev/null", "--out", str(tmp_path / "r1")),
            "typedrl ppo: error: log: '/dev/null' is a character device; expected a regular file or a new path",
        ),
        (
            ("ppo", "--config", str(latin1)),
            f"typedrl ppo: error: config file {str(latin1)!r} is not UTF-8 text (byte 15: b'\\xe9')",
        ),
        (
            ("ppo", "--config", str(digits)),
            f"typedrl ppo: error: config file {str(digits)!r} is not valid JSON: Exceeds the limit (4300 digits)",
        ),
        (
            ("ppo", "--config", str(huge)),
            f"typedrl ppo: error: config file {str(huge)!r}: hidden, layers: hidden 65536 with layers 64 makes about",
        ),
        (
            ("ppo", "--config", str(nan)),
            f"typedrl ppo: error: config file {str(nan)!r}: learning_rate: Input should be a finite number (got nan)",
        ),
        (
            ("ppo", "--config", str(boolean)),
            f"typedrl ppo: error: config file {str(boolean)!r}: num_envs: Input should be a valid integer (got True)",
        ),
        (
            ("ppo", "--config", str(misspelt)),
            f"typedrl ppo: error: config file {str(misspelt)!r}: learning_rat: Extra inputs are not permitted",
        ),
        (
            ("eval", str(trainlog)),
            f"typedrl eval: error: load_checkpoint: {trainlog}: this is a JSON file (a trainlog.json?), not a "
            "checkpoint; pass the run's checkpoint.pt or its run directory",
        ),
        (("eval", str(notes)), f"typedrl eval: error: load_checkpoint: {notes}: a text file; expected a checkpoint"),
        (
            ("eval", str(_checkpoint_with_a_string_model(tmp_path))),
            "typedrl eval: error: load_checkpoint: ",
        ),
        (
            ("plot", str(trainlog), "--out", "/dev/null"),
            "typedrl plot: error: plot: out is '/dev/null'; expected a file name ending in .png, .svg, .pdf",
        ),
        (
            ("plot", str(trainlog), "--out", str(tmp_path / "curve.txt")),
            "typedrl plot: error: plot: out is ",
        ),
    ]


def run_here(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """``typedrl ARGS`` in this process (no interpreter start-up): the exit status and what went to stderr."""
    try:
        status = main(list(args))
    except SystemExit as exit_:  # argparse's usage errors
        status = int(exit_.code or 0)
    return status, capsys.readouterr().err


def test_bad_input_prints_one_line_and_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = _bad_inputs(tmp_path)
    for args, message in cases:
        status, stderr = run_here(capsys, *args)
        lines = stderr.strip().splitlines()
        assert status == 2, (args, stderr)
        assert len(lines) == 1, (args, stderr)
        assert lines[0].startswith(message), (args, lines[0])
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    # And as a user runs it, in its own process: no traceback.
    for args, message in cases[::7]:
        result = run(*args)
        assert (result.returncode, result.stderr.strip().splitlines()[0][: len(message)]) == (2, message)
        assert "Traceback" not in result.stderr


def test_a_bad_shape_check_setting_is_one_line() -> None:
    result = subprocess.run(
        [*COMMAND, "ppo", "--updates", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**ENV, "TYPEDRL_SHAPE_CHECKS": "maybe"},
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "typedrl: error: the environment variable TYPEDRL_SHAPE_CHECKS is 'maybe'; expected one of 1, 0, true, "
        "false, yes, no, on, off (or unset)"
    )


def test_yaml_config_files_of_any_suffix_case(tmp_path: Path) -> None:
    config = tmp_path / "run.YAML"
    config.write_text("updates: 1\neval:\n  every: 0\n")
    result = run("ppo", "--config", str(config), "--out", str(tmp_path / "r"), "--quiet")
    assert result.returncode == 0, result.stderr
    assert load_trainlog(tmp_path / "r" / "trainlog.json").config["updates"] == 1


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error shown when CUDA is absent")
def test_cuda_without_cuda_is_a_clear_error() -> None:
    result = run("ppo", "--device", "cuda")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "typedrl ppo: error: device is 'cuda', but this torch sees no CUDA device; use 'cpu'"
    )


def test_full_short_run_leaves_every_artifact(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = run("ppo", "--updates", "4", "--eval-every", "2", "--eval-episodes", "2", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "update 2:" in result.stdout
    assert "update 4:" in result.stdout
    assert "\r" not in result.stdout + result.stderr  # no progress bar in a pipe
    for name in ("trainlog.json", "checkpoint.pt", "curve.png"):
        assert (out / name).stat().st_size > 0
    log = load_trainlog(out / "trainlog.json")
    assert [record.update for record in log.updates] == [1, 2, 3, 4]
    assert [record.update for record in log.evaluations] == [2, 4]
    assert log.finished

    evaluated = run("eval", str(out / "checkpoint.pt"), "--episodes", "3", "--max-steps", "50")
    assert evaluated.returncode == 0, evaluated.stderr
    assert evaluated.stdout.startswith(f"CartPole-v1, ppo checkpoint {out / 'checkpoint.pt'}: ")
    # Without flags, eval does what the run's own evaluations did, so it reproduces the logged figure.
    again = run("eval", str(out))
    assert again.returncode == 0, again.stderr
    last = log.evaluations[-1]
    assert f": {len(last.returns)} episodes: mean {last.mean:.2f} ± {last.std:.2f}" in again.stdout

    plotted = run("plot", str(out / "trainlog.json"), "--out", str(tmp_path / "again.png"))
    assert plotted.returncode == 0, plotted.stderr
    assert (tmp_path / "again.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    vector = run("plot", str(out), "--out", str(tmp_path / "again.SVG"))
    assert vector.returncode == 0, vector.stderr
    assert b"<svg" in (tmp_path / "again.SVG").read_bytes()[:400]
    assert run("plot", str(out), "--out", str(tmp_path / "again.pdf")).returncode == 0
    assert (tmp_path / "again.pdf").read_bytes()[:5] == b"%PDF-"


def test_resume_after_a_hard_kill(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["ppo", "--updates", "60", "--eval-every", "2", "--eval-episodes", "2", "--eval-max-steps", "100"]
    process = subprocess.Popen([*COMMAND, *args, "--out", str(out)], env=ENV, stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (out / "checkpoint.pt").exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    time.sleep(0.3)
    process.send_signal(signal.SIGKILL)  # a hard kill: the log and checkpoint must still be whole
    process.wait(timeout=30)
    interrupted = load_trainlog(out / "trainlog.json")
    assert not interrupted.finished

    # The run's config comes from its checkpoint: no flags but --out and --resume.
    result = run("ppo", "--out", str(out), "--resume", timeout=300)
    assert result.returncode == 0, result.stderr
    log = load_trainlog(out / "trainlog.json")
    assert log.finished
    assert [record.update for record in log.updates] == list(range(1, 61))
    steps = [record.env_steps for record in log.updates]
    assert steps == sorted(steps)
    assert steps[-1] == 60 * 256


def test_resume_takes_the_budget_and_refuses_other_flags(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert run("ppo", "--updates", "2", "--eval-every", "0", "--out", str(out), "--quiet").returncode == 0
    again = run("ppo", "--out", str(out), "--resume")
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith(f"the run in {out} is complete (2 updates); resume with a larger --updates")
    result = run("ppo", "--seed", "3", "--out", str(out), "--resume")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "typedrl ppo: error: resume: seed is 3, but the run was trained with 0; a resumed run keeps its config (only "
        "updates, device, checkpoint_every, vector and env_timeout may change)"
    )
    wrong = run("reinforce", "--out", str(out), "--resume")
    assert wrong.returncode == 2
    assert wrong.stderr.strip().endswith("is a ppo run; resume it with typedrl ppo")
    extended = run("ppo", "--updates", "3", "--out", str(out), "--resume", "--quiet")
    assert extended.returncode == 0, extended.stderr
    assert [record.update for record in load_trainlog(out / "trainlog.json").updates] == [1, 2, 3]
    replaced = run("ppo", "--updates", "1", "--eval-every", "0", "--out", str(out), "--overwrite", "--quiet")
    assert replaced.returncode == 0, replaced.stderr
    assert [record.update for record in load_trainlog(out / "trainlog.json").updates] == [1]


def test_the_progress_bar_fits_an_80_column_terminal(tmp_path: Path) -> None:
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    process = subprocess.Popen(
        [*COMMAND, "ppo", "--updates", "30", "--eval-every", "10", "--eval-episodes", "2", "--out", str(tmp_path)],
        env={**ENV, "COLUMNS": "80"},
        stdout=subprocess.PIPE,
        stderr=follower,
        text=True,
    )
    os.close(follower)
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the process closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=120)
    os.close(leader)
    assert process.returncode == 0
    screen = b"".join(chunks).decode("utf-8", "replace")
    drawn = [re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", part) for part in re.split(r"[\r\n]", screen)]
    assert any("updates" in line and "/30" in line for line in drawn), screen
    assert max(len(line) for line in drawn) <= 80, max(drawn, key=len)


def test_reinforce_prints_one_line_per_epoch(tmp_path: Path) -> None:
    result = run("reinforce", "--epochs", "2", "--out", str(tmp_path / "r"), "--log", str(tmp_path / "log.json"))
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("epoch:")]
    assert len(lines) == 2
    assert lines[0].startswith("epoch: 1   episodes: ")
    assert json.loads((tmp_path / "log.json").read_text())["algo"] == "reinforce"


def test_check_env_reports_a_good_env() -> None:
    result = run("check-env", "CartPole-v1", "--steps", "300")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "CartPole-v1" in result.stdout


def test_quiet_prints_nothing(tmp_path: Path) -> None:
    result = run("ppo", "--updates", "2", "--eval-every", "1", "--out", str(tmp_path / "q"), "--quiet")
    assert result.returncode == 0
    assert result.stdout == ""
    assert result.stderr == ""


CUSTOM_ENVS = """
import gymnasium as gym


class CloseRaises(gym.Wrapper):
    def __init__(self, **kwargs):
        super().__init__(gym.make("CartPole-v1", disable_env_checker=True))

    def close(self):
        raise RuntimeError("close failed")


gym.register("custom/CloseRaises-v0", entry_point=CloseRaises, max_episode_steps=50)
gym.register("custom/CartPole-v0", entry_point="gymnasium.envs.classic_control:CartPoleEnv", max_episode_steps=100)
"""


def test_more_bad_input_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    alias = tmp_path / "alias.yaml"
    alias.write_text("a: &a [*a]\n")
    run_dir = tmp_path / "run"
    assert run_here(capsys, "ppo", "--updates", "1", "--eval-every", "0", "--out", str(run_dir), "--quiet")[0] == 0
    checkpoint = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    checkpoint["rng"]["torch_cpu"] = torch.zeros(3, dtype=torch.uint8)
    checkpoint["digest"] = _digest(checkpoint)
    torch.save(checkpoint, run_dir / "checkpoint.pt")
    cases = [
        (("ppo", "--threads", "100000"), "typedrl ppo: error: argument --threads: 100000 is more than 256"),
        (
            ("eval", str(run_dir), "--episodes", "100000000"),
            "typedrl eval: error: argument --episodes: 100000000 is more",
        ),
        (("eval", str(run_dir), "--seed", str(10**38)), "typedrl eval: error: argument --seed: "),
        (("check-env", "CartPole-v1", "--seed", str(10**23)), "typedrl check-env: error: argument --seed: "),
        (("check-env", "CartPole-v1", "--steps", str(10**23)), "typedrl check-env: error: argument --steps: "),
        (
            ("ppo", "--config", str(alias)),
            f"typedrl ppo: error: config file {str(alias)!r} is not valid YAML: an alias",
        ),
        (("plot", str(tmp_path / "missing.json")), "typedrl plot: error: load_trainlog: "),
        (("eval", "/dev/null"), "typedrl eval: error: load_checkpoint: /dev/null: not a regular file"),
        (
            ("ppo", "--out", str(run_dir), "--resume", "--updates", "3"),
            f"typedrl ppo: error: restore: {run_dir / 'checkpoint.pt'}: restore_rng: a saved random state does not fit",
        ),
        (("ppo", "--out", ""), "typedrl ppo: error: argument --out: is an empty path; expected a name"),
    ]
    for args, message in cases:
        status, stderr = run_here(capsys, *args)
        lines = stderr.strip().splitlines()
        assert (status, len(lines)) == (2, 1), (args, stderr)
        assert lines[0].startswith(message), (args, lines[0])


def test_your_own_environment_module_and_a_close_that_raises(tmp_path: Path) -> None:
    (tmp_path / "custom_envs.py").write_text(CUSTOM_ENVS)
    env = {**ENV, "PYTHONPATH": os.pathsep.join([str(tmp_path), ENV.get("PYTHONPATH", "")])}

    def command(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*COMMAND, *args], capture_output=True, text=True, timeout=180, env=env, check=False)

    trained = command(
        "ppo",
        "--env",
        "custom_envs:custom/CartPole-v0",
        "--updates",
        "2",
        "--eval-episodes",
        "2",
        "--eval-every",
        "1",
        "--out",
        str(tmp_path / "own"),
        "--quiet",
    )
    assert trained.returncode == 0, trained.stderr
    assert load_trainlog(tmp_path / "own" / "trainlog.json").env_id == "custom_envs:custom/CartPole-v0"
    checked = command("check-env", "custom_envs:custom/CloseRaises-v0", "--steps", "20")
    assert checked.returncode == 1
    assert "Traceback" not in checked.stderr
    assert checked.stdout.strip().splitlines()[-1] == "closing the environment raised RuntimeError: close failed"
    closing = command(
        "ppo",
        "--env",
        "custom_envs:custom/CloseRaises-v0",
        "--updates",
        "1",
        "--eval-episodes",
        "2",
        "--eval-every",
        "1",
        "--out",
        str(tmp_path / "closing"),
        "--quiet",
    )
    assert closing.returncode == 0, closing.stderr  # the run's files are written; the failed close is a warning
    assert "RuntimeWarning: " in closing.stderr
    assert "raised RuntimeError: close failed" in closing.stderr
    assert load_trainlog(tmp_path / "closing" / "trainlog.json").finished


def test_an_interrupt_without_a_log_says_so(tmp_path: Path) -> None:
    out = tmp_path / "run"
    process = subprocess.Popen(
        [*COMMAND, "ppo", "--updates", "400", "--eval-every", "0", "--log", "off", "--out", str(out)],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not (out / "checkpoint.pt").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    first = stderr.strip().splitlines()[0]
    assert first.endswith(f"is saved in {out} (the log is off)")
    assert not (out / "trainlog.json").exists()
