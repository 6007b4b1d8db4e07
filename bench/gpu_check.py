"""The whole GPU device check in one call: run it first on any machine with a GPU.

Four parts, in order, each written to the JSON as soon as it ends (atomically), so a
timeout still leaves every finished part:

1. ``device``: GPU name, memory, torch/CUDA/cuDNN versions, MuJoCo and dm_control (and
   whether they came from the carry), one EGL frame rendered.
2. ``methods``: every method (bc, idm, lapo, laom, laom-labels) for a few dozen updates
   with bf16 + channels_last + compile (``python -m laom_core train``, concurrently), on a
   learnable toy set labelled as cheetah-run so that the evaluation rolls the learned policy
   out in the real environment; finite losses, falling stage-1 loss, and the GPU figures the
   Runs page plots (``system`` stage, ``gpu_name``) next to what nvidia-smi sees.
3. ``throughput``: the ``paper`` preset's LAOM stage-1 update at batch 512, one fresh
   process per variant (fp32 eager, bf16, bf16 + channels_last, bf16 + channels_last +
   compile): samples/s of the full step (sampler included) and of the model alone on
   ready tensors, their ratio (target >= 0.9), the data pipeline's samples/s alone and
   peak GPU memory (``bench/train_throughput.py``'s measurement).
4. ``comparison``: the largest LAPO-vs-LAOM stage-1 comparison that fits the minutes left:
   the fidelity study's D1 (background video, 4 clips, no camera or colour) and D2 (D1 +
   DCS camera shake + colour) twins collected with the shipped
   expert (~14 workers), LAPO and LAOM trained concurrently at a mid-size preset (encoder
   scale 2, latent 2048, batch 256) for as many updates as the measured step time allows,
   then probed; the LAPO/LAOM probe ratios per setting.

    python bench/gpu_check.py                     # the device check (9 min budget)
    python bench/gpu_check.py --tiny              # all four parts on CPU, tiny sizes (< 5 min)

Output: ``$OUT/gpu_check.json`` when ``OUT`` is set (the device machine's result folder),
else ``bench/results/gpu_check.json``; ``--out`` overrides both. On the device machine,
which lacks MuJoCo and dm_control, build the carry first (``scripts/build_gpu_carry.py``,
folder ``.gpu_carry/site``): this script puts it on the path of itself and its children.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CARRY = REPO / ".gpu_carry" / "site"


def carry_usable() -> tuple[bool, str]:
    """Is the carry built, and for this interpreter (its compiled modules are per version)?"""
    try:
        built_for = json.loads((CARRY / "carry.json").read_text(encoding="utf-8"))["python"]
    except (OSError, ValueError, KeyError):
        return False, "no carry (scripts/build_gpu_carry.py builds it)"
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    if built_for != here:
        return False, f"carry built for Python {built_for}, this is {here}: not used"
    return True, str(CARRY)


def use_carry() -> tuple[bool, str]:
    """Put the trimmed site folder (if built for this Python) and the repository on the path of
    this process and of every child; headless EGL rendering unless MUJOCO_GL says otherwise."""
    paths = [str(REPO)]
    carried, note = carry_usable()
    if carried:
        paths.insert(0, str(CARRY))
    for p in reversed(paths):
        if p not in sys.path:
            sys.path.insert(0, p)
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(paths + ([old] if old else []))
    os.environ.setdefault("MUJOCO_GL", "egl")
    return carried, note


# ----------------------------------------------------------------------------- sizes
SIZES: dict[str, dict[str, Any]] = {
    "full": {
        "device": "cuda", "budget_s": 540.0, "threads": 2,
        # part 2
        "methods_preset": "smoke", "methods_data": (12, 64, 64), "methods_batch": 64,
        "methods_updates": {"lapo": 40, "bc": 30, "decoder": 20, "idm": 30}, "methods_compile": True,
        "methods_log_every": 4,
        "methods_cap_s": 150.0,
        # part 3
        "tp_preset": "paper", "tp_batch": 512, "tp_data": (16, 250, 64), "tp_steps": 3, "tp_rounds": 2,
        "tp_cap_s": 210.0, "tp_compile_min_s": 100.0, "tp_threads": 4,
        # part 4
        "cmp_preset": "cpu-small", "cmp_episodes": 160, "cmp_steps": 250, "cmp_img": 64, "cmp_workers": 14,
        "cmp_set": ["lapo.encoder_scale=2", "lapo.latent_action_dim=2048", "lapo.batch_size=256",
                    "lapo.act_head_dim=512", "lapo.obs_head_dim=512", "run.log_every=50",
                    "run.checkpoint_every=100000"],
        "cmp_min_updates": 100, "cmp_max_updates": 20000, "cmp_reserve_s": 45.0, "cmp_min_s": 100.0,
    },
    "tiny": {
        "device": "cpu", "budget_s": 270.0, "threads": 1,
        "methods_preset": "smoke", "methods_data": (4, 24, 32), "methods_batch": 8,
        "methods_updates": {"lapo": 12, "bc": 8, "decoder": 4, "idm": 8}, "methods_log_every": 2,
        # compile on CPU costs minutes per model cold; tests/training/test_speed_switches.py
        # covers it for every method, and part 3 below compiles once here too
        "methods_compile": False, "methods_cap_s": 100.0,
        "tp_preset": "smoke", "tp_batch": 8, "tp_data": (4, 24, 32), "tp_steps": 1, "tp_rounds": 1,
        "tp_cap_s": 110.0, "tp_compile_min_s": 30.0, "tp_threads": 1,
        "cmp_preset": "smoke", "cmp_episodes": 6, "cmp_steps": 30, "cmp_img": 32, "cmp_workers": 2,
        "cmp_set": ["run.log_every=2", "run.checkpoint_every=100000", "lapo.batch_size=8"],
        "cmp_min_updates": 8, "cmp_max_updates": 12, "cmp_reserve_s": 25.0, "cmp_min_s": 40.0,
    },
}
VARIANTS = {  # part 3: --set overrides on the preset, each a switch more than the one before
    "fp32": ["run.bf16=false", "run.channels_last=false", "run.compile=false"],
    "bf16": ["run.bf16=true", "run.channels_last=false", "run.compile=false"],
    "bf16+channels_last": ["run.bf16=true", "run.channels_last=true", "run.compile=false"],
    "bf16+channels_last+compile": ["run.bf16=true", "run.channels_last=true", "run.compile=true"],
}


# ----------------------------------------------------------------------------- report
class Report:
    """The JSON being built; ``save`` writes it atomically (temp file + rename)."""

    def __init__(self, path: Path, budget_s: float, tiny: bool) -> None:
        self.path = path
        self.t0 = time.monotonic()
        self.deadline = self.t0 + budget_s
        self.data: dict[str, Any] = {
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "tiny": tiny, "budget_s": budget_s,
            "commit": _git_commit(), "parts": {}, "finished": False,
        }

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def save(self) -> None:
        self.data["elapsed_s"] = round(time.monotonic() - self.t0, 1)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=self.path.name + ".", suffix=".partial", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(self.data, fh, indent=1, default=str)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    @contextlib.contextmanager
    def part(self, name: str):
        """Record one part: its status (running, done, failed, skipped), wall time and error."""
        record: dict[str, Any] = {"status": "running"}
        self.data["parts"][name] = record
        self.save()
        t0 = time.monotonic()
        print(f"[gpu_check] part {name}: {self.left():.0f} s left", file=sys.stderr, flush=True)
        try:
            yield record
            if record["status"] == "running":
                record["status"] = "done"
        except Exception as exc:  # a part that fails must not take the later parts down
            record["status"] = "failed"
            record["error"] = f"{type(exc).__name__}: {exc}"
            record["traceback"] = traceback.format_exc()[-4000:]
            print(f"[gpu_check] part {name} failed: {exc}", file=sys.stderr, flush=True)
        finally:
            record["wall_s"] = round(time.monotonic() - t0, 1)
            self.save()


class Skip(Exception):
    pass


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


# ----------------------------------------------------------------------------- processes
def _env(work: Path, threads: int) -> dict[str, str]:
    return {**os.environ, "LAOM_STUDIO_WORKSPACE": str(work / "workspace"), "LAOM_TORCH_THREADS": str(threads),
            "PYTHONUNBUFFERED": "1"}


def start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """A child in its own process group (collect spawns workers), output to ``log``."""
    fh = open(log, "w", encoding="utf-8")
    proc = subprocess.Popen(cmd, cwd=str(REPO), env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    proc._log = fh  # type: ignore[attr-defined]
    return proc


def finish(procs: dict[str, subprocess.Popen], timeout_s: float) -> dict[str, int | None]:
    """Wait for the children until ``timeout_s``; kill the groups still running (code None)."""
    deadline = time.monotonic() + max(timeout_s, 0.0)
    codes: dict[str, int | None] = {}
    for name, proc in procs.items():
        try:
            codes[name] = proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            codes[name] = None
        proc._log.close()  # type: ignore[attr-defined]
    return codes


def last_json(log: Path) -> dict | None:
    try:
        lines = [line for line in log.read_text(encoding="utf-8", errors="replace").splitlines() if line.startswith("{")]
        return json.loads(lines[-1]) if lines else None
    except (OSError, ValueError):
        return None


def tail(log: Path, chars: int = 1500) -> str:
    try:
        return log.read_text(encoding="utf-8", errors="replace")[-chars:]
    except OSError:
        return ""


class SmiPoller:
    """Peak per-process GPU memory from nvidia-smi while a part runs (absent tool: no figures)."""

    def __init__(self, interval_s: float = 2.0) -> None:
        self.peak: dict[int, float] = {}
        self.available = shutil.which("nvidia-smi") is not None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> "SmiPoller":
        if self.available:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(2.0):
            try:
                out = subprocess.run(["nvidia-smi", "--query-compute-apps=pid,used_memory",
                                      "--format=csv,noheader,nounits"], capture_output=True, text=True, timeout=10)
            except (OSError, subprocess.SubprocessError):
                continue
            for line in out.stdout.splitlines():
                parts = [p.strip() for p in line.split(",")]
                if len(parts) == 2 and parts[0].isdigit():
                    with contextlib.suppress(ValueError):
                        pid, mem = int(parts[0]), float(parts[1])
                        self.peak[pid] = max(self.peak.get(pid, 0.0), mem)


# ----------------------------------------------------------------------------- part 1
def part_device(record: dict, device_name: str, carry: tuple[bool, str]) -> None:
    import numpy as np
    import torch

    record.update({
        "python": platform.python_version(), "platform": platform.platform(), "cpu_count": os.cpu_count(),
        "torch": torch.__version__, "cuda": torch.version.cuda, "cuda_available": torch.cuda.is_available(),
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "carry_used": carry[0], "carry": carry[1], "mujoco_gl": os.environ.get("MUJOCO_GL"),
    })
    if device_name == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("no CUDA device visible to torch")
        props = torch.cuda.get_device_properties(0)
        record.update({
            "gpu_name": torch.cuda.get_device_name(0), "gpu_count": torch.cuda.device_count(),
            "gpu_memory_gib": round(props.total_memory / 2**30, 2), "capability": f"{props.major}.{props.minor}",
            "multiprocessors": props.multi_processor_count, "bf16_supported": torch.cuda.is_bf16_supported(),
        })
        with contextlib.suppress(Exception):
            import pynvml  # noqa: F401

            record["pynvml"] = True
        record.setdefault("pynvml", False)
        if shutil.which("nvidia-smi"):
            with contextlib.suppress(Exception):
                out = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total,power.limit",
                                      "--format=csv,noheader"], capture_output=True, text=True, timeout=20)
                record["nvidia_smi"] = out.stdout.strip()
    try:
        import dm_control
        import mujoco

        record["mujoco"] = mujoco.__version__
        record["mujoco_from"] = str(Path(mujoco.__file__).parent)
        record["dm_control_from"] = str(Path(dm_control.__file__).parent)
        from laom_core.envs import make_env

        t0 = time.perf_counter()
        env = make_env(task="cheetah-run", difficulty="vanilla", split="train", seed=0, img_size=64, fast_render=True)
        step = env.reset()
        for _ in range(10):
            step = env.step(np.zeros(6, dtype=np.float32))
        env.close()
        record["egl_render"] = {"ok": bool(step.pixels.shape == (64, 64, 3) and step.pixels.std() > 0),
                                "env_10_steps_s": round(time.perf_counter() - t0, 2)}
    except Exception as exc:  # recorded; parts 2 (evaluation) and 4 (collection) need it
        record["egl_render"] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}


# ----------------------------------------------------------------------------- part 2
def _methods_data(work: Path, size: tuple[int, int, int]) -> Path:
    """A learnable toy set with cheetah-run's name and action size: stage losses can fall, and
    the evaluation builds the real cheetah-run environment from its attributes."""
    import h5py

    from laom_core.data.toy import make_toy_dataset

    trajectories, steps, img = size
    path = make_toy_dataset(work / "methods.h5", trajectories=trajectories, steps=steps, img_size=img, action_dim=6,
                            seed=0)
    with h5py.File(path, "r+") as f:
        f.attrs["domain_name"], f.attrs["task_name"], f.attrs["difficulty"] = "cheetah", "run", "vanilla"
        f.attrs["dynamic"] = False
    return path


def _curves(store, run_id: str | None, stage: str) -> dict:
    if not run_id:
        return {}
    try:
        return store.metrics(run_id, stage=stage)
    except Exception:  # noqa: BLE001 - a missing run reads as no curves
        return {}


def part_methods(record: dict, report: Report, sz: dict, work: Path) -> None:
    import numpy as np

    from laom_core.methods import METHODS, PIPELINES
    from laom_core.runs.store import RunStore

    data = _methods_data(work, sz["methods_data"])
    up, bs = sz["methods_updates"], sz["methods_batch"]
    # every method with bf16 + channels_last; with compile too in a second, concurrent set
    # (compile's start-up cost is what may not pay at this size: both are recorded)
    flavours = {"eager": ["run.bf16=true", "run.channels_last=true", "run.compile=false"]}
    if sz["methods_compile"]:
        flavours["compiled"] = ["run.bf16=true", "run.channels_last=true", "run.compile=true"]
    record["flavours"] = flavours
    common = ["--preset", sz["methods_preset"], "--data", str(data), "--labeled-data", str(data), "--device",
              sz["device"], "--no-progress"]
    # the evaluation renders the real environment: only when part 1 could render (else the
    # runs would fail on rendering, not on what this part checks)
    record["evaluation"] = report.data["parts"].get("device", {}).get("egl_render", {}).get("ok", False)
    if record["evaluation"]:
        common += ["--eval-data", str(data)]
    sets = [f"lapo.total_updates={up['lapo']}", f"bc.total_updates={up['bc']}", f"decoder.total_updates={up['decoder']}",
            f"idm.total_updates={up['idm']}", f"lapo.batch_size={bs}", f"bc.batch_size={bs}", f"idm.batch_size={bs}",
            f"lapo.labeled_batch_size={bs}", f"decoder.batch_size={bs}", f"run.log_every={sz['methods_log_every']}",
            "run.checkpoint_every=16", "run.eval_videos=0", "bc.eval_episodes=1", "decoder.eval_episodes=1",
            "run.eval_max_steps=50"]
    env = {**_env(work, sz["threads"]), "TORCHINDUCTOR_COMPILE_THREADS": "2"}
    procs, logs = {}, {}
    for flavour, switches in flavours.items():
        for method in METHODS:
            key = f"{method}/{flavour}"
            logs[key] = work / f"methods-{method}-{flavour}.log"
            cmd = [sys.executable, "-m", "laom_core", "train", "--method", method, "--run-dir",
                   str(work / "methods" / flavour / method), "--name", f"gpu-check-{method}-{flavour}", *common,
                   *[a for s in [*sets, *switches] for a in ("--set", s)]]
            procs[key] = start(cmd, env, logs[key])
    with SmiPoller() as smi:
        codes = finish(procs, min(sz["methods_cap_s"], report.left() - 60))
    store = RunStore()  # the workspace's store (LAOM_STUDIO_WORKSPACE, set in main)
    rows = {r.get("name"): r for r in store.list_runs()}
    results: dict[str, dict] = {flavour: {} for flavour in flavours}
    for key, code in codes.items():
        method, flavour = key.split("/")
        summary = last_json(logs[key])
        row = rows.get(f"gpu-check-{method}-{flavour}") or {}
        out: dict[str, Any] = {"exit_code": code, "ok": code == 0 and summary is not None}
        if not out["ok"]:
            out["log_tail"] = tail(logs[key])
        losses = {}
        for stage in ("lam", "idm", "bc", "decoder"):
            series = _curves(store, row.get("id"), stage).get("loss")
            if series is None or not len(series["value"]):
                continue
            v = np.asarray(series["value"], dtype=float)
            losses[stage] = {"first": float(v[0]), "last": float(v[-1]), "points": int(len(v)),
                             "finite": bool(np.isfinite(v).all()),
                             "fell": bool(len(v) >= 4 and v[-2:].mean() < v[:2].mean())}
        out["losses"] = losses
        out["first_stage_loss_fell"] = losses.get(PIPELINES[method][0], {}).get("fell")
        system = _curves(store, row.get("id"), "system")
        out["runs_page"] = {  # what the Runs page's System tab shows for this run
            "gpu_name": row.get("gpu_name"), "device": row.get("device"),
            **{f"{k}_max": float(np.nanmax(system[k]["value"])) for k in ("gpu_mem_mb", "gpu_mem_peak_mb", "gpu_util")
               if k in system and len(system[k]["value"])},
        }
        if smi.available and row.get("pid") in smi.peak:  # nvidia-smi's figure includes the CUDA context
            out["nvidia_smi_peak_mb"] = smi.peak[row["pid"]]
        if summary:
            out.update({k: summary.get(k) for k in ("switches", "device", "stage_samples_per_s", "probe_mse",
                                                      "held_out_action_mse", "eval_return_mean", "wall_s")})
        results[flavour][method] = out
    record["runs"] = results
    record["nvidia_smi"] = smi.available
    record["all_ok"] = {flavour: all(r["ok"] and all(s["finite"] for s in r["losses"].values()) for r in runs.values())
                        for flavour, runs in results.items()}


# ----------------------------------------------------------------------------- part 3
def throughput_child(args: argparse.Namespace) -> int:
    """One variant in a fresh process: prints one JSON line (bench/train_throughput.py's figures)."""
    import torch

    sys.path.insert(0, str(REPO / "bench"))
    from train_throughput import measure_speed

    torch.set_num_threads(max(1, int(os.environ.get("LAOM_TORCH_THREADS", "4"))))
    device = torch.device(args.device)
    overrides = json.loads(args.child_throughput)
    t0 = time.perf_counter()
    result = measure_speed(args.preset, device, Path(args.data), args.steps, args.rounds, None, overrides)
    result["process_s"] = round(time.perf_counter() - t0, 2)
    print(json.dumps(result, default=str))
    return 0


def part_throughput(record: dict, report: Report, sz: dict, work: Path, collection=None) -> None:
    from laom_core.data.toy import make_toy_dataset

    trajectories, steps, img = sz["tp_data"]
    data = make_toy_dataset(work / "throughput.h5", trajectories=trajectories, steps=steps, img_size=img, seed=0)
    record.update({"preset": sz["tp_preset"], "batch_size": sz["tp_batch"], "method": "laom", "variants": {}})
    part_end = time.monotonic() + min(sz["tp_cap_s"], report.left() - sz["cmp_min_s"])
    env = _env(work, sz["tp_threads"])
    for name, overrides in VARIANTS.items():
        left = part_end - time.monotonic()
        needed = sz["tp_compile_min_s"] if "compile" in name else 15.0
        if left < needed:
            record["variants"][name] = {"status": "skipped", "note": f"{left:.0f} s left in the part, {needed:.0f} s needed"}
            report.save()
            continue
        log = work / f"throughput-{name}.log"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child-throughput",
               json.dumps([*overrides, f"lapo.batch_size={sz['tp_batch']}"]), "--preset", sz["tp_preset"],
               "--data", str(data), "--steps", str(sz["tp_steps"]), "--rounds", str(sz["tp_rounds"]),
               "--device", sz["device"]]
        busy = collection is not None and collection.running()  # CPU shared with part 4's collection
        code = finish({name: start(cmd, env, log)}, left)[name]
        result = last_json(log) if code == 0 else None
        if result is None:
            record["variants"][name] = {"status": "timeout" if code is None else "failed", "log_tail": tail(log)}
        else:
            record["variants"][name] = {"status": "done", "collection_running": busy, **{k: result.get(k) for k in (
                "full_samples_per_s", "ready_samples_per_s", "ratio", "ratio_median", "pipeline_samples_per_s",
                "peak_gpu_mem_mb", "ms_per_step_full", "ms_per_step_ready", "ms_sample", "ms_to_float", "ms_augment",
                "model_mb", "warmup_s", "sampler_mode", "process_s", "pairs")}}
        report.save()
    done = {k: v for k, v in record["variants"].items() if v.get("status") == "done"}
    base = done.get("fp32", {}).get("full_samples_per_s")
    if base:
        record["speedup_vs_fp32"] = {k: round(v["full_samples_per_s"] / base, 3) for k, v in done.items()}
    if done:
        best = max(done.items(), key=lambda kv: kv[1]["full_samples_per_s"])
        record["best"] = {"variant": best[0], "samples_per_s": best[1]["full_samples_per_s"],
                          "step_vs_model_ratio": best[1]["ratio"], "ratio_target": 0.9,
                          "ratio_met": bool(best[1]["ratio"] >= 0.9)}


