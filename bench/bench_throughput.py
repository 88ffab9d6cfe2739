"""PPO training throughput on CartPole-v1: typedrl against rejax (PureJaxRL-style PPO in JAX, on gymnax), one core.

Run: ``pip install -e ".[bench]"`` then ``python bench/bench_throughput.py``, alone on the machine (``--repeats 3``
for the throughput rows, ``--solve-repeats 3`` for the time to solve, ``--agents 8 32 128``, ``--no-solve``,
``--smoke`` for a check that it runs); writes ``bench/results/throughput.json`` (``--out PATH`` elsewhere; layout in
``bench/_results.py``), from which the docs render their tables.

**One core.** The script pins itself to core 0 (``--core`` for another) with ``os.sched_setaffinity``, which is what
``taskset -c 0`` does, before torch or JAX is loaded, so every thread either library starts stays on that core; torch
runs one thread (``torch.set_num_threads(1)``). Every rejax measurement runs in a subprocess of its own
(``python bench/bench_throughput.py --rejax-child SPEC``, under ``taskset -c CORE`` where ``taskset`` exists, and
pinned again by the child itself) with ``XLA_FLAGS="--xla_cpu_multi_thread_eigen=false
intra_op_parallelism_threads=1"``, ``JAX_PLATFORMS=cpu`` and JAX's persistent compilation cache off: JAX's threads
and memory never mix with torch's, and every rejax figure comes with a fresh compilation.

**rejax** runs its own CartPole configuration (``configs/gymnax/cartpole.yaml`` of the rejax repository, minus its
``eval_freq``: :data:`REJAX_HYPERPARAMETERS`) as its README does for many seeds::

    algo = get_algo("ppo").create(**REJAX_HYPERPARAMETERS, total_timesteps=..., eval_freq=...,
                                  skip_initial_evaluation=True)
    train = jax.jit(jax.vmap(algo.train)); keys = jax.random.split(jax.random.PRNGKey(seed), K)
    compiled = train.lower(keys).compile()                                  # timed: compilation
    ts, (lengths, returns) = compiled(keys); jax.block_until_ready(ts)     # timed: running

For throughput, ``eval_freq = total_timesteps``: rejax's ``train`` always evaluates at the end of each block of
``eval_freq`` steps, so there is one evaluation, at the end, **inside the timed running time**: rejax's own
evaluation, 128 episodes (``rejax.algos.algorithm``: ``evaluate(act, rng, env, env_params, 128, max_steps)``) of
its *sampled* actions (``DiscretePolicy.act`` samples), up to 500 steps each. Its steps per second are
``K × steps per agent / running seconds``; compilation is reported beside them, never inside.

**typedrl** runs in this process: ``build_ppo(PPOConfig(...))``, for one agent :class:`~typedrl.algos.ppo.PPO` on
typedrl's tensor CartPole (``env_backend="torch"``, collected by ``TensorRolloutCollector``) or on Gymnasium's native
``CartPoleVectorEnv`` (``env_backend="gymnasium"``: ``make_env`` picks the id's vector entry point; the row records
the class it got), and for K > 1 agents :class:`~typedrl.algos.batched.BatchedPPO` on the tensor CartPole. It has
no compilation step (reported as 0); its construction and its first update (the "warm-up") are timed apart and not
counted. Its steps per second are the environment steps collected by the
timed ``update()`` calls (all agents) over the seconds spent in them. After the timed updates, untimed, a greedy
evaluation (10 episodes seeded 10000 + k, up to 500 steps) records where training got.

The throughput rows (each measured ``--repeats`` times; the median is reported, every repeat is kept):

1. ``same_work``, one agent, rejax's hyperparameters on both sides (:data:`SAME_WORK`: 5 envs × 100 steps, 5 epochs
   of 5 minibatches, Adam 7.5e-4, tanh 64×64, entropy 0.01, gradient clipping 0.5, λ 0.95, γ 0.99, ε 0.2, value
   coefficient 0.5, no annealing; advantages z-scored per minibatch and the value clipped at ε, as rejax does),
   typedrl on the tensor env and on Gymnasium;
2. ``own``, one agent, each library's own hyperparameters: typedrl's :data:`TYPEDRL_HYPERPARAMETERS` on the tensor env
   and on Gymnasium; rejax its configuration, which is row 1's (one rejax measurement serves both rows);
3. ``own``, K = 8, 32, 128 agents (typedrl on the tensor env; rejax ``vmap``-ped over K keys), total steps per
   second. Steps per agent: :data:`THROUGHPUT_STEPS`.

The differences that remain in row 1 are rejax's: separate Adam optimizers for actor and critic (``eps`` 1e-8),
whose ``max_grad_norm`` is ``optax.clip``, an element-wise clip of each gradient at 0.5 and not a norm clip; and
gymnax's CartPole ends an episode at its 500-step limit as a termination, where typedrl bootstraps a truncation.

**Time to solve** (K = 32 agents, each with its own seed: typedrl's agents ``seed … seed + 31``, rejax's 32 keys
split from ``PRNGKey(seed)``), both libraries with their own hyperparameters and the same evaluation: greedy
(argmax) actions, :data:`EPISODES` episodes of at most 500 steps, about every :data:`SOLVE_EVAL_EVERY` steps per
agent (rejax: ``eval_freq``, a greedy ``eval_callback`` in place of its sampled one; typedrl: every
``ceil(SOLVE_EVAL_EVERY / rollout)`` updates, ``evaluate_agents(episodes=10, seed=1000 + 10·i, max_steps=500)``). An
agent is solved from its first evaluation with a mean ≥ :data:`THRESHOLD`; the run is solved at the first evaluation
at which every agent has been solved at least once.

- typedrl: the wall seconds from the start of the trainer's construction to the end of that evaluation, construction
  and evaluations included (its evaluations are not training time, but rejax's are inside its running time, so both
  are counted alike); it stops there, or at the budget (:data:`SOLVE_BUDGET` steps per agent).
- rejax runs the whole budget in one compiled call, so its time to solve is a **linear interpolation**:
  ``create + compilation + running seconds × (steps per agent at that evaluation / steps per agent run)``, running
  time being linear in steps (every block of ``eval_freq`` steps does the same work, evaluation included).

When not every agent solves within the budget, the time to solve is ``None`` (never a made-up figure) and the row
says how many did: ``passed_fraction`` (solved at least once) and ``final_fraction`` (≥ 475 at the last
evaluation). Each agent's first-solve steps are kept.

Rows of the JSON (``results``): throughput rows ``{"kind": "throughput", "setting", "K", "library", "env",
"steps_per_agent", "seeds", "steps", "seconds", "steps_per_second", "compile_seconds", "warmup_seconds",
"construct_seconds", "final_mean", "final_solved", ...}``, every measured figure a list with one value per repeat,
in the order taken (rejax first, then typedrl, repeat by repeat); time-to-solve rows ``{"kind": "solve", "library",
"K", "repeat", "seed", "seconds_to_solve", "steps_to_solve", "first_solve_steps", "passed_fraction",
"final_fraction", "evaluations": [{"env_steps", "mean", "min", "passed"}, ...], ...}``, one per run. The summary
holds the medians, the ratios typedrl / rejax and the issue's targets: with its own hyperparameters typedrl on the
tensor env at least 1× rejax's steps per second at every K, and a time to solve for K = 32 below rejax's.

``--smoke`` (the test suite's, under a minute): K = 1 and 2, three timed updates of typedrl, rejax for 2,000 steps at
K = 1 only (each rejax measurement compiles for 10–20 s), a time to solve for K = 2 over 2,000 steps; without JAX
and rejax installed (CI installs ``.[dev]``, not ``.[bench]``) it measures typedrl alone and says so.
"""

