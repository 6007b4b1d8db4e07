"""``python -m laom_core expert train|eval|export``: state-based experts."""
from __future__ import annotations

import argparse
import json
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("expert", help="train, evaluate and export state-based expert policies")
    sub = parser.add_subparsers(dest="expert_command", metavar="ACTION")

    train = sub.add_parser("train", help="train a SAC expert on proprioceptive states (resumable)")
    train.add_argument("--task", required=True, help="dm_control task, e.g. cheetah-run")
    train.add_argument("--steps", type=int, default=500_000, help="environment steps (default 500000)")
    train.add_argument("--out", default=None, help="run folder (default: <workspace>/experts/<task>)")
    train.add_argument("--resume", action="store_true", help="continue the run in --out")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--action-repeat", type=int, default=None,
                       help="agent decides every k env steps (default per domain: cheetah 4, else 2)")
    train.add_argument("--batch-size", type=int, default=128)
    train.add_argument("--hidden-dim", type=int, default=256)
    train.add_argument("--lr", type=float, default=1e-3, help="actor and critic learning rate")
    train.add_argument("--alpha-lr", type=float, default=1e-4, help="temperature learning rate")
    train.add_argument("--tau", type=float, default=0.01, help="target network averaging rate")
    train.add_argument("--actor-update-every", type=int, default=2)
    train.add_argument("--target-update-every", type=int, default=2)
    train.add_argument("--learning-starts", type=int, default=5000, help="random env steps before updates")
    train.add_argument("--eval-every", type=int, default=20_000)
    train.add_argument("--eval-episodes", type=int, default=5)
    train.add_argument("--checkpoint-every", type=int, default=10_000)
    train.add_argument("--json", action="store_true", help="print the final status as JSON")
    train.set_defaults(func=_train)

    ev = sub.add_parser("eval", help="mean return of an expert (default: the shipped one)")
    ev.add_argument("--task", required=True)
    ev.add_argument("--policy", default=None,
                    help="exported expert folder, SAC run folder, or released PPO folder (checkpoint.pt + config.pt); "
                         "default: the shipped expert")
    ev.add_argument("--episodes", type=int, default=10)
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--action-repeat", type=int, default=None, help="override the policy's action repeat")
    ev.set_defaults(func=_eval)

    ex = sub.add_parser("export", help="write a SAC run's actor as a small shippable expert folder")
    ex.add_argument("--run", required=True, help="SAC run folder (from expert train)")
    ex.add_argument("--out", required=True, help="folder to write actor.pt + expert.json into")
    ex.add_argument("--which", choices=("final", "best"), default="final",
                    help="final weights or the best periodic evaluation's weights")
    ex.add_argument("--episodes", type=int, default=10, help="episodes to measure the exported return")
    ex.add_argument("--action-repeat", type=int, default=None,
                    help="action repeat to deploy with (default: the training one)")
    ex.set_defaults(func=_export)
    ls = sub.add_parser("list", help="the shipped experts: return, training steps and time")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_list)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def _train(args: argparse.Namespace) -> int:
    import torch

    from laom_core.experts.sac import SACConfig, default_action_repeat, train_sac
    from laom_core.experts.state_env import split_task
    from laom_core.workspace import experts_dir, resolve_user_path

    torch.set_num_threads(1)
    split_task(args.task)
    out = resolve_user_path(args.out) if args.out else experts_dir() / args.task
    cfg = SACConfig(
        task=args.task, steps=args.steps, seed=args.seed,
        action_repeat=args.action_repeat or default_action_repeat(args.task),
        batch_size=args.batch_size, hidden_dim=args.hidden_dim, lr=args.lr, alpha_lr=args.alpha_lr,
        tau=args.tau, actor_update_every=args.actor_update_every, target_update_every=args.target_update_every,
        learning_starts=args.learning_starts, eval_every=args.eval_every,
        eval_episodes=args.eval_episodes, checkpoint_every=args.checkpoint_every,
    )
    status = train_sac(cfg, out, resume=args.resume)
    print(json.dumps(status) if args.json else
          f"trained {args.task} for {status['env_steps']} steps into {out}; "
          f"last eval return {status['last_eval']}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    import numpy as np
    import torch
    from tqdm import tqdm

    from laom_core.errors import ConfigError
    from laom_core.experts.policy_spec import load_expert_policy
    from laom_core.experts.sac_policy import run_policy_episode
    from laom_core.experts.state_env import StateEnv

    torch.set_num_threads(1)
    if args.episodes < 1:
        raise ConfigError("--episodes must be >= 1")
    env = StateEnv(args.task, seed=args.seed)
    try:
        policy = load_expert_policy(args.policy, env, action_repeat=args.action_repeat)
        returns = []
        bar = tqdm(range(args.episodes), desc=f"eval {args.task}", unit="ep", file=sys.stderr)
        for _ in bar:
            returns.append(run_policy_episode(env, policy))
            bar.set_postfix(ret=f"{returns[-1]:.0f}")
    finally:
        env.close()
    print(json.dumps({"task": args.task, "return_mean": float(np.mean(returns)),
                      "return_std": float(np.std(returns)), "episodes": args.episodes}))
    return 0


def _export(args: argparse.Namespace) -> int:
    import torch

    from laom_core.experts.sac_policy import export_actor
    from laom_core.workspace import resolve_user_path

    torch.set_num_threads(1)
    run = resolve_user_path(args.run, must_exist=True, kind="dir")
    out = resolve_user_path(args.out)
    meta = export_actor(run, out, which=args.which, episodes=args.episodes, action_repeat=args.action_repeat)
    print(json.dumps(meta))
    return 0


def _list(args: argparse.Namespace) -> int:
    from laom_core.experts.shipped import shipped_expert_info, shipped_table_markdown, shipped_tasks

    if args.json:
        print(json.dumps({task: shipped_expert_info(task) for task in shipped_tasks()}))
    else:
        print(shipped_table_markdown())
    return 0
