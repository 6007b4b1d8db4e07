"""Train: configure and launch background training runs (one method, several seeds, or a sweep)."""
from __future__ import annotations

import hashlib
import shlex
import uuid
from pathlib import Path

import streamlit as st

from laom_core.errors import ConfigError, LaomError
from laom_core.workspace import cache_dir
from pages import common

common.page_header("Train", "Launch a method on your datasets. Runs start in their own background processes "
                            "(queued when the machine is busy) and keep going when you close this page.")

DATA_DIR = common.datasets_folder()

from laom_core import methods  # noqa: E402
from laom_core.config import PRESETS  # noqa: E402
from laom_core.data import catalog  # noqa: E402
from laom_core.methods import LAM_METHODS, METHODS  # noqa: E402
from laom_core.runs.request import TrainRequest, resolve_config, train_argv, validate_train_request  # noqa: E402
from laom_core.runs.sweeps import launch_sweep  # noqa: E402



@st.cache_data(ttl=10, show_spinner=False)
def _datasets(folder: str) -> list[dict]:
    return [{"path": r["path"], "name": r["name"], "trajectories": r["num_trajectories"], "task": r["task"],
             "difficulty": r["difficulty"], "split": r["split"], "labeled": r["labeled_subset"]}
            for r in catalog.list_datasets(folder) if r["valid"]]


def _backend_choice(prefix: str) -> tuple[str, dict, list[str]]:
    """Cluster backends: where the runs execute, with the backend's options.

    Returns (backend, options, the matching CLI flags). Defaults come from the workspace's
    cluster.yaml; the launcher checks that the cluster answers when the runs are queued.
    """
    from laom_core.runs.backends import BACKENDS

    with st.expander("Backend: where the runs execute", expanded=False):
        backend = st.radio("Backend", BACKENDS, horizontal=True, key=f"{prefix}_backend",
                           help="local: this machine (default). slurm: one Slurm job per run (submitit). "
                                "ray: one Ray job per run on an existing Ray cluster. The workspace must be on "
                                "a filesystem the cluster shares.")
        opts: dict = {}
        cli: list[str] = [] if backend == "local" else ["--backend", backend]
        if backend == "slurm":
            b1, b2, b3 = st.columns(3)
            partition = b1.text_input("Partition", "", key=f"{prefix}_partition", help="empty: the cluster's default")
            gpus = b2.number_input("GPUs per run", 0, 16, 0, key=f"{prefix}_gpus")
            limit = b3.number_input("Time limit (minutes)", 0, 60 * 24 * 14, 0, key=f"{prefix}_time",
                                    help="0: cluster.yaml's, or a week")
            if partition.strip():
                opts["partition"], cli = partition.strip(), cli + ["--partition", partition.strip()]
            if gpus:
                opts["gpus"], cli = int(gpus), cli + ["--gpus", str(int(gpus))]
            if limit:
                opts["time_limit_min"], cli = int(limit), cli + ["--time-limit", str(int(limit))]
        elif backend == "ray":
            b1, b2 = st.columns(2)
            address = b1.text_input("Ray address", "", key=f"{prefix}_ray_address",
                                    placeholder="http://127.0.0.1:8265", help="empty: cluster.yaml's, RAY_ADDRESS, "
                                                                             "or http://127.0.0.1:8265")
            gpus = b2.number_input("GPUs per run", 0, 16, 0, key=f"{prefix}_ray_gpus")
            if address.strip():
                opts["address"], cli = address.strip(), cli + ["--ray-address", address.strip()]
            if gpus:
                opts["gpus"], cli = int(gpus), cli + ["--gpus", str(int(gpus))]
    return backend, opts, cli


def _fmt(ds: dict | None) -> str:
    if ds is None:
        return "— none —"
    return f"{ds['name']} · {ds['task']} · {ds['difficulty']} · {ds['trajectories']} traj"


