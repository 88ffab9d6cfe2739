"""The ``typedrl`` command: a thin mapping of flags onto the pydantic configs in :mod:`typedrl.config`.

Subcommands: ``ppo`` and ``reinforce`` (train), ``eval CHECKPOINT``, ``check-env ENV_ID`` and ``plot LOG``.
A training config is built from a preset (``--preset``), then a JSON/TOML file (``--config``), then the flags
given on the command line, each overriding the one before. A bad flag or value prints one line naming it and
exits with status 2; a run that fails (a contract violation, a non-finite loss) prints one line and exits 1.
"""

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import gymnasium

from typedrl.errors import ConfigError, TypedRLError

__all__ = ["build_parser", "main"]

EXIT_USAGE = 2
EXIT_FAILURE = 1


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _int_at_least(minimum: int, complaint: str) -> Callable[[str], int]:
    """An argparse type: an integer of at least ``minimum``; ``complaint`` says what a smaller one is."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} {complaint}")
        return value

    return parse


_positive = _int_at_least(1, "is not a positive integer")
_natural = _int_at_least(0, "is negative")


def _add_training_flags(parser: argparse.ArgumentParser, *, budget: str, budget_help: str) -> None:
    parser.add_argument("--preset", default="default", help="Named preset to start from (default: %(default)s).")
    parser.add_argument("--config", type=Path, metavar="FILE", help="JSON or TOML config file (overrides the preset).")
    parser.add_argument("--env", dest="env_id", metavar="ENV_ID", help="Gymnasium environment id.")
    parser.add_argument("--num-envs", type=_positive, help="Parallel environments.")
    parser.add_argument("--seed", type=_natural, help="Random seed.")
    parser.add_argument("--device", choices=["cpu", "cuda"], help="Where to train.")
    parser.add_argument(f"--{budget}", type=_positive, help=budget_help)
    parser.add_argument("--eval-every", type=_natural, help="Greedy evaluation every this many updates (0: off).")
    parser.add_argument("--eval-episodes", type=_positive, help="Episodes per greedy evaluation.")
    parser.add_argument("--eval-max-steps", type=_positive, help="Step cap per evaluation episode.")
    parser.add_argument(
        "--out", type=Path, metavar="DIR", help="Run directory (default: runs/<algo>-<env>-<seed>-<time>)."
    )
    parser.add_argument("--resume", action="store_true", help="Continue the run in --out from its checkpoint.")
    parser.add_argument("--log", metavar="PATH|off", help="Where to write trainlog.json (default: in --out), or 'off'.")
    parser.add_argument("--quiet", action="store_true", help="Print nothing but errors; no progress bar.")
    parser.add_argument(
        "--threads",
        type=_positive,
        default=1,
        help="torch CPU threads (default: %(default)s; small networks run fastest, and reproducibly, on one).",
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``typedrl`` argument parser (exposed for the docs' CLI reference)."""
    parser = _Parser(prog="typedrl", description="Typed, checked reinforcement learning on Gymnasium.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")

    ppo = commands.add_parser("ppo", help="Train PPO (default: CartPole-v1, tuned preset).", description="Train PPO.")
    _add_training_flags(ppo, budget="updates", budget_help="Number of PPO updates.")
    reinforce = commands.add_parser(
        "reinforce", help="Train REINFORCE (the tch-rs CartPole example).", description="Train REINFORCE."
    )
    _add_training_flags(reinforce, budget="epochs", budget_help="Number of epochs.")

    evaluate = commands.add_parser(
        "eval", help="Greedy evaluation of a checkpoint.", description="Evaluate a checkpoint."
    )
    evaluate.add_argument("checkpoint", type=Path, help="A checkpoint.pt written by a training run.")
    evaluate.add_argument("--episodes", type=_positive, default=10, help="Episodes (default: %(default)s).")
    evaluate.add_argument(
        "--max-steps", type=_positive, default=1000, help="Step cap per episode (default: %(default)s)."
    )
    evaluate.add_argument(
        "--seed", type=_natural, default=0, help="Episode k is seeded seed + k (default: %(default)s)."
    )
    evaluate.add_argument(
        "--device", choices=["cpu", "cuda"], default="cpu", help="Where to run (default: %(default)s)."
    )

    check = commands.add_parser(
        "check-env", help="Run an environment through the contract with random actions.", description="Check an env."
    )
    check.add_argument("env_id", help="Gymnasium environment id.")
    check.add_argument("--steps", type=_positive, default=1000, help="Steps to run (default: %(default)s).")
    check.add_argument("--seed", type=_natural, default=0, help="Seed (default: %(default)s).")

    plot = commands.add_parser("plot", help="Plot a trainlog.json's evaluation curve.", description="Plot a curve.")
    plot.add_argument("log", type=Path, help="A trainlog.json.")
    plot.add_argument("--out", type=Path, help="Output PNG (default: curve.png beside the log).")
    return parser