import argparse
import importlib
import importlib.util
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from typedrl.config import PPO_PRESETS  # pydantic only: no torch before the core is pinned

ENV_ID = "CartPole-v1"
THRESHOLD = 475.0
EPISODES = 10  # greedy evaluation episodes: time to solve (both libraries) and typedrl's untimed final evaluation
MAX_STEPS = 500
EVAL_SEED = 1000  # time to solve: evaluation i uses seeds EVAL_SEED + EPISODES·i …
FINAL_EVAL_SEED = 10_000  # throughput rows: the untimed final evaluation
REJAX_EVAL_EPISODES = 128  # rejax's own evaluation (rejax.algos.algorithm.Algorithm.create), sampled actions
XLA_FLAGS = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
CHILD_MARKER = "REJAX-RESULT "
Backend = Literal["gymnasium", "torch"]  # PPOConfig.env_backend

# rejax's own CartPole configuration (configs/gymnax/cartpole.yaml in the rejax repository), without its
# total_timesteps and eval_freq, which each measurement sets.
REJAX_HYPERPARAMETERS: dict[str, Any] = {
    "env": ENV_ID,
    "agent_kwargs": {"activation": "tanh"},
    "num_envs": 5,
    "num_steps": 100,
    "num_epochs": 5,
    "num_minibatches": 5,
    "learning_rate": 0.00075,
    "max_grad_norm": 0.5,
    "gamma": 0.99,
    "gae_lambda": 0.95,
    "clip_eps": 0.2,
    "ent_coef": 0.01,
    "vf_coef": 0.5,
}
# The same hyperparameters as PPOConfig fields (rejax's network: two hidden layers of 64, tanh).
SAME_WORK: dict[str, Any] = {
    "num_envs": 5,
    "horizon": 100,
    "epochs": 5,
    "minibatches": 5,
    "learning_rate": 7.5e-4,
    "hidden": 64,
    "layers": 2,
    "activation": "tanh",
    "entropy_coef": 0.01,
    "max_grad_norm": 0.5,
    "lam": 0.95,
    "gamma": 0.99,
    "clip": 0.2,
    "value_coef": 0.5,
    "anneal_lr": False,
    "anneal_clip": False,
    "target_kl": None,
    "normalize_advantage": "minibatch",  # rejax z-scores the advantages of each minibatch
    "clip_range_vf": 0.2,  # and clips the value at clip_eps
}
# typedrl's own hyperparameters for CartPole: its ``tensor-cartpole`` preset (PPOConfig fields; the rest are
# PPOConfig's defaults), less the run's own budget, evaluation and backend, which each row sets.
TYPEDRL_HYPERPARAMETERS: dict[str, Any] = {
    name: value
    for name, value in PPO_PRESETS["tensor-cartpole"].items()
    if name not in ("updates", "eval", "env_backend")
}
AGENTS = (8, 32, 128)
# Environment steps per agent in each throughput measurement, by K (whole rollouts: rounded up by each library).
THROUGHPUT_STEPS = {1: 100_000, 8: 100_000, 32: 50_000, 128: 25_000}
SOLVE_AGENTS = 32
SOLVE_BUDGET = 300_000  # environment steps per agent
SOLVE_EVAL_EVERY = 5_000  # environment steps per agent between evaluations (rejax's eval_freq)
SETTINGS = {
    "same_work": "one agent, rejax's hyperparameters on both sides",
    "own": "each library's own hyperparameters",
}
# --smoke: tiny sizes (the script's paths, not its figures).
SMOKE_THROUGHPUT_STEPS = {1: 2_000, 2: 2_000}
SMOKE_TYPEDRL_UPDATES = 3
SMOKE_SOLVE = {"agents": 2, "budget": 2_000, "eval_every": 1_000}


