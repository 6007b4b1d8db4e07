"""Config diff tab: the config keys whose values differ between the selected runs."""
from __future__ import annotations

import json

import streamlit as st

from pages import common


def diff_rows(selected: list[dict]) -> list[dict]:
    flats = [common._flat(r.get("config") or {}) for r in selected]
    for r, f in zip(selected, flats):
        f["(method)"] = r.get("method")
        f["(datasets)"] = json.dumps(r.get("datasets") or {}, sort_keys=True)
    keys = sorted(set().union(*flats))
    return [dict(key=k, **{(r.get("name") or r["id"]) + f" [{r['id'][-6:]}]": str(f.get(k, "—"))
                           for r, f in zip(selected, flats)})
            for k in keys if len({json.dumps(f.get(k), sort_keys=True, default=str) for f in flats}) > 1]


def diff_panel(selected: list[dict]) -> None:
    if len(selected) < 2:
        st.info("Select two or more runs in the table to compare their configs.")
        return
    diff = diff_rows(selected)
    if diff:
        st.dataframe(diff, hide_index=True, width="stretch")
    else:
        st.success("The selected runs have identical configs.")