# ----------------------------------------------------------------------------- part 4
def _step_time(method: str, preset: str, overrides: list[str], device_name: str, img: int, action_dim: int = 6,
               state_dim: int = 17, steps: int = 4) -> float:
    """Seconds per stage-1 update of ``method`` on ready tensors (model, loss, Adam), alone."""
    import torch
    import torch.nn.functional as F

    from laom_core.config import load_config
    from laom_core.training.common import autocast, prepare, switch_on
    from laom_core.training.lam import TargetEncoder, build_lam

    config, _ = load_config(preset, method, overrides=overrides)
    cfg, run = config.lapo, config.run
    device = torch.device(device_name)
    model = prepare(build_lam(method, cfg, 3 * cfg.frame_stack, img, action_dim), device, run.channels_last)
    target = None if method == "lapo" else TargetEncoder(model).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    x = [torch.rand(cfg.batch_size, 3 * cfg.frame_stack, img, img, device=device) * 2 - 1 for _ in range(3)]
    if switch_on(run.channels_last, device):
        x = [t.contiguous(memory_format=torch.channels_last) for t in x]

    def one() -> None:
        with autocast(device, run.bf16):
            pred, _z, _emb = model(x[0], x[2])
            tgt = model.target_frame(x[1]) if target is None else target(x[1])
            loss = F.mse_loss(pred.float(), tgt.float().detach())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    one()
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        one()
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = (time.perf_counter() - t0) / steps
    del model, target, opt, x
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return seconds