# --- rejax, in a subprocess ----------------------------------------------------------------------------------------


def _greedy_logits(module: Any, observations: Any) -> Any:
    """rejax's ``DiscretePolicy`` up to its logits (``flax`` ``apply(..., method=...)``)."""
    return module.action_logits(module.features(observations))


def rejax_child(spec: dict[str, Any]) -> dict[str, Any]:
    """One rejax measurement (``--rejax-child``): K agents for ``total_timesteps`` steps each, evaluated every
    ``eval_freq`` steps by rejax's own evaluation or, with ``greedy_episodes``, by a greedy one."""
    os.sched_setaffinity(0, {spec["core"]})
    start = time.perf_counter()
    jax = importlib.import_module("jax")
    jax.config.update("jax_enable_compilation_cache", False)
    jnp = importlib.import_module("jax.numpy")
    rejax = importlib.import_module("rejax")
    evaluate = importlib.import_module("rejax.evaluate").evaluate
    import numpy as np

    import_seconds = time.perf_counter() - start
    agents, total, eval_freq = spec["K"], spec["total_timesteps"], spec["eval_freq"]
    start = time.perf_counter()
    algo = rejax.get_algo("ppo").create(
        **spec["hyperparameters"], total_timesteps=total, eval_freq=eval_freq, skip_initial_evaluation=True
    )
    episodes = spec["greedy_episodes"]
    if episodes:

        def greedy_callback(algo: Any, ts: Any, rng: Any) -> Any:
            def act(observation: Any, rng: Any) -> Any:
                logits = algo.actor.apply(ts.actor_ts.params, jnp.expand_dims(observation, 0), method=_greedy_logits)
                return jnp.squeeze(jnp.argmax(logits, axis=-1))

            return evaluate(act, rng, algo.env, algo.env_params, episodes, algo.env_params.max_steps_in_episode)

        algo = algo.replace(eval_callback=greedy_callback)
    train = jax.jit(jax.vmap(algo.train))
    keys = jax.random.split(jax.random.PRNGKey(spec["seed"]), agents)
    create_seconds = time.perf_counter() - start
    start = time.perf_counter()
    compiled = train.lower(keys).compile()
    compile_seconds = time.perf_counter() - start
    start = time.perf_counter()
    ts, (lengths, returns) = compiled(keys)
    jax.block_until_ready((ts, lengths, returns))
    run_seconds = time.perf_counter() - start
    steps = np.asarray(ts.global_step).reshape(-1).tolist()
    if len(set(steps)) != 1:
        raise SystemExit(f"rejax agents ran different numbers of steps: {steps}")
    returns = np.asarray(returns, dtype=np.float64)  # [K, evaluations, episodes]
    iteration = algo.num_envs * algo.num_steps
    block = math.ceil(eval_freq / iteration) * iteration  # rejax's steps between evaluations
    return {
        "import_seconds": import_seconds,
        "create_seconds": create_seconds,
        "compile_seconds": compile_seconds,
        "run_seconds": run_seconds,
        "steps_per_agent": int(steps[0]),
        "eval_steps": [block * (index + 1) for index in range(returns.shape[1])],
        "eval_means": returns.mean(axis=2).tolist(),  # [K][evaluations]
        "eval_episodes": int(returns.shape[2]),
        "device": str(jax.devices()[0]),
        "affinity": sorted(os.sched_getaffinity(0)),
    }


def run_rejax(spec: dict[str, Any]) -> dict[str, Any]:
    """Run :func:`rejax_child` in a subprocess pinned to ``spec["core"]``; what it measured."""
    command = [sys.executable, str(Path(__file__).resolve()), "--rejax-child", json.dumps(spec)]
    if shutil.which("taskset"):
        command = ["taskset", "-c", str(spec["core"]), *command]
    env = {key: value for key, value in os.environ.items() if key != "JAX_COMPILATION_CACHE_DIR"}
    env.update(XLA_FLAGS=XLA_FLAGS, JAX_PLATFORMS="cpu", JAX_ENABLE_COMPILATION_CACHE="false")
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    lines = [line for line in result.stdout.splitlines() if line.startswith(CHILD_MARKER)]
    if result.returncode != 0 or not lines:
        raise SystemExit(
            f"the rejax measurement {spec} failed (exit {result.returncode}):\n{result.stderr[-4000:]}"
            f"{result.stdout[-2000:]}"
        )
    measured: dict[str, Any] = json.loads(lines[-1].removeprefix(CHILD_MARKER))
    return measured


# --- typedrl, in this process --------------------------------------------------------------------------------------


