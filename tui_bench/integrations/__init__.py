"""Where teams already look: the app in a browser (``serve``), MLflow tracking (``mlflow``),
and their own data sets in (``importers``: JSONL/CSV rows as scenario files).

Nothing here imports Textual: ``serve`` spawns the app as a subprocess per browser tab,
``mlflow`` speaks MLflow's REST API over httpx.
"""