def _training_config(args: argparse.Namespace) -> Any:
    from typedrl.config import ppo_preset, read_config_file, reinforce_preset

    overrides: dict[str, Any] = {}
    if args.config is not None:
        overrides = read_config_file(args.config)
    for flag in ("env_id", "num_envs", "seed", "device", "updates", "epochs"):
        value = getattr(args, flag, None)
        if value is not None:
            overrides[flag] = value
    evaluation = {key: getattr(args, f"eval_{key}") for key in ("every", "episodes", "max_steps")}
    evaluation = {key: value for key, value in evaluation.items() if value is not None}
    if evaluation:
        overrides["eval"] = {**overrides.get("eval", {}), **evaluation}
    if args.command == "ppo":
        return ppo_preset(args.preset, **overrides)
    return reinforce_preset(args.preset, **overrides)


def _train(args: argparse.Namespace) -> int:
    import torch

    from typedrl.runner import train

    # Results depend on the thread count (the order of floating-point sums), so it is fixed, not left to torch.
    torch.set_num_threads(args.threads)
    config = _training_config(args)
    if args.resume and args.out is None:
        raise ConfigError("--resume needs --out DIR: the run directory to continue", "resume")
    log: Path | str | None = None if args.log is None else ("off" if args.log == "off" else Path(args.log))
    result = train(config, out_dir=args.out, log=log, resume=args.resume, quiet=args.quiet)  # type: ignore[arg-type]
    if not args.quiet:
        final = result.final_evaluation
        summary = "" if final is None else f"; greedy return {final.mean:.1f} ± {final.std:.1f}"
        print(
            f"done: {result.updates} updates, {result.env_steps} env steps, {result.train_seconds:.1f}s training",
            end="",
        )
        print(summary)
        print(f"run directory: {result.out_dir}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from typedrl.checkpoint import load_checkpoint, restore
    from typedrl.config import PPOConfig, ReinforceConfig
    from typedrl.evaluate import evaluate
    from typedrl.runner import build_algorithm, greedy_actor

    checkpoint = load_checkpoint(args.checkpoint)
    data = dict(checkpoint.config)
    config = (PPOConfig if data.get("algo") == "ppo" else ReinforceConfig).model_validate(
        {**data, "device": args.device}
    )
    algorithm = build_algorithm(config)
    restore(checkpoint, modules={"model": algorithm.model}, rng=False)
    result = evaluate(
        greedy_actor(algorithm),
        config.env_id,
        episodes=args.episodes,
        base_seed=args.seed,
        max_steps=args.max_steps,
        device=args.device,
    )
    print(f"{config.env_id}, {config.algo} checkpoint {args.checkpoint}: {result}")
    return 0


def _check_env(args: argparse.Namespace) -> int:
    from typedrl.envs import check_env

    report = check_env(args.env_id, steps=args.steps, seed=args.seed)
    print(report)
    return 0 if not report.violations else EXIT_FAILURE


def _plot(args: argparse.Namespace) -> int:
    from typedrl.plot import plot_curve

    out = args.out if args.out is not None else args.log.with_name("curve.png")
    print(plot_curve(args.log, out))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``typedrl`` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    handlers = {"ppo": _train, "reinforce": _train, "eval": _evaluate, "check-env": _check_env, "plot": _plot}
    try:
        return handlers[args.command](args)
    except ConfigError as error:
        print(f"typedrl {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except gymnasium.error.Error as error:  # an unknown environment id, a missing optional dependency
        print(f"typedrl {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except TypedRLError as error:
        print(f"typedrl {args.command}: error: {error}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print(f"typedrl {args.command}: interrupted; the last checkpoint and log are kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