def _final_means(trainer: Any, *, episodes: int, seed: int) -> list[float]:
    """Each agent's greedy mean return (untimed): ``evaluate_agents`` for BatchedPPO, ``evaluate`` for PPO."""
    if hasattr(trainer, "evaluate_agents"):
        return [result.mean for result in trainer.evaluate_agents(episodes=episodes, seed=seed, max_steps=MAX_STEPS)]
    from typedrl.evaluation import evaluate

    return [evaluate(trainer.actor, ENV_ID, episodes=episodes, base_seed=seed, max_steps=MAX_STEPS).mean]


def typedrl_throughput(
    fields: dict[str, Any], *, agents: int, backend: Backend, updates: int, seed: int
) -> dict[str, Any]:
    """Build the trainer, one untimed warm-up update, then ``updates`` timed ones; a greedy evaluation after."""
    import gc

    from typedrl.algos.ppo import build_ppo
    from typedrl.config import PPOConfig

    config = PPOConfig(env_id=ENV_ID, agents=agents, env_backend=backend, updates=updates + 1, seed=seed, **fields)
    gc.collect()
    start = time.perf_counter()
    trainer = build_ppo(config)
    construct_seconds = time.perf_counter() - start
    try:
        start = time.perf_counter()
        stats = trainer.update()
        warmup_seconds = time.perf_counter() - start
        before, seconds = stats.env_steps, 0.0
        for _ in range(updates):
            start = time.perf_counter()
            stats = trainer.update()
            seconds += time.perf_counter() - start
        means = _final_means(trainer, episodes=EPISODES, seed=FINAL_EVAL_SEED)
        env_class = type(trainer.env.unwrapped).__name__
        trainer_class = type(trainer).__name__
    finally:
        trainer.close()
    steps = stats.env_steps - before
    return {
        "steps": steps,
        "seconds": seconds,
        "steps_per_second": steps / seconds,
        "compile_seconds": 0.0,
        "warmup_seconds": warmup_seconds,
        "construct_seconds": construct_seconds,
        "final_mean": statistics.fmean(means),
        "final_solved": sum(mean >= THRESHOLD for mean in means),
        "env_class": env_class,
        "trainer": trainer_class,
    }


# --- time to solve -------------------------------------------------------------------------------------------------


def first_solves(eval_steps: Sequence[int], means: Sequence[Sequence[float]]) -> list[int | None]:
    """Per agent (``means[k][i]``: agent k's mean at evaluation i), the steps at its first evaluation ≥ THRESHOLD."""
    return [
        next((steps for steps, mean in zip(eval_steps, row, strict=True) if mean >= THRESHOLD), None) for row in means
    ]


def all_solved_at(first: Sequence[int | None]) -> int | None:
    """The steps per agent at the first evaluation at which every agent has been solved once; ``None`` if one never
    was."""
    return None if any(steps is None for steps in first) else max(steps for steps in first if steps is not None)


def rejax_seconds_to_solve(measured: dict[str, Any], solved_at: int | None) -> float | None:
    """create + compilation + running × (solved_at / steps run): running time is linear in steps."""
    if solved_at is None:
        return None
    fraction = solved_at / measured["steps_per_agent"]
    return float(measured["create_seconds"] + measured["compile_seconds"] + measured["run_seconds"] * fraction)


def _curve(eval_steps: Sequence[int], means: Sequence[Sequence[float]]) -> list[dict[str, Any]]:
    """Per evaluation: steps per agent, the mean and the minimum over agents, how many agents have passed so far."""
    first = first_solves(eval_steps, means)
    return [
        {
            "env_steps": steps,
            "mean": statistics.fmean(row[index] for row in means),
            "min": min(row[index] for row in means),
            "passed": sum(solved is not None and solved <= steps for solved in first),
        }
        for index, steps in enumerate(eval_steps)
    ]


def rejax_solve(*, agents: int, seed: int, budget: int, eval_every: int, core: int) -> dict[str, Any]:
    spec = {
        "K": agents,
        "seed": seed,
        "total_timesteps": budget,
        "eval_freq": eval_every,
        "greedy_episodes": EPISODES,
        "hyperparameters": REJAX_HYPERPARAMETERS,
        "core": core,
    }
    measured = run_rejax(spec)
    steps, means = measured["eval_steps"], measured["eval_means"]
    first = first_solves(steps, means)
    solved_at = all_solved_at(first)
    return {
        "kind": "solve",
        "library": "rejax",
        "K": agents,
        "seed": seed,
        "seconds_to_solve": rejax_seconds_to_solve(measured, solved_at),
        "steps_to_solve": solved_at,
        "first_solve_steps": first,
        "passed_fraction": sum(solved is not None for solved in first) / agents,
        "final_fraction": sum(row[-1] >= THRESHOLD for row in means) / agents,
        "budget_steps": measured["steps_per_agent"],
        "eval_every_steps": steps[0],
        "eval_episodes": measured["eval_episodes"],
        "import_seconds": measured["import_seconds"],
        "construct_seconds": measured["create_seconds"],
        "compile_seconds": measured["compile_seconds"],
        "run_seconds": measured["run_seconds"],
        "evaluations": _curve(steps, means),
    }