# The fidelity study's settings (laom_core/studies/fidelity.py), so that the GPU figures sit beside
# the CPU study's: D1, where the CPU study sees the clearest gap, first; D2 if time allows.
PRIMARY, SECOND = "D1", "D2"


def comparison_settings() -> dict[str, dict[str, Any]]:
    """name -> collect difficulty and ``--env`` options (imported late: the carry goes on the path first)."""
    from laom_core.studies.fidelity import SETTINGS as FIDELITY_SETTINGS

    return {name: {"difficulty": FIDELITY_SETTINGS[name][0], "env": dict(FIDELITY_SETTINGS[name][1])}
            for name in (PRIMARY, SECOND)}


class Collection:
    """Part 4's twin datasets, collected in the background from the start of part 2 on (CPU
    work: part 2 only checks that things work, so it can share the cores)."""

    def __init__(self, sz: dict, work: Path) -> None:
        cores = os.cpu_count() or 2
        self.workers = max(2, min(sz["cmp_workers"], cores - 2)) if sz["device"] == "cuda" else sz["cmp_workers"]
        self.t0 = time.monotonic()
        self.seconds: float | None = None
        self.procs, self.logs = {}, {}
        env = _env(work, 1)
        for name, setting in comparison_settings().items():  # twins: same seed, same expert, same episodes
            share = max(1, self.workers // 2) if name == PRIMARY else max(1, self.workers - self.workers // 2)
            self.logs[name] = work / f"collect-{name}.log"
            cmd = [sys.executable, "-m", "laom_core", "collect", "--task", "cheetah-run",
                   "--difficulty", setting["difficulty"], *[a for k, v in setting["env"].items() for a in ("--env", f"{k}={v}")],
                   "--policy", "expert", "--episodes", str(sz["cmp_episodes"]), "--steps", str(sz["cmp_steps"]),
                   "--img-size", str(sz["cmp_img"]), "--workers", str(share), "--seed", "0", "--fast-render",
                   "--out", str(work / f"cmp-{name}.hdf5"), "--overwrite", "--json"]
            self.procs[name] = start(cmd, env, self.logs[name])

    def running(self) -> bool:
        return any(p.poll() is None for p in self.procs.values())

    def wait(self, timeout_s: float) -> dict:
        codes = finish(self.procs, timeout_s)
        self.seconds = round(time.monotonic() - self.t0, 1)
        out = {}
        for name in (PRIMARY, SECOND):
            summary = last_json(self.logs[name])
            out[name] = summary if (codes[name] == 0 and summary) else {"exit_code": codes[name],
                                                                         "log_tail": tail(self.logs[name])}
        return out

    def kill(self) -> None:
        if self.procs and self.seconds is None:
            self.wait(0)


def part_comparison(record: dict, report: Report, sz: dict, work: Path, collection: Collection | None) -> None:
    import numpy as np

    from laom_core.runs.store import RunStore

    if collection is None:
        raise Skip("the collection did not start")
    record.update({"task": "cheetah-run", "settings": comparison_settings(), "episodes": sz["cmp_episodes"],
                   "steps": sz["cmp_steps"], "img_size": sz["cmp_img"], "collect_workers": collection.workers,
                   "preset": sz["cmp_preset"], "overrides": sz["cmp_set"]})
    record["collect"] = collection.wait(max(report.left() - sz["cmp_reserve_s"] - sz["cmp_min_s"] / 2, 10))
    record["collect_s"] = collection.seconds
    report.save()
    if "path" not in record["collect"][PRIMARY]:
        raise RuntimeError(f"the {PRIMARY} collection did not finish")
    if report.left() < sz["cmp_min_s"]:
        raise Skip(f"{report.left():.0f} s left after the collection, {sz['cmp_min_s']:.0f} s needed to train")
    with_second = "path" in record["collect"][SECOND]

    # size stage 1 from its step time, measured here on ready tensors
    overrides = [*sz["cmp_set"], "run.stop_after=lam"]
    step_s = {m: _step_time(m, sz["cmp_preset"], overrides, sz["device"], sz["cmp_img"]) for m in ("lapo", "laom")}
    runs = [(m, s) for s in ([PRIMARY, SECOND] if with_second else [PRIMARY]) for m in ("lapo", "laom")]
    train_s = report.left() - sz["cmp_reserve_s"]
    # concurrent runs share the device: one update of every run takes about the sum of the
    # step times; the real loop (sampler, augmentation, online probes, logs) costs ~1.5x more
    per_round = sum(step_s[m] for m, _ in runs) * 1.5
    fits = train_s * 0.75 / max(per_round, 1e-6)
    if len(runs) == 4 and fits < 2 * sz["cmp_min_updates"]:  # too little time for four: the first pair only
        runs, per_round = runs[:2], per_round / 2
        fits *= 2
        record["note"] = f"{SECOND} not trained: too little time left"
    updates = int(max(sz["cmp_min_updates"], min(sz["cmp_max_updates"], fits)))
    record.update({"step_s_alone": {m: round(v, 4) for m, v in step_s.items()}, "updates": updates,
                   "train_budget_s": round(train_s, 1)})
    report.save()
    env = _env(work, max(1, ((os.cpu_count() or 2) - 2) // len(runs)))
    procs, logs = {}, {}
    for method, setting in runs:
        key = f"{method}-{setting}"
        logs[key] = work / f"cmp-{key}.log"
        sets = [*overrides, f"lapo.total_updates={updates}"]
        cmd = [sys.executable, "-m", "laom_core", "train", "--method", method, "--preset", sz["cmp_preset"],
               "--data", record["collect"][setting]["path"], "--device", sz["device"], "--no-progress",
               "--run-dir", str(work / "cmp" / key), "--name", f"gpu-check-{key}",
               *[a for s in sets for a in ("--set", s)]]
        procs[key] = start(cmd, env, logs[key])
    codes = finish(procs, report.left() - 5)
    store = RunStore()
    rows = {r.get("name"): r for r in store.list_runs()}
    results: dict[str, Any] = {}
    for key, code in codes.items():
        summary = last_json(logs[key])
        if code != 0 or summary is None:
            results[key] = {"exit_code": code, "log_tail": tail(logs[key])}
            continue
        row = rows.get(f"gpu-check-{key}") or {}
        lam = _curves(store, row.get("id"), "lam")
        online = lam.get("probe_mse")
        entry = {k: summary.get(k) for k in ("probe_mse", "chance_probe_mse", "state_probe_mse", "fdm_z_gain",
                                             "samples_per_s", "wall_s", "train_trajectories", "held_out_trajectories")}
        entry.update({k: v for k, v in summary.items() if k.startswith("probe_") and k not in entry})
        if online is not None and len(online["value"]):
            v = np.asarray(online["value"], dtype=float)
            entry["online_probe_mse"] = float(np.nanmean(v[-3:]))  # the paper's probe: online, training batches
        results[key] = entry
    record["runs"] = results
    ratios: dict[str, Any] = {}
    for setting in (PRIMARY, SECOND):
        lapo, laom = results.get(f"lapo-{setting}", {}), results.get(f"laom-{setting}", {})
        keys = [k for k in lapo if (k.startswith("probe") or k == "online_probe_mse") and k in laom]
        ratios[setting] = {k: (lapo[k] / laom[k]) for k in keys
                           if isinstance(lapo[k], (int, float)) and isinstance(laom[k], (int, float)) and laom[k]}
    record["lapo_over_laom"] = ratios  # > 1: LAOM's latent actions hold the true action better
    if not all("probe_mse" in results.get(f"{m}-{PRIMARY}", {}) for m in ("lapo", "laom")):
        raise RuntimeError(f"a {PRIMARY} stage-1 run did not finish")


# ----------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="all four parts on CPU at tiny sizes (CI, < 5 min)")
    parser.add_argument("--budget-min", type=float, default=None, help="wall-clock budget in minutes (default 9; tiny 4.5)")
    parser.add_argument("--out", type=Path, default=None, help="JSON path (default $OUT/gpu_check.json or "
                        "bench/results/gpu_check.json)")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temp folder, removed)")
    parser.add_argument("--parts", default="device,methods,throughput,comparison", help="comma-separated subset")
    # internal: one part-3 variant in a fresh process
    parser.add_argument("--child-throughput", help=argparse.SUPPRESS)
    parser.add_argument("--preset", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--device", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    carry = use_carry()
    if args.child_throughput:
        return throughput_child(args)

    sz = dict(SIZES["tiny" if args.tiny else "full"])
    if args.budget_min is not None:
        sz["budget_s"] = args.budget_min * 60
    out = args.out or (Path(os.environ["OUT"]) / "gpu_check.json" if os.environ.get("OUT")
                       else REPO / "bench" / "results" / "gpu_check.json")
    report = Report(out, sz["budget_s"], args.tiny)
    report.data["sizes"] = {k: v for k, v in sz.items()}
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    work_ctx = contextlib.nullcontext(args.work) if args.work else tempfile.TemporaryDirectory(prefix="gpu-check-")
    with work_ctx as work_dir:
        work = Path(work_dir)
        work.mkdir(parents=True, exist_ok=True)
        os.environ["LAOM_STUDIO_WORKSPACE"] = str(work / "workspace")  # this process reads the runs' store
        collection = None
        if "comparison" in parts:
            try:
                collection = Collection(sz, work)
            except Exception as exc:  # noqa: BLE001 - part 4 reports it
                report.data["collection_error"] = f"{type(exc).__name__}: {exc}"
        for name, fn in (("device", lambda r: part_device(r, sz["device"], carry)),
                         ("methods", lambda r: part_methods(r, report, sz, work)),
                         ("throughput", lambda r: part_throughput(r, report, sz, work, collection)),
                         ("comparison", lambda r: part_comparison(r, report, sz, work, collection))):
            if name not in parts:
                continue
            with report.part(name) as record:
                try:
                    fn(record)
                except Skip as why:
                    record["status"] = "skipped"
                    record["note"] = str(why)
        if collection is not None:
            collection.kill()
        report.data["finished"] = True
        report.save()
    statuses = {k: v["status"] for k, v in report.data["parts"].items()}
    print(json.dumps({"out": str(out), "parts": statuses, "elapsed_s": report.data["elapsed_s"]}))
    return 0 if all(s in ("done", "skipped") for s in statuses.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
