"""LAOM Studio dashboard: `streamlit run app.py` (see studio.sh). Routing only."""
import streamlit as st

st.set_page_config(page_title="LAOM Studio", page_icon=":material/explore:", layout="wide")
page = st.navigation([
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/datasets.py", title="Datasets & distractors", icon=":material/movie:"),
    st.Page("pages/train.py", title="Train", icon=":material/rocket_launch:"),
    st.Page("pages/runs.py", title="Runs", icon=":material/monitoring:"),
    st.Page("pages/latent_space.py", title="Latent space", icon=":material/scatter_plot:"),
    st.Page("pages/budgets.py", title="Supervision budgets", icon=":material/label:"),
    st.Page("pages/rollouts.py", title="Rollouts", icon=":material/play_circle:"),
])

from pages.common import run_page  # noqa: E402  (after st.navigation: it routes deep links)

run_page(page)  # the pages' one error boundary: a user error is st.error, never a traceback