def typedrl_solve(*, agents: int, seed: int, budget: int, eval_every: int) -> dict[str, Any]:
    """BatchedPPO on the tensor env, evaluated every ``eval_every`` updates until every agent has passed THRESHOLD."""
    import gc

    from typedrl.algos.ppo import build_ppo
    from typedrl.config import PPOConfig

    fields = TYPEDRL_HYPERPARAMETERS
    rollout = fields["num_envs"] * fields["horizon"]
    config = PPOConfig(
        env_id=ENV_ID, agents=agents, env_backend="torch", updates=math.ceil(budget / rollout), seed=seed, **fields
    )
    first: list[int | None] = [None] * agents
    eval_steps: list[int] = []
    means: list[list[float]] = [[] for _ in range(agents)]
    train_seconds = eval_seconds = 0.0
    seconds_to_solve: float | None = None
    gc.collect()
    begin = time.perf_counter()
    trainer = build_ppo(config)
    construct_seconds = time.perf_counter() - begin
    try:
        while trainer.updates_done < config.updates:
            start = time.perf_counter()
            trainer.update()
            train_seconds += time.perf_counter() - start
            if trainer.updates_done % eval_every and trainer.updates_done < config.updates:
                continue
            start = time.perf_counter()
            results = trainer.evaluate_agents(
                episodes=EPISODES, seed=EVAL_SEED + EPISODES * len(eval_steps), max_steps=MAX_STEPS
            )
            eval_seconds += time.perf_counter() - start
            steps = trainer.env_steps // agents
            eval_steps.append(steps)
            for agent, result in enumerate(results):
                means[agent].append(result.mean)
                if first[agent] is None and result.mean >= THRESHOLD:
                    first[agent] = steps
            if all_solved_at(first) is not None:
                seconds_to_solve = time.perf_counter() - begin
                break
        wall_seconds = time.perf_counter() - begin
        steps_run = trainer.env_steps // agents
    finally:
        trainer.close()
    return {
        "kind": "solve",
        "library": "typedrl",
        "K": agents,
        "seed": seed,
        "seconds_to_solve": seconds_to_solve,
        "steps_to_solve": all_solved_at(first),
        "first_solve_steps": first,
        "passed_fraction": sum(solved is not None for solved in first) / agents,
        "final_fraction": sum(row[-1] >= THRESHOLD for row in means) / agents,
        "budget_steps": config.updates * rollout,
        "steps_run": steps_run,
        "eval_every_steps": eval_every * rollout,
        "eval_episodes": EPISODES,
        "construct_seconds": construct_seconds,
        "compile_seconds": 0.0,
        "train_seconds": train_seconds,
        "eval_seconds": eval_seconds,
        "wall_seconds": wall_seconds,
        "evaluations": _curve(eval_steps, means),
    }


# --- the run -------------------------------------------------------------------------------------------------------


def _median(values: Sequence[float | None]) -> float | None:
    """The median, a missing figure counting as infinite (a run that never solved); ``None`` if that is infinite."""
    if not values:
        return None
    median = statistics.median(math.inf if value is None else value for value in values)
    return None if math.isinf(median) else float(median)


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _ratio(ours: float | None, theirs: float | None) -> float | None:
    return None if ours is None or theirs is None else ours / theirs


