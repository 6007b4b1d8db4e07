"""Home: what is in the workspace, what to do first, and the one-click demo."""
from __future__ import annotations

from collections import Counter

import streamlit as st

from laom_core.studies import demo
from laom_core.data import catalog
from laom_core.errors import LaomError
from pages import common

common.page_header(
    "LAOM Studio",
    "Latent action models under visual distractors: collect distracted datasets, train IDM, LAPO, "
    "LAOM, LAOM+supervision and BC in the background, and compare them here.",
)

try:
    root = common.workspace()
except LaomError as exc:
    st.error(f"Workspace problem: {exc}")
    st.stop()


@st.cache_data(ttl=5, show_spinner=False)
def _dataset_files(folder: str) -> list[str]:
    return [str(p) for p in catalog.dataset_files(folder)]


from laom_core.workspace import datasets_dir  # noqa: E402

datasets = _dataset_files(str(datasets_dir()))
runs: list[dict] = []
with common.guard("Run store"):
    runs = common.list_runs()
by_status = Counter(r["status"] for r in runs)

c1, c2, c3, c4, c5 = st.columns(5)
c1.metric("Datasets", len(datasets))
c2.metric("Runs", len(runs))
c3.metric("Running", by_status.get("running", 0))
c4.metric("Queued", by_status.get("queued", 0))
c5.metric("Finished", by_status.get("finished", 0), delta=f"{by_status.get('failed', 0)} failed" if by_status.get("failed") else None,
          delta_color="inverse")
st.caption(f"Workspace: `{root}` (set `LAOM_STUDIO_WORKSPACE` to use another folder)")

# ---------------------------------------------------------------- sweeps in progress
groups: dict[str, list[dict]] = {}
for r in runs:
    if r.get("group_name"):
        groups.setdefault(r["group_name"], []).append(r)
if groups:
    st.subheader("Sweeps and groups")
    for name, members in groups.items():
        done = sum(m["status"] in ("finished", "failed", "stopped") for m in members)
        failed = sum(m["status"] == "failed" for m in members)
        total = len(members)
        with common.guard(f"Sweep {name}"):
            if common.store().get_sweep(name) is not None:  # a sweep: its plan's size, as `sweep --summary`
                from laom_core.runs.sweeps import sweep_progress

                progress = sweep_progress(name, common.store())
                done, failed, total = progress["done"], progress["failed"], progress["total"]
        label = f"**{name}**: {done} / {total} done" + (f" ({failed} failed)" if failed else "")
        if total > len(members):
            label += f" · {total - len(members)} of its runs were never queued"
        st.progress(min(1.0, done / max(1, total)), text=label)

# ---------------------------------------------------------------- demo
st.subheader("Demo")
STEP_ICONS = {"done": ":material/check_circle:", "finished": ":material/check_circle:",
              "running": ":material/progress_activity:", "failed": ":material/error:",
              "skipped": ":material/check_circle:"}


def demo_progress(status: dict) -> None:
    done, total = int(status.get("done") or 0), int(status.get("total") or 0)
    state = status.get("state", "")
    if total:
        st.progress(min(1.0, done / total), text=f"{state}: {done}/{total} steps · {status.get('message') or ''}")
    for step in status.get("steps") or []:
        if isinstance(step, dict):
            icon = STEP_ICONS.get(str(step.get("state")), ":material/radio_button_unchecked:")
            msg = f" · {step['message']}" if step.get("message") else ""
            st.markdown(f"{icon} {step.get('title') or step.get('name')}{msg}")


status: dict = {}
with common.guard("Demo status"):
    status = demo.demo_status() or {}
running = status.get("state") == "running"
again = status.get("state") in ("finished", "failed")
sizes = {"smoke": "Smoke: tiny sizes and the smoke preset, a few minutes; checks the whole pipeline",
         "full": "Full: a real cheetah-run dataset and the cpu-small preset, about an hour on 2 cores"}
# The choice starts at what ran last (a smoke demo is offered as smoke again), else full.
previous = "smoke" if status.get("smoke") else "full"
size = st.radio("Demo size", list(sizes), index=list(sizes).index(previous), key="demo_size",
                format_func=lambda k: sizes[k], disabled=running, horizontal=False)
cols = st.columns([1, 3])
label = "Demo running…" if running else (f"Run the {size} demo again" if again else f"Run the {size} demo")
if cols[0].button(label, type="primary", key="run_demo", icon=":material/play_arrow:", disabled=running):
    with common.guard("Demo"):
        demo.start_demo(smoke=size == "smoke")
        st.toast(f"{size.capitalize()} demo started in the background")
        st.rerun()
cols[1].caption("Generates distractor clips, collects a small distracted cheetah-run dataset with the shipped "
                "expert, and queues BC, IDM, LAPO, LAOM and LAOM+supervision (smoke or cpu-small preset). "
                "Every step is resumable and skipped when already done.")

if running:
    @st.fragment(run_every=3)
    def _live_demo() -> None:
        with common.guard("Demo status"):
            current = demo.demo_status() or {}
            demo_progress(current)
            if current.get("state") != "running":
                st.rerun()

    _live_demo()
elif status.get("state") not in (None, "not-started"):
    with st.expander(f"Demo: {status.get('state')}", expanded=status.get("state") == "failed"):
        demo_progress(status)

# ---------------------------------------------------------------- guidance
st.subheader("Getting started")
steps = [
    ("Collect a dataset", not datasets,
     "On **Datasets & distractors**, collect a distracted dataset (built-in distractor clips, no download), "
     "and sample a small labeled subset from it. Released HDF5 files dropped into the workspace's "
     "`datasets/` folder show up there too."),
    ("Train", not runs,
     "On **Train**, pick a method (LAPO, LAOM, LAOM+supervision, IDM or BC), a preset (`smoke` takes seconds, "
     "`cpu-small` minutes, `paper` needs a GPU) and the datasets, then launch. Runs live in their own processes."),
    ("Watch and compare", bool(runs),
     "**Runs** shows live curves and logs; **Latent space** maps the latent actions; **Supervision budgets** "
     "compares methods across labeled budgets; **Rollouts** plays evaluation episodes."),
]
for i, (title, todo, text) in enumerate(steps, 1):
    icon = ":material/arrow_forward:" if todo else ":material/check:"
    st.markdown(f"{icon} **{i}. {title}.** {text}")

if runs:
    st.subheader("Latest runs")
    latest = sorted(runs, key=lambda r: r.get("updated_at") or 0, reverse=True)[:8]
    st.dataframe(
        [{"run": r["name"], "method": common.method_label(r.get("method")), "task": r.get("task"),
          "status": f"{common.STATUS_ICONS.get(r['status'], '')} {r['status']}",
          "updated": common.fmt_time(r.get("updated_at"))} for r in latest],
        hide_index=True, width="stretch", placeholder="",
    )
