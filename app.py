"""LAOM Studio dashboard: `streamlit run app.py` (see studio.sh). Routing only."""
import streamlit as st

st.set_page_config(page_title="LAOM Studio", page_icon="🧭", layout="wide")
st.navigation([
    st.Page("pages/home.py", title="Home", icon="🏠", default=True),
    st.Page("pages/datasets.py", title="Datasets & distractors", icon="🎞️"),
    st.Page("pages/train.py", title="Train", icon="🚀"),
    st.Page("pages/runs.py", title="Runs", icon="📈"),
    st.Page("pages/latent_space.py", title="Latent space", icon="🌌"),
    st.Page("pages/budgets.py", title="Supervision budgets", icon="🏷️"),
    st.Page("pages/rollouts.py", title="Rollouts", icon="🎬"),
]).run()