class Throughput:
    """The throughput rows, filled repeat by repeat (one list entry per repeat in every measured field)."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, int, str, str], dict[str, Any]] = {}

    def add(self, setting: str, agents: int, library: str, env: str, seed: int, measured: dict[str, Any]) -> None:
        key = (setting, agents, library, env)
        row = self.rows.setdefault(
            key, {"kind": "throughput", "setting": setting, "K": agents, "library": library, "env": env, "seeds": []}
        )
        row["seeds"].append(seed)
        for name, value in measured.items():
            if name in ("env_class", "trainer", "steps_per_agent", "eval_episodes", "device"):
                row[name] = value
            else:
                row.setdefault(name, []).append(value)

    def median(self, setting: str, agents: int, library: str, env: str, field: str) -> float | None:
        row = self.rows.get((setting, agents, library, env))
        return None if row is None else _median(row[field])


def rejax_throughput(*, agents: int, steps: int, seed: int, core: int) -> dict[str, Any]:
    spec = {
        "K": agents,
        "seed": seed,
        "total_timesteps": steps,
        "eval_freq": steps,
        "greedy_episodes": 0,
        "hyperparameters": REJAX_HYPERPARAMETERS,
        "core": core,
    }
    measured = run_rejax(spec)
    total = measured["steps_per_agent"] * agents
    finals = [row[-1] for row in measured["eval_means"]]
    return {
        "steps_per_agent": measured["steps_per_agent"],
        "steps": total,
        "seconds": measured["run_seconds"],
        "steps_per_second": total / measured["run_seconds"],
        "compile_seconds": measured["compile_seconds"],
        "warmup_seconds": None,
        "construct_seconds": measured["create_seconds"],
        "import_seconds": measured["import_seconds"],
        "final_mean": statistics.fmean(finals),
        "final_solved": sum(mean >= THRESHOLD for mean in finals),
        "eval_episodes": measured["eval_episodes"],
        "device": measured["device"],
    }


def _print_measure(setting: str, agents: int, label: str, measured: dict[str, Any], versus: float | None) -> None:
    if measured.get("warmup_seconds") is None:
        before = f"compile {measured['compile_seconds']:5.1f} s"
    else:
        before = f"warm-up {measured['warmup_seconds']:5.2f} s"
    ratio = "" if versus is None else f"  x{measured['steps_per_second'] / versus:.2f} rejax"
    print(
        f"  {setting:<9} K={agents:<4} {label:<27} {measured['steps_per_second']:>11,.0f} steps/s"
        f"  ({measured['steps']:,} steps in {measured['seconds']:.2f} s, {before};"
        f" final mean {measured['final_mean']:.1f}){ratio}",
        flush=True,
    )


def measure_throughput(
    *, agent_counts: Sequence[int], steps: dict[int, int], repeats: int, with_rejax: bool, smoke: bool, core: int
) -> Throughput:
    """Every throughput row, ``repeats`` times: repeat r of every setting (rejax, then typedrl), then repeat r+1."""
    table = Throughput()
    same_rollout = SAME_WORK["num_envs"] * SAME_WORK["horizon"]
    own_rollout = TYPEDRL_HYPERPARAMETERS["num_envs"] * TYPEDRL_HYPERPARAMETERS["horizon"]

    def updates(agents: int, rollout: int) -> int:
        return SMOKE_TYPEDRL_UPDATES if smoke else math.ceil(steps[agents] / rollout)

    for repeat in range(repeats):
        print(f"\nthroughput, repeat {repeat + 1} of {repeats}", flush=True)
        seed = repeat
        for agents in (1, *agent_counts):
            rejax: float | None = None
            if with_rejax and not (smoke and agents > 1):  # smoke: one compilation fewer, under a minute
                measured = rejax_throughput(agents=agents, steps=steps[agents], seed=seed, core=core)
                table.add("own", agents, "rejax", "gymnax", seed, measured)
                rejax = measured["steps_per_second"]
                _print_measure("own", agents, "rejax (gymnax)", measured, None)
            runs: list[tuple[str, Backend, dict[str, Any], int]] = [
                ("own", "torch", TYPEDRL_HYPERPARAMETERS, own_rollout)
            ]
            if agents == 1:
                runs = [
                    ("same_work", "torch", SAME_WORK, same_rollout),
                    ("same_work", "gymnasium", SAME_WORK, same_rollout),
                    *runs,
                    ("own", "gymnasium", TYPEDRL_HYPERPARAMETERS, own_rollout),
                ]
            for setting, backend, fields, rollout in runs:
                measured = typedrl_throughput(
                    fields, agents=agents, backend=backend, updates=updates(agents, rollout), seed=seed
                )
                env = "tensor" if backend == "torch" else "gymnasium"
                table.add(
                    setting, agents, "typedrl", env, seed, {"steps_per_agent": measured["steps"] // agents, **measured}
                )
                label = f"typedrl ({'tensor env' if env == 'tensor' else measured['env_class']})"
                _print_measure(setting, agents, label, measured, rejax)
    return table


def summarize_throughput(table: Throughput, agent_counts: Sequence[int]) -> list[dict[str, Any]]:
    """Per setting and K: the medians, the ratios to rejax and the issue's target (own hyperparameters: ≥ 1×)."""
    summary = []
    for setting, agents in [("same_work", 1), ("own", 1), *(("own", agents) for agents in agent_counts)]:
        typedrl = table.median(setting, agents, "typedrl", "tensor", "steps_per_second")
        gymnasium = table.median(setting, agents, "typedrl", "gymnasium", "steps_per_second")
        rejax = table.median("own", agents, "rejax", "gymnax", "steps_per_second")  # rejax's own is the same work
        ratio = _ratio(typedrl, rejax)
        target = 1.0 if setting == "own" else None
        summary.append(
            {
                "setting": setting,
                "K": agents,
                "typedrl_steps_per_second": typedrl,
                "typedrl_gymnasium_steps_per_second": gymnasium,
                "rejax_steps_per_second": rejax,
                "ratio": ratio,
                "gymnasium_ratio": _ratio(gymnasium, rejax),
                "rejax_compile_seconds": table.median("own", agents, "rejax", "gymnax", "compile_seconds"),
                "rejax_run_seconds": table.median("own", agents, "rejax", "gymnax", "seconds"),
                "typedrl_warmup_seconds": table.median(setting, agents, "typedrl", "tensor", "warmup_seconds"),
                "target": target,
                "met": None if target is None or ratio is None else ratio >= target,
            }
        )
    return summary


def measure_solve(
    *, repeats: int, agents: int, budget: int, eval_every: int, with_rejax: bool, core: int
) -> list[dict[str, Any]]:
    """The time-to-solve runs, rejax then typedrl, repeat by repeat (repeat r: typedrl seed r·K, rejax PRNGKey(r))."""
    rollout = TYPEDRL_HYPERPARAMETERS["num_envs"] * TYPEDRL_HYPERPARAMETERS["horizon"]
    every = max(1, math.ceil(eval_every / rollout))
    rows: list[dict[str, Any]] = []
    for repeat in range(repeats):
        print(f"\ntime until all K = {agents} agents are solved (greedy mean >= {THRESHOLD:g}), repeat {repeat + 1}")
        runs: list[Callable[[], dict[str, Any]]] = [
            lambda: typedrl_solve(agents=agents, seed=repeat * agents, budget=budget, eval_every=every)
        ]
        if with_rejax:
            runs.insert(
                0, lambda: rejax_solve(agents=agents, seed=repeat, budget=budget, eval_every=eval_every, core=core)
            )
        for run in runs:
            row = {**run(), "repeat": repeat}
            rows.append(row)
            seconds = row["seconds_to_solve"]
            solved = (
                f"all solved by {row['steps_to_solve']:,} steps per agent: {seconds:.1f} s"
                if seconds is not None
                else f"NOT all solved within {row['budget_steps']:,} steps per agent"
            )
            setup = f"construction {row['construct_seconds']:.2f} s"
            if row["library"] == "rejax":
                setup = f"compilation {row['compile_seconds']:.1f} s, running {row['run_seconds']:.1f} s"
            print(
                f"  {row['library']:<8} {solved} ({setup}); passed {row['passed_fraction']:.0%},"
                f" at the last evaluation {row['final_fraction']:.0%}",
                flush=True,
            )
    return rows


