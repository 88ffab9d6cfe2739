"""The ``typedrl`` command: a thin mapping of flags onto the pydantic configs in :mod:`typedrl.config`.

Subcommands: ``ppo`` and ``reinforce`` (train), ``eval CHECKPOINT``, ``check-env ENV_ID`` and ``plot LOG``.
A training config is built from a preset (``--preset``), then a JSON/TOML/YAML file (``--config``), then the
flags given on the command line, each overriding the one before. ``--resume`` reads the config from the run's
checkpoint instead; flags then may only raise the budget or change the device.

Exit statuses: 0 done; 2 for anything a user handed over that cannot be used (a flag, a value, a config file, an
environment id or space, a path, a checkpoint that is not one), checked before training starts, with one line on
stderr naming it; 1 for a run that fails (a contract violation, an environment that raises, a non-finite loss),
with one line, the last checkpoint and log kept; 130 after Ctrl-C (143 after SIGTERM), with one line saying
truthfully what was saved.

The module imports nothing heavy at the top, so ``--help`` is quick and an interrupt while torch loads is handled.
"""

import argparse
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

__all__ = ["build_parser", "main"]

EXIT_USAGE = 2
EXIT_FAILURE = 1
EXIT_SIGINT = 128 + signal.SIGINT


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _int_at_least(minimum: int, complaint: str, *, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer of at least ``minimum`` (``complaint`` says what a smaller one is) and at
    most ``maximum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} {complaint}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"{value} is more than {maximum}")
        return value

    return parse


_positive = _int_at_least(1, "is not a positive integer")
_natural = _int_at_least(0, "is negative")
# Bounds for flags that do not go through a config (whose fields have their own): the same as the config's.
_MAX_SEED = 2**32 - 1
_threads = _int_at_least(1, "is not a positive integer", maximum=256)
_episodes = _int_at_least(1, "is not a positive integer", maximum=10_000)
_steps = _int_at_least(1, "is not a positive integer", maximum=10**9)
_eval_seed = _int_at_least(0, "is negative", maximum=_MAX_SEED - 100_000)
_seed = _int_at_least(0, "is negative", maximum=_MAX_SEED)


