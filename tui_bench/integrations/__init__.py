"""Where teams already look: the app in a browser (``serve``) and MLflow tracking (``mlflow``).

Neither module imports Textual: ``serve`` spawns the app as a subprocess per browser tab, and
``mlflow`` speaks MLflow's REST API over httpx.
"""