def summarize_solve(rows: list[dict[str, Any]], *, with_rejax: bool) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for library in ("rejax", "typedrl") if with_rejax else ("typedrl",):
        runs = [row for row in rows if row["library"] == library]
        summary[library] = {
            "runs": len(runs),
            "solved_runs": sum(row["seconds_to_solve"] is not None for row in runs),
            "seconds": [row["seconds_to_solve"] for row in runs],
            "seconds_median": _median([row["seconds_to_solve"] for row in runs]),
            "steps_median": _median([row["steps_to_solve"] for row in runs]),
            "compile_seconds_median": _median([row["compile_seconds"] for row in runs]),
            "passed_fraction_min": min((row["passed_fraction"] for row in runs), default=None),
        }
    ours = summary["typedrl"]["seconds_median"]
    theirs = summary["rejax"]["seconds_median"] if with_rejax else None
    summary["ratio"] = _ratio(ours, theirs)
    if not with_rejax:
        summary["met"] = None
    else:  # a library that did not solve counts as infinitely slow
        summary["met"] = ours is not None and (theirs is None or ours < theirs)
    return summary


def _print_throughput(throughput: list[dict[str, Any]]) -> None:
    print("\nthroughput, steps per second (medians)")
    print(f"  {'setting':<10} {'K':>4} {'typedrl':>11} {'rejax':>11} {'ratio':>7} {'gymnasium':>11}  target")
    for entry in throughput:
        ratio = "-" if entry["ratio"] is None else f"x{entry['ratio']:.2f}"
        target = ""
        if entry["target"] is not None:
            target = f">= {entry['target']:g}" + ("" if entry["met"] is None else " met" if entry["met"] else " missed")
        print(
            f"  {entry['setting']:<10} {entry['K']:>4} {_rate(entry['typedrl_steps_per_second']):>11}"
            f" {_rate(entry['rejax_steps_per_second']):>11} {ratio:>7}"
            f" {_rate(entry['typedrl_gymnasium_steps_per_second']):>11}  {target}"
        )


def _print_solve(solve: dict[str, Any], agents: int) -> None:
    print(f"\ntime until all K = {agents} agents are solved (medians; a run that did not solve counts as infinite)")
    for library in ("rejax", "typedrl"):
        if library in solve:
            entry = solve[library]
            median = "not solved" if entry["seconds_median"] is None else f"{entry['seconds_median']:.1f} s"
            print(f"  {library:<8} {median} ({entry['solved_runs']} of {entry['runs']} runs solved)")
    if solve["met"] is not None:
        print(f"  target typedrl < rejax: {'met' if solve['met'] else 'missed'}")


PER_MEASUREMENT = ("agents", "env_backend", "seed", "updates", "eval", "checkpoint_every", "target_return", "sweep")


def _config_fields(config: Any) -> dict[str, Any]:
    """A PPOConfig's fields as JSON, without those each measurement sets (``PER_MEASUREMENT``)."""
    fields: dict[str, Any] = config.model_dump(mode="json")
    return {name: value for name, value in fields.items() if name not in PER_MEASUREMENT}


