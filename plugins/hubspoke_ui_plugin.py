"""Airflow plugin: the Promotions page in the Airflow UI.

The API server mounts :mod:`hubspoke.ui.app` under ``/hubspoke``; the UI shows it in the
navigation as "Promotions", embedded at ``/plugin/promotions``. Importing this file makes no
AWS call and imports no web code: every task process loads the plugins folder, and the app
(FastAPI and Airflow's API security) would add over a second to each task. Only the API
server asks for ``fastapi_apps``, and the app is imported then.
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

URL_PREFIX = "/hubspoke"


class HubspokeUiPlugin(AirflowPlugin):
    name = "hubspoke_ui"
    external_views: list[Any] = [
        {
            "name": "Promotions",
            "href": f"{URL_PREFIX}/",
            "destination": "nav",
            "url_route": "promotions",
            "nav_top_level": True,
        },
    ]

    @property
    def fastapi_apps(self) -> list[Any]:  # type: ignore[override]
        from hubspoke.ui.app import app

        return [{"app": app, "url_prefix": URL_PREFIX, "name": "hubspoke promotions"}]
