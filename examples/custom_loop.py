"""A PPO-style training loop of your own, on typedrl's checked environments, records and math.

Run: ``python examples/custom_loop.py``. It trains CartPole-v1 for 60 updates of 8 environments x 32 steps
and prints the greedy return every 20 updates.
"""

import torch

import typedrl
from typedrl.collect import RolloutCollector
from typedrl.evaluation import evaluate
from typedrl.policies import ActorCritic, SampledPolicy


def main() -> None:
    torch.manual_seed(0)
    env = typedrl.make_env("CartPole-v1", num_envs=8, seed=0)  # every reset, step and action is checked
    model = ActorCritic(4, 2, hidden=64)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    collector = RolloutCollector(env, SampledPolicy(model, torch.Generator().manual_seed(1)), horizon=32, seed=0)
    shuffle = torch.Generator().manual_seed(2)

    for update in range(1, 61):
        with torch.no_grad():
            rollout = collector.collect()  # a Rollout: [T=32, N=8] fields, horizon invariant checked
        # GAE advantages (z-scored) and λ-return targets; truncation bootstraps from the final observation's value.
        sample = rollout.to_actor_critic_sample(gamma=0.98, lam=0.8)
        for _ in range(10):
            for batch in sample.minibatches(2, generator=shuffle):
                logits, values = model(batch.observations)  # the actor's logits and the critic's values
                # The clipped surrogate, the value loss and the entropy bonus, with their gradient in closed form.
                loss = typedrl.ppo_loss(
                    logits, values, batch.actions, batch.log_probs, batch.advantages, batch.returns, clip=0.2
                ).loss
                optimizer.zero_grad()
                loss.backward()  # type: ignore[no-untyped-call]
                optimizer.step()
        if update % 20 == 0:
            result = evaluate(model.actor, "CartPole-v1", episodes=5, base_seed=100, max_steps=500)
            print(f"update {update}: greedy return {result.mean:.1f}")
    env.close()


if __name__ == "__main__":
    main()