def _save_upload(upload) -> Path:
    data = upload.getvalue()
    if len(data) > 1_000_000:
        raise ConfigError("the uploaded config is larger than 1 MB; is it really a YAML config?")
    digest = hashlib.sha256(data).hexdigest()[:16]
    path = cache_dir() / "uploaded_configs" / f"{digest}.yaml"
    if not path.exists():
        from laom_core.workspace import atomic_path

        with atomic_path(path) as tmp:
            tmp.write_bytes(data)
    return path


datasets = _datasets(str(DATA_DIR))
if not datasets:
    st.info(f"No datasets in `{DATA_DIR}` yet: collect one on **Datasets & distractors** first.")
    st.stop()

mode = st.radio("Launch", ["Single method", "Sweep (methods × budgets × seeds)"], horizontal=True, key="train_mode")
by_path = {d["path"]: d for d in datasets}
unlabeled = [d["path"] for d in datasets if not d["labeled"]] or [d["path"] for d in datasets]
unlabeled.sort(key=lambda p: by_path[p]["split"] != "train")  # training-split files first
eval_default = next((i + 1 for i, d in enumerate(datasets) if d["split"] == "eval" and not d["labeled"]), 0)
labeled_sets = [d["path"] for d in datasets if d["labeled"]]

if "launch_token" not in st.session_state:
    st.session_state["launch_token"] = uuid.uuid4().hex

