"""Ship the top-level ``scenarios/``, ``templates/`` and ``schemas/`` folders inside the wheel.

They stay at the top of the repository (where people look for them) and are mapped at build
time onto ``tui_bench/_shipped/<name>/`` in the wheel: one copy in the source tree, found by
``tui_bench.locations`` both in a checkout and in an installed package. Everything else about
the build lives in ``pyproject.toml``.
"""

from setuptools import find_packages, setup

SHIPPED = ("scenarios", "templates", "schemas")

setup(
    packages=find_packages(include=["tui_bench", "tui_bench.*"])
    + [f"tui_bench._shipped.{name}" for name in SHIPPED],
    package_dir={f"tui_bench._shipped.{name}": name for name in SHIPPED},
    package_data={
        "tui_bench": ["**/*.tcss", "**/*.json", "templates_html/*.j2"],
        **{f"tui_bench._shipped.{name}": ["**/*"] for name in SHIPPED},
    },
)
