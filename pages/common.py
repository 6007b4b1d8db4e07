"""Helpers shared by the pages (not a page itself): store access, error display, caching.

Pages stay thin: they read laom_core, draw, and call laom_core. Anything a user can get
wrong surfaces as a LaomError, shown here with ``st.error`` instead of a traceback.
"""
from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import streamlit as st

from laom_core import methods
from laom_core.errors import LaomError

# Plain symbols (they render in every font, unlike emoji in headless browsers).


def _route_through_app() -> None:
    """Make a deep link on a fresh server go through app.py's st.navigation.

    Streamlit treats a ``pages/`` folder next to the entry script as the old multipage
    layout until the entry script has run once in the server process: a first request for
    /runs would run pages/runs.py directly, with every file of the folder in the sidebar.
    Clearing that flag and rerunning routes the request through app.py instead.
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # a future streamlit without the old layout
        return
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


_route_through_app()

STATUS_ICONS = {"queued": "○", "running": "▶", "finished": "✓", "failed": "✗", "stopped": "■"}


def error_text(exc: BaseException) -> str:
    """One line for a user error: a LaomError's message, or an OSError's reason and path."""
    if isinstance(exc, OSError) and not isinstance(exc, LaomError):
        from laom_core.errors import describe_os_error

        return describe_os_error(exc)
    return str(exc)


@contextlib.contextmanager
def guard(what: str = "") -> Iterator[None]:
    """Show a user error (LaomError, or an OSError on a user's path) or a missing module as a
    message; the page goes on."""
    try:
        yield
    except (LaomError, OSError) as exc:
        st.error(f"{what + ': ' if what else ''}{error_text(exc)}")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("laom_core"):
            st.info(f"{what + ': ' if what else ''}this part of LAOM Studio ({exc.name}) is not installed yet.")
        else:
            raise


def run_page(page) -> None:
    """The pages' one error boundary (app.py runs every page through it): a LaomError or
    OSError that no section of the page caught ends the page with ``st.error``, never a
    traceback. Streamlit's own control flow (st.stop, st.rerun) passes through."""
    with guard():
        page.run()


def workspace() -> Path:
    from laom_core.workspace import workspace_root

    return workspace_root()


@st.cache_resource(show_spinner=False)
def _store(path: str):
    from laom_core.runs.store import RunStore

    return RunStore(path)


def store():
    """The workspace's run store (one connection per store file, shared by reruns)."""
    from laom_core.workspace import store_path

    return _store(str(store_path()))


_SCHEDULER_CHECK_S = 10.0
_last_scheduler_check: dict[str, float] = {}  # store path -> monotonic time of the last check


def _ensure_scheduler() -> None:
    """Start the detached scheduler when runs are queued and none is alive.

    Queued runs left behind by a reboot (or a scheduler that died) start as soon as anyone
    opens the dashboard; checked at most every few seconds per workspace.
    """
    s = store()
    key = str(s.path)
    now = time.monotonic()
    if now - _last_scheduler_check.get(key, float("-inf")) < _SCHEDULER_CHECK_S:
        return
    _last_scheduler_check[key] = now
    with contextlib.suppress(LaomError, OSError):
        from laom_core.runs import launcher

        launcher.ensure_scheduler(s)


def list_runs(status=None, group=None) -> list[dict]:
    _ensure_scheduler()
    return store().list_runs(status=status, group=group)


def runs_with_folders() -> list[dict]:
    """Runs that have a run folder; a broken store shows st.error and stops the page."""
    try:
        return [r for r in list_runs() if r.get("run_dir")]
    except LaomError as exc:
        st.error(f"Run store: {exc}")
        st.stop()
        return []


def runs_having(path_of: Callable[[dict], Path], none_yet: str) -> list[dict]:
    """Runs (newest first) whose file ``path_of(run)`` exists; with none, ``none_yet`` is shown
    and the page stops."""
    found = [r for r in reversed(runs_with_folders()) if path_of(r).is_file()]
    if not found:
        st.info(none_yet)
        st.stop()
    return found


def datasets_folder() -> Path:
    """The workspace's datasets folder; a workspace problem shows st.error and stops the page."""
    from laom_core.workspace import datasets_dir

    try:
        return datasets_dir()
    except LaomError as exc:
        st.error(f"Workspace problem: {exc}")
        st.stop()


def short_id(run: dict) -> str:
    """The random tail of a run id (``laom-20250101-120000-a1b2c3`` -> ``a1b2c3``)."""
    return str(run["id"]).rsplit("-", 1)[-1][-6:]


def run_label(run: dict) -> str:
    """A picker's label: name, labeled budget, seed and the short id (names need not be unique)."""
    parts = [run.get("name") or run["id"]]
    budget = run.get("labeled_budget")
    if budget:
        parts.append(f"{budget} labeled")
    parts.append(f"seed {run.get('seed', 0)}")
    if run.get("name"):
        parts.append(short_id(run))
    return f"{STATUS_ICONS.get(run.get('status'), '')} {' · '.join(parts)}"


def display_names(runs: list[dict]) -> dict[str, str]:
    """Legend names: the run's name, with its short id appended when another of ``runs`` shares it."""
    from collections import Counter

    counts = Counter(r.get("name") or r["id"] for r in runs)
    return {r["id"]: (r.get("name") or r["id"]) + (f" [{short_id(r)}]" if counts[r.get("name") or r["id"]] > 1 else "")
            for r in runs}


_NOT_CONFIG = {"seed", "name", "group", "project"}  # differ between seeds of one configuration


def _flat(d: dict | None, prefix: str = "") -> dict:
    out: dict = {}
    for k, v in (d or {}).items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def seed_config(run: dict) -> dict:
    """What makes runs seeds of one experiment: method, task, data, labeled budget and the
    resolved config, without the seed (and the run's name/group)."""
    import json

    datasets = run.get("datasets") or {}
    flat = {k: v for k, v in _flat(run.get("config")).items() if k not in _NOT_CONFIG}
    flat.update({"(method)": run.get("method"), "(task)": run.get("task"),
                 "(data)": Path(datasets["data"]).name if datasets.get("data") else None,
                 "(eval data)": Path(datasets["eval_data"]).name if datasets.get("eval_data") else None,
                 "(labeled budget)": run.get("labeled_budget")})
    return {k: json.dumps(v, sort_keys=True, default=str) for k, v in flat.items()}


def seed_groups(runs: list[dict]) -> dict[str, str]:
    """Run id -> the label of its seed group: runs whose :func:`seed_config` is equal.

    The label is the method, plus the settings that tell this group from the others shown
    (e.g. ``LAOM · lapo.latent_action_dim=512``), so two configurations of one method never
    share a band.
    """
    configs = {r["id"]: seed_config(r) for r in runs}
    distinct: dict[str, dict] = {}
    for rid, cfg in configs.items():
        distinct.setdefault(repr(sorted(cfg.items())), cfg)
    keys = sorted(set().union(*distinct.values())) if distinct else []
    varying = [k for k in keys if k != "(method)" and len({c.get(k) for c in distinct.values()}) > 1]
    labels = {}
    for r in runs:
        cfg = configs[r["id"]]
        parts = [method_label(r.get("method"))]
        for k in varying[:3]:
            parts.append(f"{k.strip('()')}={cfg.get(k, '—').strip(chr(34))}")
        if len(varying) > 3:
            import hashlib

            parts.append("config " + hashlib.sha1(repr(sorted(cfg.items())).encode()).hexdigest()[:6])
        labels[r["id"]] = " · ".join(parts)
    return labels


def chance_badge(mse: float, chance: float | None) -> dict:
    """``st.metric`` delta arguments comparing a probe MSE with chance (predicting the mean).

    Lower is better: below chance reads green with a down arrow and how far below; at or
    above chance is flagged red ("worse than chance"); no chance figure, no badge.
    """
    if chance is None or not chance == chance:
        return {}
    if mse >= chance:
        return {"delta": f"worse than chance ({chance:.4f})", "delta_color": "red", "delta_arrow": "up"}
    return {"delta": f"{1 - mse / chance:.0%} below chance ({chance:.4f})" if chance > 0 else f"chance {chance:.4f}",
            "delta_color": "green", "delta_arrow": "down"}


def method_label(method: str | None) -> str:
    return methods.label(method)


def fmt_duration(seconds: float | None) -> str:
    if seconds is None or seconds != seconds:
        return "–"
    seconds = int(max(0, seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


def fmt_time(ts: float | None) -> str:
    if not ts:
        return "–"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


def run_dir(run: dict) -> Path | None:
    folder = run.get("run_dir")
    return Path(folder) if folder else None


def read_json_file(path: Path) -> Any:
    """JSON from a run folder; LaomError naming the file when it is missing or broken."""
    import json

    if not path.is_file():
        raise LaomError(f"{path.name} is not there yet ({path.parent})")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LaomError(f"cannot read {path}: {exc}") from None


def pick_run(runs: list[dict], label: str, key: str, default_index: int = 0) -> dict | None:
    """A run selectbox; the choice survives page switches through the query string."""
    if not runs:
        return None
    ids = [r["id"] for r in runs]
    wanted = st.session_state.get(key) or st.query_params.get(key)
    index = ids.index(wanted) if wanted in ids else min(default_index, len(ids) - 1)
    by_id = {r["id"]: r for r in runs}
    chosen = st.selectbox(label, ids, index=index, format_func=lambda i: run_label(by_id[i]), key=key)
    return by_id.get(chosen)


def page_header(title: str, caption: str) -> None:
    st.title(title)
    st.caption(caption)