def _path(text: str) -> Path:
    """An argparse type: a path that is not empty (``Path("")`` would quietly mean the current directory)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("is an empty path; expected a name")
    return Path(text)


# Training flags that map onto config fields: flag → (location in the config, argparse type, help).
_FIELD_FLAGS: dict[str, tuple[tuple[str, ...], Callable[[str], Any], str]] = {
    "--env": (("env_id",), str, "Gymnasium environment id."),
    "--num-envs": (("num_envs",), _positive, "Parallel environments (at most 65536)."),
    "--vector": (("vector",), str, "sync (default) or async: one worker process per environment."),
    "--env-timeout": (("env_timeout",), float, "With --vector async: seconds a worker may take per reset or step."),
    "--seed": (("seed",), _natural, "Random seed (at most 2**32 - 1)."),
    "--device": (("device",), str, "Where to train: cpu or cuda."),
    "--eval-every": (("eval", "every"), _natural, "Greedy evaluation every this many updates (0: off)."),
    "--eval-episodes": (("eval", "episodes"), _positive, "Episodes per greedy evaluation."),
    "--eval-max-steps": (("eval", "max_steps"), _positive, "Step cap per evaluation episode."),
    "--checkpoint-every": (("checkpoint_every",), _positive, "Save checkpoint and log every this many updates."),
    "--target-return": (("target_return",), float, "Stop once a greedy evaluation's mean return reaches this."),
}


def _dest(flag: str) -> str:
    return flag.removeprefix("--").replace("-", "_")


def _add_training_flags(parser: argparse.ArgumentParser, *, presets: Sequence[str], aliases: Sequence[str]) -> None:
    parser.add_argument(
        "--preset",
        choices=presets,
        help=f"Named preset to start from (one of {', '.join(presets)}; default: the preset made for --env when "
        "there is one, as rl-zoo picks by environment, else default).",
    )
    parser.add_argument(
        "--config", type=Path, metavar="FILE", help="JSON, TOML or YAML config file (overrides the preset)."
    )
    for flag, (_, kind, text) in _FIELD_FLAGS.items():
        metavar = "ENV_ID" if flag == "--env" else None
        if flag == "--device":
            parser.add_argument(flag, choices=["cpu", "cuda"], help=text)
        elif flag == "--vector":
            parser.add_argument(flag, choices=["sync", "async"], help=text)
        else:
            parser.add_argument(flag, type=kind, metavar=metavar, help=text)
        if flag == "--device":
            names = ", ".join(aliases)
            parser.add_argument(
                "--updates",
                *aliases,
                dest="updates",
                type=_positive,
                help="The budget: training updates." + (f" ({names}: the same, its older name.)" if aliases else ""),
            )
    parser.add_argument(
        "--out", type=_path, metavar="DIR", help="Run directory (default: runs/<algo>-<env>-<seed>-<time>)."
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="Continue the run in --out from its checkpoint, with its config; --updates may raise the budget.",
    )
    parser.add_argument("--overwrite", action="store_true", help="Replace a run already in --out.")
    parser.add_argument(
        "--tensorboard",
        type=Path,
        metavar="DIR",
        help="Also write TensorBoard event files to DIR (needs the tensorboard package: typedrl[tensorboard]).",
    )
    parser.add_argument("--log", metavar="PATH|off", help="Where to write trainlog.json (default: in --out), or 'off'.")
    parser.add_argument("--quiet", action="store_true", help="Print nothing but errors; no progress bar.")
    parser.add_argument(
        "--threads",
        type=_threads,
        default=1,
        help="torch CPU threads (default: %(default)s; small networks run fastest, and reproducibly, on one).",
    )


def _sweep(text: str) -> tuple[str, list[float]]:
    """An argparse type: ``NAME=V1,V2,...`` (a hyperparameter and its values, one block of agents each)."""
    name, equals, values = text.partition("=")
    if not equals or not name.strip() or not values.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=V1,V2,...")
    try:
        numbers = [float(value) for value in values.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} holds a value that is not a number") from None
    return name.strip(), numbers


def _add_agents_flags(parser: argparse.ArgumentParser) -> None:
    """Flags of algorithms that train several agents at once (PPO)."""
    parser.add_argument(
        "--agents",
        type=_int_at_least(1, "is not a positive integer", maximum=4096),
        help="Train this many independent agents at once (seeds seed, seed+1, ...; at most 4096); each gets its "
        "own log in OUT/agents/agent-K and the run a summary.json (interquartile mean over agents).",
    )
    parser.add_argument(
        "--sweep",
        type=_sweep,
        action="append",
        metavar="NAME=V1,V2",
        help="With --agents: values of a hyperparameter for the agents (repeatable: every combination of the "
        "values is a point of a grid, with agents / points seeds each), e.g. --sweep learning_rate=3e-4,1e-3.",
    )
    parser.add_argument(
        "--env-backend",
        choices=["gymnasium", "torch"],
        help="gymnasium (default) or torch: typedrl's tensor environments (CartPole-v1, Acrobot-v1, MountainCar-v0, "
        "MountainCarContinuous-v0, Pendulum-v1), stepped as tensors on the device.",
    )


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("typedrl")
    except PackageNotFoundError:  # run from a source tree that was not installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    """The ``typedrl`` argument parser (exposed for the docs' CLI reference): one training command per
    registered algorithm (:func:`typedrl.algos.register`), then ``eval``, ``check-env`` and ``plot``."""
    from typedrl.algos import algorithm_names, algorithm_spec

    parser = _Parser(
        prog="typedrl",
        description="Typed, checked reinforcement learning on Gymnasium.",
        epilog="Run 'typedrl COMMAND --help' for the flags of a command.",
    )
    parser.add_argument("--version", action="version", version=f"typedrl {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")

    for name in algorithm_names():
        spec = algorithm_spec(name)
        summary = spec.description or f"Train {name}."
        trainer = commands.add_parser(name, help=summary, description=summary)
        # REINFORCE's budget was --epochs (the tch-rs example's word) before one vocabulary for every algorithm.
        _add_training_flags(trainer, presets=list(spec.presets), aliases=["--epochs"] if name == "reinforce" else [])
        if "agents" in spec.config.model_fields:
            _add_agents_flags(trainer)

    evaluate = commands.add_parser(
        "eval",
        help="Greedy evaluation of a checkpoint.",
        description="Evaluate a checkpoint greedily. Without flags, as the run's own evaluations did (its eval "
        "settings), so the result reproduces the last figure in its log.",
    )
    evaluate.add_argument(
        "checkpoint", type=Path, help="A checkpoint.pt written by a training run, or its run directory."
    )
    evaluate.add_argument(
        "--episodes", type=_episodes, help="Episodes, at most 10000 (default: the run's eval episodes)."
    )
    evaluate.add_argument("--max-steps", type=_steps, help="Step cap per episode (default: the run's).")
    evaluate.add_argument(
        "--seed", type=_eval_seed, help="Episode k is seeded seed + k (default: the run's eval seed)."
    )
    evaluate.add_argument(
        "--device", choices=["cpu", "cuda"], default="cpu", help="Where to run (default: %(default)s)."
    )
    evaluate.add_argument(
        "--agent",
        type=_natural,
        default=0,
        help="Of a run with several agents (--agents K), the agent to evaluate (default: %(default)s).",
    )
    evaluate.add_argument(
        "--video",
        type=Path,
        metavar="DIR",
        help='Also record each episode as an mp4 file in DIR (pip install "typedrl[video]"; MuJoCo tasks render '
        "off-screen with MUJOCO_GL=egl, the default here).",
    )

    check = commands.add_parser(
        "check-env", help="Run an environment through the contract with random actions.", description="Check an env."
    )
    check.add_argument("env_id", help="Gymnasium environment id.")
    check.add_argument("--steps", type=_steps, default=1000, help="Steps to run (default: %(default)s).")
    check.add_argument("--seed", type=_seed, default=0, help="Seed (default: %(default)s).")

    plot = commands.add_parser(
        "plot",
        help="Plot a trainlog.json's evaluation curve, or overlay several runs.",
        description="Plot one run's curve, or overlay the greedy evaluation curves of several runs (seeds).",
    )
    plot.add_argument("log", type=Path, nargs="+", help="trainlog.json files, or their run directories.")
    plot.add_argument(
        "--out",
        type=Path,
        help="Output .png, .svg or .pdf (default: curve.png beside one log; curves.png in the directory that holds "
        "several runs' directories).",
    )
    return parser


def _flag_layers(args: argparse.Namespace) -> list[tuple[str, dict[str, Any]]]:
    """One config layer per flag given, named by the flag, so an invalid value is blamed on its flag."""
    layers: list[tuple[str, dict[str, Any]]] = []
    for flag, (location, _, _) in {**_FIELD_FLAGS, "--updates": (("updates",), _positive, "")}.items():
        value = getattr(args, _dest(flag), None)
        if value is None:
            continue
        data: dict[str, Any] = {location[-1]: value}
        for key in reversed(location[:-1]):
            data = {key: data}
        layers.append((flag, data))
    for flag in ("--agents", "--env-backend"):
        value = getattr(args, _dest(flag), None)
        if value is not None:
            layers.append((flag, {_dest(flag): value}))
    sweeps = getattr(args, "sweep", None)
    if sweeps:
        names = [name for name, _ in sweeps]
        twice = next((name for name in names if names.count(name) > 1), None)
        if twice is not None:
            from typedrl.errors import ConfigError

            raise ConfigError(f"--sweep: {twice} is given twice; expected each hyperparameter once", "sweep")
        layers.append(("--sweep", {"sweep": dict(sweeps)}))
    return layers


def _training_config(args: argparse.Namespace) -> Any:
    from typedrl.algos import algorithm_spec
    from typedrl.config import build, preset_for_env, read_config_file

    spec = algorithm_spec(args.command)
    preset = args.preset or preset_for_env(spec.presets, getattr(args, "env", None))
    layers: list[tuple[str, Any]] = [(f"{spec.name} preset {preset!r}", spec.presets[preset])]
    if args.config is not None:
        layers.append((f"config file {str(args.config)!r}", read_config_file(args.config)))
    return build(spec.config, [*layers, *_flag_layers(args)])


def _resumed_config(args: argparse.Namespace) -> Any:
    """The run's config from its checkpoint, with the flags given on top (train() refuses what may not change)."""
    from typedrl.algos import algorithm_spec
    from typedrl.checkpoint import load_checkpoint
    from typedrl.config import build
    from typedrl.errors import CheckpointError, ConfigError
    from typedrl.runner import CHECKPOINT_NAME, resumed_config

    if args.preset is not None or args.config is not None:
        raise ConfigError("--resume takes the run's config from its checkpoint; drop --preset and --config", "resume")
    path = args.out / CHECKPOINT_NAME
    if not path.is_file():
        raise ConfigError(f"--resume: {str(path)!r} does not exist; nothing to resume", "resume")
    try:
        stored = resumed_config(load_checkpoint(path))
    except CheckpointError as error:  # the user's run directory holds no usable checkpoint: bad input
        raise ConfigError(f"--resume: {error}", "resume") from error
    if stored.algo != args.command:
        raise ConfigError(
            f"--resume: the run in {str(args.out)!r} is a {stored.algo} run; resume it with typedrl {stored.algo}",
            "resume",
        )
    model = algorithm_spec(args.command).config
    return build(model, [(f"the config in {path}", stored.model_dump(mode="json")), *_flag_layers(args)])


def _train(args: argparse.Namespace) -> int:
    import torch

    from typedrl.errors import ConfigError
    from typedrl.runner import train

    # Results depend on the thread count (the order of floating-point sums), so it is fixed, not left to torch.
    torch.set_num_threads(args.threads)
    if args.resume and args.out is None:
        raise ConfigError("--resume needs --out DIR: the run directory to continue", "resume")
    config = _resumed_config(args) if args.resume else _training_config(args)
    result = train(
        config,
        out_dir=args.out,
        log=args.log,
        resume=args.resume,
        overwrite=args.overwrite,
        quiet=args.quiet,
        tensorboard=args.tensorboard,
    )
    if not args.quiet:
        final, best = result.final_evaluation, result.best_evaluation
        summary = "" if final is None else f"; greedy return {final.mean:.1f} ± {final.std:.1f}"
        print(
            f"done: {result.updates} updates, {result.env_steps} env steps, {result.train_seconds:.1f}s training"
            f"{summary}"
        )
        if best is not None and result.best_path is not None and final is not None and best.mean > final.mean:
            print(f"best: greedy return {best.mean:.1f} ± {best.std:.1f} in {result.best_path}")
        print(f"run directory: {result.out_dir}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from typedrl.algos import algorithm_spec, resolve_device, spaces_of
    from typedrl.checkpoint import load_checkpoint, resolve_checkpoint_path, restore
    from typedrl.config import EvalConfig
    from typedrl.errors import ConfigError
    from typedrl.evaluation import evaluate
    from typedrl.runner import resumed_config

    if args.video is not None:
        # Frames are drawn off-screen: MuJoCo through OpenGL, which without a display means EGL (Gymnasium's
        # docs); pygame (classic control) through SDL, whose dummy video driver opens no window and probes none.
        os.environ.setdefault("MUJOCO_GL", "egl")
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    path = resolve_checkpoint_path(args.checkpoint)
    checkpoint = load_checkpoint(path)
    config = resumed_config(checkpoint)
    # The actor and the evaluation environments, nothing else: no training environments, no optimizer.
    device = resolve_device(args.device)
    modules, actor = algorithm_spec(config.algo).evaluation_actor(config, spaces_of(config.env_id))
    restore(checkpoint, modules=modules, rng=False)
    agents = getattr(config, "agents", 1)
    if args.agent >= agents:
        raise ConfigError(
            f"--agent is {args.agent}; the run trained {agents} agent(s): expected 0 to {agents - 1}", "agent"
        )
    if args.agent:
        from typedrl.stacked import StackedActorCritic

        stacked = modules["model"]
        assert isinstance(stacked, StackedActorCritic)
        actor = stacked.head(args.agent)
    actor.to(device)
    run_eval: EvalConfig = config.eval
    episodes = args.episodes if args.episodes is not None else run_eval.episodes
    base_seed = args.seed if args.seed is not None else run_eval.seed
    max_steps = args.max_steps if args.max_steps is not None else run_eval.max_steps
    if agents > 1 and getattr(config, "env_backend", "gymnasium") == "torch" and args.video is None:
        # Such a run evaluates its agents on the tensor environments: so does this, to reproduce its figures.
        from torch import Tensor

        from typedrl.evaluation import evaluate_tensor_envs

        def outputs(observations: Tensor) -> Tensor:
            scores: Tensor = actor(observations.flatten(0, 1))
            return scores.reshape(*observations.shape[:2], -1)

        actor.eval()
        result = evaluate_tensor_envs(
            outputs, config.env_id, episodes=episodes, base_seed=base_seed, max_steps=max_steps, device=device
        )[0]
    else:
        result = evaluate(
            actor,
            config.env_id,
            episodes=episodes,
            base_seed=base_seed,
            max_steps=max_steps,
            device=args.device,
            video_dir=args.video,
        )
    which = f" agent {args.agent}" if agents > 1 else ""
    print(f"{config.env_id}, {config.algo} checkpoint {path}{which}: {result}")
    if args.video is not None:
        print(f"videos: {args.video}")
    return 0


def _check_env(args: argparse.Namespace) -> int:
    import gymnasium

    from typedrl.envs import check_env
    from typedrl.errors import ConfigError, InputError

    try:
        # Gymnasium's own passive checker asserts on the first results; the contract checks every one instead.
        env = gymnasium.make(args.env_id, disable_env_checker=True)
    except gymnasium.error.Error as error:
        raise ConfigError(str(error), "env_id") from None
    except Exception as error:  # the env's own module or constructor failed
        detail = " ".join(f"{type(error).__name__}: {error}".split())
        raise ConfigError(f"env_id is {args.env_id!r}: it cannot be made: {detail}", "env_id") from None
    try:
        report = check_env(env, steps=args.steps, seed=args.seed)
    except InputError as error:  # spaces the contract cannot check: the same refusal as training's, exit 2
        raise ConfigError(f"env_id is {args.env_id!r}: {error}", "env_id") from None
    finally:
        closing = _close_quietly(env)
    print(report)
    if closing is not None:
        print(f"closing the environment raised {closing}")
    return 0 if report.passed and closing is None else EXIT_FAILURE


def _close_quietly(env: Any) -> str | None:
    """Close ``env``; what it raised, as one line, or ``None``."""
    try:
        env.close()
    except Exception as error:
        return " ".join(f"{type(error).__name__}: {error}".split())
    return None


def _plot(args: argparse.Namespace) -> int:
    from typedrl.plot import plot_curve, plot_curves
    from typedrl.runner import LOG_NAME

    logs = [log / LOG_NAME if log.is_dir() else log for log in args.log]
    if len(logs) == 1:
        out = args.out if args.out is not None else logs[0].with_name("curve.png")
        print(plot_curve(logs[0], out))
        return 0
    parent = Path(os.path.commonpath([log.resolve().parent.parent for log in logs]))
    print(plot_curves(logs, args.out if args.out is not None else parent / "curves.png"))
    return 0


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``typedrl`` command; returns the exit status."""
    command = "typedrl"
    try:
        try:
            parser = build_parser()  # imports the algorithms (their registry): torch, gymnasium, typedrl itself
        except Exception as error:  # typedrl cannot load, e.g. a bad TYPEDRL_SHAPE_CHECKS
            usage = type(error).__name__ == "ConfigError"
            print(f"{command}: error: {_one_line(error)}", file=sys.stderr)
            return EXIT_USAGE if usage else EXIT_FAILURE
        args = parser.parse_args(argv)
        command = f"typedrl {args.command}"
        handlers = {"eval": _evaluate, "check-env": _check_env, "plot": _plot}
        return _run(handlers.get(args.command, _train), args, command)
    except KeyboardInterrupt:  # before a run started: nothing was written
        _ignore_interrupts()
        print(f"{command}: interrupted before anything was written", file=sys.stderr)
        return EXIT_SIGINT


def _ignore_interrupts() -> None:
    """The command is ending because of an interrupt: a further Ctrl-C must not cut its last line short."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _run(handler: Callable[[argparse.Namespace], int], args: argparse.Namespace, command: str) -> int:
    def fail(error: BaseException, status: int) -> int:
        print(f"{command}: error: {_one_line(error)}", file=sys.stderr)
        return status

    try:
        import gymnasium

        from typedrl.errors import ConfigError, TypedRLError
        from typedrl.runner import RunInterrupted
    except KeyboardInterrupt:
        raise
    except Exception as error:  # e.g. a bad TYPEDRL_SHAPE_CHECKS while typedrl loads
        return fail(error, EXIT_USAGE if type(error).__name__ == "ConfigError" else EXIT_FAILURE)
    try:
        return handler(args)
    except RunInterrupted as interrupted:
        _ignore_interrupts()
        print(f"{command}: {interrupted}", file=sys.stderr)
        if interrupted.saved_update is not None and args.command in ("ppo", "reinforce"):
            print(
                f"{command}: continue with: typedrl {args.command} --out {interrupted.out_dir} --resume",
                file=sys.stderr,
            )
        return 128 + interrupted.signal_number
    except KeyboardInterrupt:
        _ignore_interrupts()
        print(f"{command}: interrupted", file=sys.stderr)
        return EXIT_SIGINT
    except ConfigError as error:
        return fail(error, EXIT_USAGE)
    except gymnasium.error.Error as error:  # an unknown environment id, a missing optional dependency
        return fail(error, EXIT_USAGE)
    except TypedRLError as error:
        # A checkpoint or log handed over that cannot be used is bad input; writing one that fails is a failure.
        handed_over = type(error).__name__ in ("CheckpointError", "RunLogError") and not getattr(error, "write", False)
        return fail(error, EXIT_USAGE if handed_over else EXIT_FAILURE)
    except MemoryError:
        return fail(MemoryError("out of memory"), EXIT_FAILURE)
    except OSError as error:  # a file system refusal typedrl did not foresee: still one line
        return fail(error, EXIT_FAILURE)


if __name__ == "__main__":
    sys.exit(main())