# -------------------------------------------------------------------------------- single
if mode.startswith("Single"):
    c1, c2, c3 = st.columns(3)
    method = c1.selectbox("Method", METHODS, index=METHODS.index("laom"), key="tr_method",
                          format_func=common.method_label)
    c1.caption(methods.get(method).help)
    preset = c2.selectbox("Preset", PRESETS, index=PRESETS.index("smoke"), key="tr_preset",
                          help="smoke: seconds (checks the plumbing); cpu-small: minutes on a CPU; paper: the "
                               "paper's Table 5 (needs a GPU)")
    device = c3.selectbox("Device", ["auto", "cpu", "cuda"], key="tr_device")
    d1, d2, d3 = st.columns(3)
    data = d1.selectbox("Unlabeled dataset", unlabeled, format_func=lambda p: _fmt(by_path.get(p)), key="tr_data")
    labeled_opts = [None] + labeled_sets
    labeled = d2.selectbox("Labeled subset (labeled budget)", labeled_opts, key="tr_labeled",
                           index=1 if methods.get(method).budget_shapes_model and labeled_sets else 0,
                           format_func=lambda p: _fmt(by_path.get(p)) if p else "— none —")
    eval_opts = [None] + [d["path"] for d in datasets]
    eval_data = d3.selectbox("Eval dataset (optional)", eval_opts, key="tr_eval", index=eval_default,
                             help="Evaluation rollouts run on its task and difficulty with eval-split videos",
                             format_func=lambda p: _fmt(by_path.get(p)) if p else "— none —")
    s1, s2, s3 = st.columns(3)
    seeds_text = s1.text_input("Seeds", "0", key="tr_seeds", help="comma-separated, one run per seed")
    name = s2.text_input("Name (optional)", "", key="tr_name")
    group = s3.text_input("Group (optional)", "", key="tr_group")
    overrides_text = st.text_area("Config overrides, one `section.key=value` per line", "", key="tr_overrides",
                                  placeholder="lapo.latent_action_dim=256\nlapo.total_updates=2000", height=90)
    upload = st.file_uploader("Authors' YAML config (optional)", type=["yaml", "yml"], key="tr_upload")

    problems: list[str] = []
    seeds: list[int] = []
    try:
        seeds = sorted({int(s) for s in seeds_text.replace(" ", "").split(",") if s != ""})
        if not seeds or any(s < 0 for s in seeds):
            raise ValueError
    except ValueError:
        problems.append(f"seeds must be non-negative integers separated by commas, got {seeds_text!r}")
    overrides = [line.strip() for line in overrides_text.splitlines() if line.strip() and not line.strip().startswith("#")]
    config_path = None
    if upload is not None:
        try:
            config_path = _save_upload(upload)
        except LaomError as exc:
            problems.append(str(exc))
    if methods.get(method).budget_shapes_model and not labeled:
        problems.append(f"{common.method_label(method)} needs a labeled subset (sample one on Datasets & distractors)")
    # One checked request per seed, by the same validation as the CLI and the launcher.
    requests: dict[int, TrainRequest] = {}
    if not problems:
        try:
            for seed in seeds:
                seed_set = [f"seed={seed}"] if len(seeds) > 1 or seed != 0 else []
                requests[seed] = validate_train_request(
                    method, preset=preset, config_path=config_path, sets=[*overrides, *seed_set], data=data,
                    labeled_data=labeled, eval_data=eval_data, device=device)
            ignored = requests[seeds[0]].ignored
            if ignored:
                st.caption(f"Ignored keys of the authors' setup: {', '.join(ignored)}")
        except LaomError as exc:
            requests = {}
            problems.append(str(exc))
    resolved = requests[seeds[0]].config if requests else None
    backend, backend_opts, backend_cli = _backend_choice("tr")  # cluster backends
    for p in problems:
        st.error(p)

    if requests:
        extra = []
        if name:
            extra += ["--name", name]
        if group:
            extra += ["--group", group]
        cmds = [shlex.join(["python", "-m", "laom_core", "launch", *train_argv(r), *extra, *backend_cli])
                for r in requests.values()]
        st.markdown("**Equivalent command**")
        st.code("\n".join(cmds), language="bash")
    if resolved is not None:
        with st.expander("Resolved config"):
            st.code(resolved.to_yaml(), language="yaml")

    def launch_all() -> None:
        """Queue one run per seed. The session's client token makes a repeated click with the
        same settings the same request: the launcher answers with the runs it already has."""
        from laom_core.runs import launcher

        token = st.session_state["launch_token"]
        before = {r["id"] for r in common.store().list_runs(reconcile=False)}
        ids = []
        for seed in seeds:
            run_name = f"{name or common.method_label(method)}" + (f" s{seed}" if len(seeds) > 1 or name == "" else "")
            ids.append(launcher.launch(requests[seed], name=run_name, group=group or None,
                                       client_token=f"{token}:{seed}", store=common.store(),
                                       backend=backend, backend_opts=backend_opts))
        st.session_state["last_launched"] = {"ids": ids, "existing": [i for i in ids if i in before]}

    if st.button(f"Launch {len(seeds)} run{'s' if len(seeds) != 1 else ''}", type="primary",
                 disabled=bool(problems), key="tr_launch"):
        with common.guard("Launch"):
            launch_all()
    last = st.session_state.get("last_launched")
    if isinstance(last, dict) and last.get("ids"):
        existing = set(last.get("existing") or ())
        new = [i for i in last["ids"] if i not in existing]
        if new:
            st.success(f"Queued {len(new)} run(s): {', '.join(new)}. Follow them on **Runs**.")
        if existing:
            statuses = {}
            with common.guard("Run store"):
                statuses = {i: common.store().get_run(i, reconcile=False)["status"] for i in existing}
            listed = ", ".join(f"{i} ({statuses.get(i, '?')})" for i in last["ids"] if i in existing)
            st.info(f"Same run{'s' if len(existing) > 1 else ''} as before: {listed}. These settings were "
                    "already launched from this page, so nothing new was queued (the launcher recognises a repeated "
                    "request by its client token). Change a setting to launch another run, or queue a copy.",
                    icon=":material/content_copy:")
            if st.button("Launch a copy", key="tr_launch_copy", disabled=bool(problems)):
                with common.guard("Launch"):
                    st.session_state["launch_token"] = uuid.uuid4().hex  # a new request: new runs
                    launch_all()
                    st.rerun()
        st.page_link("pages/runs.py", label="Open Runs", icon=":material/monitoring:")

