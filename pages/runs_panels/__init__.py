"""Panels of the Runs page (pages/runs.py), one module each: the page draws the filters and
calls these in order. Not pages themselves (app.py's st.navigation lists the pages)."""
