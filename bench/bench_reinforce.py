"""REINFORCE on CartPole-v1: typedrl against a plain-PyTorch rendering of the tch-rs example, in one run.

Run: ``python bench/bench_reinforce.py`` (``--seeds 1`` for a quick look, ``--smoke`` for a few seconds); writes
``bench/results/reinforce.json``. Seeds are interleaved (plain seed k, then typedrl seed k). Both do the same
work: 50 epochs (typedrl's updates),
each of whole episodes until more than 5000 steps, reward-to-go with γ = 1, one Adam step (lr 1e-2) on
``−mean(G · log π(a|s))``, policy ``Linear(4, 32) → Tanh → Linear(32, 2)``. The plain version steps one
environment with one forward per step, as the example does; typedrl plays 16 checked environments at once (so
its epochs end with more episodes running past 5000 steps: it collects more environment steps, which each row
reports).
Reported per seed: seconds for the 50 epochs and the last epoch's mean episode return; then medians.
"""

import argparse
import statistics
import time
from typing import Any

import _results
import gymnasium as gym
import torch
from torch import nn

from typedrl.algos.reinforce import Reinforce
from typedrl.config import reinforce_preset

EPOCHS = 50
MIN_STEPS = 5000


def plain_pytorch(seed: int, epochs: int = EPOCHS, min_steps: int = MIN_STEPS) -> tuple[float, float, int]:
    """The tch-rs example, written in plain PyTorch: (seconds, last epoch's mean return, environment steps)."""
    torch.manual_seed(seed)
    env = gym.make("CartPole-v1")
    model = nn.Sequential(nn.Linear(4, 32), nn.Tanh(), nn.Linear(32, 2))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    start = time.perf_counter()
    observation, _ = env.reset(seed=seed)
    last_mean, steps = 0.0, 0
    for _ in range(epochs):
        observation, _ = env.reset()
        observations, actions, rewards, dones = [], [], [], []
        while True:
            obs = torch.as_tensor(observation, dtype=torch.float32)
            with torch.no_grad():
                action = int(torch.multinomial(model(obs).softmax(0), 1))
            next_observation, reward, terminated, truncated, _ = env.step(action)
            done = terminated or truncated
            observations.append(obs)
            actions.append(action)
            rewards.append(float(reward))
            dones.append(done)
            observation = env.reset()[0] if done else next_observation
            if done and len(rewards) > min_steps:
                break
        returns, following = [0.0] * len(rewards), 0.0
        for t in reversed(range(len(rewards))):
            following = rewards[t] + (0.0 if dones[t] else following)
            returns[t] = following
        logits = model(torch.stack(observations))
        log_probs = torch.log_softmax(logits, dim=1).gather(1, torch.tensor(actions).unsqueeze(1)).squeeze(1)
        loss = -(torch.tensor(returns) * log_probs).mean()
        optimizer.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        last_mean = sum(rewards) / sum(dones)
        steps += len(rewards)
    return time.perf_counter() - start, last_mean, steps


def typedrl_reinforce(seed: int, epochs: int = EPOCHS, min_steps: int = MIN_STEPS) -> tuple[float, float, int]:
    algorithm = Reinforce(reinforce_preset(seed=seed, updates=epochs, min_steps_per_update=min_steps))
    start = time.perf_counter()
    for _ in range(epochs):
        stats = algorithm.update()
    mean = stats.episode_return_mean
    return time.perf_counter() - start, float("nan") if mean is None else mean, algorithm.env_steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    _results.add_arguments(parser)
    args = parser.parse_args()
    torch.set_num_threads(1)
    epochs, min_steps = (2, 200) if args.smoke else (EPOCHS, MIN_STEPS)
    seeds = range(1 if args.smoke else args.seeds)
    rows: list[dict[str, Any]] = []
    for seed in seeds:  # interleaved: seed k of the peer, then of typedrl
        for name, runner in (("plain PyTorch", plain_pytorch), ("typedrl", typedrl_reinforce)):
            seconds, last, steps = runner(seed, epochs, min_steps)
            rows.append({"label": name, "seed": seed, "seconds": seconds, "last_mean_return": last, "env_steps": steps})
            print(
                f"{name:<14} seed {seed}: {epochs} epochs ({steps} env steps) in {seconds:5.1f}s, last-epoch mean"
                f" return {last:6.1f}",
                flush=True,
            )
    summary: dict[str, Any] = {}
    print(f"\nmedians over {len(seeds)} seeds")
    for name in ("plain PyTorch", "typedrl"):
        runs = [row for row in rows if row["label"] == name]
        summary[name] = {
            "seconds_median": statistics.median(row["seconds"] for row in runs),
            "last_mean_return_median": statistics.median(row["last_mean_return"] for row in runs),
        }
        print(
            f"{name:<14} {summary[name]['seconds_median']:5.1f}s, "
            f"last-epoch mean return {summary[name]['last_mean_return_median']:6.1f}"
        )
    ratio = summary["typedrl"]["seconds_median"] / summary["plain PyTorch"]["seconds_median"]
    summary["time_ratio"] = ratio
    print(f"typedrl / plain PyTorch time: x{ratio:.2f} (target <= 0.5); last-epoch return target >= 475")
    settings = {"epochs": epochs, "min_steps_per_epoch": min_steps, "seeds": list(seeds), "learning_rate": 1e-2}
    _results.write("reinforce", args, settings=settings, results=rows, summary=summary)


if __name__ == "__main__":
    main()
