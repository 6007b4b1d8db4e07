"""Collection speed of the distracting suite: frames per second per worker.

Measures env.step (physics + distractors + rendering) with random actions at 64 px for
vanilla and scale_easy_video_hard, with the default and the fast render mode (shadows and
reflections off), and prints the ratio distracted/vanilla (time per frame).

Targets on a 2-core CPU: fast mode >= 60 frames/s per worker with distractors, and
distractors cost <= 30% over vanilla rendering (ratio <= 1.3).

Rounds are interleaved (vanilla, distracted, vanilla, ...) and the median per setting is
reported, so load from other processes hits both sides alike.

    python bench/collect_speed.py [--task cheetah-run] [--steps 300] [--rounds 3] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from laom_core.envs import make_env  # noqa: E402

DIFFICULTIES = ("vanilla", "scale_easy_video_hard")


def measure(env, steps: int, rng: np.random.Generator) -> tuple[float, float]:
    """Frames per second over ``steps`` steps (no resets inside the timed span), by wall
    clock and by this process's CPU time (all threads, incl. Mesa's render threads): the
    CPU figure is what one worker reaches on an otherwise idle core set."""
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        env.step(rng.uniform(env.action_low, env.action_high))
    return steps / (time.perf_counter() - start), steps / max(time.process_time() - cpu, 1e-9)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="cheetah-run")
    parser.add_argument("--img-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=300, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--video-source", default=None, help="builtin (default), davis:PATH or a folder")
    parser.add_argument("--offsamples", type=int, default=None,
                        help="MSAA samples (MuJoCo default 4; 0 roughly halves render time)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    envs = {}
    rng = np.random.default_rng(0)
    for fast in (False, True):
        for difficulty in DIFFICULTIES:
            env = make_env(
                args.task, difficulty, seed=0, img_size=args.img_size, fast_render=fast,
                video_source=args.video_source, max_steps=10**9,
                **({} if args.offsamples is None else {"offsamples": args.offsamples}),
            )
            env.reset()
            measure(env, 20, rng)  # warm up: shaders, first clip load
            envs[(difficulty, fast)] = env

    fps: dict[tuple[str, bool], list[float]] = {key: [] for key in envs}
    cpu_fps: dict[tuple[str, bool], list[float]] = {key: [] for key in envs}
    for _ in range(args.rounds):
        for key, env in envs.items():
            wall, cpu = measure(env, args.steps, rng)
            fps[key].append(wall)
            cpu_fps[key].append(cpu)
    for env in envs.values():
        env.close()

    results = {}
    for fast in (False, True):
        mode = "fast" if fast else "default"
        vanilla = statistics.median(fps[("vanilla", fast)])
        distracted = statistics.median(fps[("scale_easy_video_hard", fast)])
        cpu_vanilla = statistics.median(cpu_fps[("vanilla", fast)])
        cpu_distracted = statistics.median(cpu_fps[("scale_easy_video_hard", fast)])
        results[mode] = {
            "vanilla_fps": round(vanilla, 1),
            "distracted_fps": round(distracted, 1),
            "ratio_distracted_over_vanilla": round(vanilla / distracted, 3),
            "cpu_vanilla_fps": round(cpu_vanilla, 1),
            "cpu_distracted_fps": round(cpu_distracted, 1),
            "cpu_ratio_distracted_over_vanilla": round(cpu_vanilla / cpu_distracted, 3),
        }
    fast = results["fast"]
    results["targets"] = {
        "fast_distracted_fps>=60": fast["distracted_fps"] >= 60,
        "ratio<=1.3": fast["ratio_distracted_over_vanilla"] <= 1.3,
    }
    results["setup"] = {"task": args.task, "img_size": args.img_size, "steps": args.steps,
                        "rounds": args.rounds, "offsamples": args.offsamples}

    print(f"{args.task}, {args.img_size} px, frames/s per worker (median of {args.rounds} rounds "
          f"of {args.steps} steps)")
    print(f"{'render':8s} {'clock':6s} {'vanilla':>9s} {'distracted':>11s} {'time ratio':>11s}")
    for mode in ("default", "fast"):
        r = results[mode]
        print(f"{mode:8s} {'wall':6s} {r['vanilla_fps']:9.1f} {r['distracted_fps']:11.1f} "
              f"{r['ratio_distracted_over_vanilla']:11.2f}")
        print(f"{mode:8s} {'cpu':6s} {r['cpu_vanilla_fps']:9.1f} {r['cpu_distracted_fps']:11.1f} "
              f"{r['cpu_ratio_distracted_over_vanilla']:11.2f}")
    try:
        load = os.getloadavg()[0]
        print(f"load average {load:.1f} on {os.cpu_count()} cores (wall figures suffer when > cores)")
    except OSError:
        pass
    results["targets"]["cpu_fast_distracted_fps>=60"] = fast["cpu_distracted_fps"] >= 60
    results["targets"]["cpu_ratio<=1.3"] = fast["cpu_ratio_distracted_over_vanilla"] <= 1.3
    t = {k: "met" if v else "NOT met" for k, v in results["targets"].items()}
    print(f"targets (fast mode), wall clock: distracted >= 60 frames/s {t['fast_distracted_fps>=60']}; "
          f"distracted/vanilla <= 1.3 {t['ratio<=1.3']}")
    print(f"targets (fast mode), CPU time:   distracted >= 60 frames/s {t['cpu_fast_distracted_fps>=60']}; "
          f"distracted/vanilla <= 1.3 {t['cpu_ratio<=1.3']}")
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