# -------------------------------------------------------------------------------- sweep
else:
    st.markdown("A sweep is a named group of runs: every method × labeled budget × seed. Budgets are subsets "
                "of that many trajectory chunks, sampled from the labeled source (or the released files).")
    c1, c2 = st.columns(2)
    sw_name = c1.text_input("Sweep name", "sweep-1", key="sw_name")
    sw_methods = c2.multiselect("Methods", METHODS, default=list(LAM_METHODS), key="sw_methods",
                                format_func=common.method_label)
    c3, c4, c5 = st.columns(3)
    sw_budgets = c3.text_input("Labeled budgets", "2,8,32", key="sw_budgets")
    sw_seeds = c4.text_input("Seeds", "0,1,2", key="sw_seeds")
    sw_preset = c5.selectbox("Preset", PRESETS, index=PRESETS.index("smoke"), key="sw_preset")
    c6, c7 = st.columns(2)
    sw_data = c6.selectbox("Unlabeled dataset", unlabeled, key="sw_data",
                           format_func=lambda p: _fmt(by_path.get(p)))
    sw_labeled_src = c7.selectbox("Labeled source (subsets are sampled from it)", [d["path"] for d in datasets],
                                  key="sw_labeled", format_func=lambda p: _fmt(by_path.get(p)))
    sw_eval = st.selectbox("Eval dataset (optional)", [None] + [d["path"] for d in datasets], key="sw_eval",
                           index=eval_default, format_func=lambda p: _fmt(by_path.get(p)) if p else "— none —")
    sw_over = st.text_area("Config overrides, one `section.key=value` per line", "", key="sw_over", height=70)
    sw_backend, sw_backend_opts, sw_backend_cli = _backend_choice("sw")  # cluster backends
    try:
        budgets = [int(b) for b in sw_budgets.replace(" ", "").split(",") if b]
        seeds = [int(s) for s in sw_seeds.replace(" ", "").split(",") if s]
        overrides = [x.strip() for x in sw_over.splitlines() if x.strip()]
        for sw_method in sw_methods:  # the sweep's own check (at launch) is the same validation
            resolve_config(sw_method, sw_preset, None, overrides)
        ok = bool(budgets and seeds and sw_methods and sw_name.strip())
    except (ValueError, LaomError) as exc:
        st.error(f"Sweep settings: {exc}")
        ok = False
    cmd = ["python", "-m", "laom_core", "sweep", "--name", sw_name, "--methods", ",".join(sw_methods),
           "--budgets", sw_budgets.replace(" ", ""), "--seeds", sw_seeds.replace(" ", ""), "--preset", sw_preset,
           "--data", sw_data, "--labeled-data", sw_labeled_src]
    if sw_eval:
        cmd += ["--eval-data", sw_eval]
    for item in sw_over.splitlines():
        if item.strip():
            cmd += ["--set", item.strip()]
    cmd += sw_backend_cli
    st.markdown("**Equivalent command**")
    st.code(shlex.join(cmd), language="bash")
    if st.button("Launch sweep", type="primary", disabled=not ok, key="sw_launch"):
        with common.guard("Sweep"):
            backend_kwargs = {"backend": sw_backend, "backend_opts": sw_backend_opts} if sw_backend != "local" else {}
            result = launch_sweep(name=sw_name.strip(), methods=sw_methods, budgets=budgets, seeds=seeds,
                                  preset=sw_preset, data=sw_data, labeled_source=sw_labeled_src, eval_data=sw_eval,
                                  overrides=overrides, store=common.store(), **backend_kwargs)
            n = len(result["run_ids"])
            st.success(f"Sweep {sw_name} queued: {n} runs. Follow it on **Runs** (group {sw_name}).")