def _pin(core: int) -> list[int] | None:
    """Pin this process (and every thread and child it starts) to ``core``; the cores it may run on, or ``None``."""
    if not hasattr(os, "sched_setaffinity"):
        print(f"this platform cannot pin a process to a core: run it under `taskset -c {core}` or alone")
        return None
    os.sched_setaffinity(0, {core})
    return sorted(os.sched_getaffinity(0))


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--rejax-child":
        print(CHILD_MARKER + json.dumps(rejax_child(json.loads(sys.argv[2]))), flush=True)
        return
    # Pin first: _results imports torch, whose threads must start on the core.
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--core", type=int, default=0)
    affinity = _pin(early.parse_known_args()[0].core)
    import _results  # bench/_results.py (scripts run with bench/ on sys.path)
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="repeats of each throughput row (default 3)")
    parser.add_argument("--solve-repeats", type=int, default=3, help="runs of the time to solve (default 3)")
    parser.add_argument("--agents", type=int, nargs="+", default=list(AGENTS), help="K > 1 (default 8 32 128)")
    parser.add_argument("--no-solve", action="store_true", help="throughput rows only")
    parser.add_argument("--core", type=int, default=0, help="the core everything runs on (default 0)")
    parser.add_argument("--no-rejax", action="store_true", help="typedrl alone (no peer; figures not comparable)")
    _results.add_arguments(parser)
    args = parser.parse_args()
    smoke = args.smoke
    unknown = [agents for agents in args.agents if agents not in THROUGHPUT_STEPS]
    if unknown and not smoke:
        parser.error(f"--agents {unknown}: each K needs its steps per agent in THROUGHPUT_STEPS ({THROUGHPUT_STEPS})")
    torch.set_num_threads(1)
    with_rejax = not args.no_rejax
    if with_rejax and any(importlib.util.find_spec(name) is None for name in ("jax", "rejax", "gymnax")):
        if not smoke:
            parser.error('the peer is not installed: pip install -e ".[bench]" (or --no-rejax for typedrl alone)')
        with_rejax = False  # a smoke run checks the script, with or without the peer
        print("rejax is not installed: the smoke run measures typedrl alone")
    if smoke:
        agent_counts: list[int] = [2]
        steps, repeats, solve_repeats = SMOKE_THROUGHPUT_STEPS, 1, 1
        solve = dict(SMOKE_SOLVE)
    else:
        agent_counts, steps, repeats, solve_repeats = args.agents, THROUGHPUT_STEPS, args.repeats, args.solve_repeats
        solve = {"agents": SOLVE_AGENTS, "budget": SOLVE_BUDGET, "eval_every": SOLVE_EVAL_EVERY}
    print(
        f"PPO on {ENV_ID}, one core ({'core ' + str(args.core) if affinity else 'not pinned'}), 1 torch thread;"
        f" rejax {'in a subprocess per measurement' if with_rejax else 'not measured'}",
        flush=True,
    )
    table = measure_throughput(
        agent_counts=agent_counts, steps=steps, repeats=repeats, with_rejax=with_rejax, smoke=smoke, core=args.core
    )
    throughput = summarize_throughput(table, agent_counts)
    solve_rows: list[dict[str, Any]] = []
    if not args.no_solve:
        solve_rows = measure_solve(repeats=solve_repeats, with_rejax=with_rejax, core=args.core, **solve)

    _print_throughput(throughput)
    summary: dict[str, Any] = {"throughput": throughput, "solve": None}
    if solve_rows:
        summary["solve"] = summarize_solve(solve_rows, with_rejax=with_rejax)
        _print_solve(summary["solve"], solve["agents"])
    measured_targets = [entry["met"] for entry in throughput if entry["met"] is not None]
    if summary["solve"] is not None and summary["solve"]["met"] is not None:
        measured_targets.append(summary["solve"]["met"])
    summary["all_targets_met"] = all(measured_targets) if measured_targets else None

    rollout = TYPEDRL_HYPERPARAMETERS["num_envs"] * TYPEDRL_HYPERPARAMETERS["horizon"]
    from typedrl.config import PPOConfig

    settings = {
        "env_id": ENV_ID,
        "core": args.core,
        "affinity": affinity,
        "torch_threads": torch.get_num_threads(),
        "xla_flags": XLA_FLAGS,
        "rejax_measured": with_rejax,
        "rejax_throughput_agents": ([1] if smoke else [1, *agent_counts]) if with_rejax else [],
        "repeats": repeats,
        "agents": [1, *agent_counts],
        "throughput_steps_per_agent": {str(agents): steps[agents] for agents in (1, *agent_counts)},
        "typedrl_smoke_updates": SMOKE_TYPEDRL_UPDATES if smoke else None,
        "threshold": THRESHOLD,
        "settings": SETTINGS,
        "rejax_hyperparameters": REJAX_HYPERPARAMETERS,
        "rejax_throughput_evaluation": f"rejax's own, inside the timed running time: {REJAX_EVAL_EPISODES} episodes "
        "of sampled actions at the end of training (eval_freq = total_timesteps)",
        "typedrl_hyperparameters": TYPEDRL_HYPERPARAMETERS,
        "typedrl_same_work": SAME_WORK,
        # Every PPOConfig field (the defaults included) but those each measurement sets.
        "typedrl_config": _config_fields(PPOConfig(env_id=ENV_ID, **TYPEDRL_HYPERPARAMETERS)),
        "typedrl_same_work_config": _config_fields(PPOConfig(env_id=ENV_ID, **SAME_WORK)),
        "typedrl_set_per_measurement": list(PER_MEASUREMENT),
        "typedrl_final_evaluation": f"untimed, greedy, {EPISODES} episodes seeded {FINAL_EVAL_SEED} + k",
        "solve": None
        if args.no_solve
        else {
            "K": solve["agents"],
            "repeats": solve_repeats,
            "budget_steps_per_agent": solve["budget"],
            "rejax_eval_freq": solve["eval_every"],
            "typedrl_eval_every_updates": max(1, math.ceil(solve["eval_every"] / rollout)),
            "episodes": EPISODES,
            "max_steps": MAX_STEPS,
            "eval_seed": EVAL_SEED,
            "evaluation": "greedy (argmax) actions on both sides; rejax's eval_callback replaced by a greedy one",
            "typedrl_seconds": "wall seconds from the start of the trainer's construction to the end of the "
            "evaluation at which every agent has passed the threshold once, evaluations included",
            "rejax_seconds": "create + compilation + running seconds x (steps per agent at that evaluation / steps "
            "per agent run): a linear interpolation, running time being linear in steps",
        },
    }
    _results.write(
        "throughput",
        args,
        settings=settings,
        results=[*table.rows.values(), *solve_rows],
        summary=summary,
        peers=("jax", "jaxlib", "rejax", "gymnax", "flax", "optax"),
    )


if __name__ == "__main__":
    main()
