"""Airflow plugin: the Promotions page in the Airflow UI.

The API server mounts :mod:`hubspoke.ui.app` under ``/hubspoke``; the UI shows it in the
navigation as "Promotions", embedded at ``/plugin/promotions``. Importing this file makes no
AWS call: the page reads the accounts only when it is requested.
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

from hubspoke.ui.app import app

URL_PREFIX = "/hubspoke"


class HubspokeUiPlugin(AirflowPlugin):
    name = "hubspoke_ui"
    fastapi_apps: list[Any] = [
        {"app": app, "url_prefix": URL_PREFIX, "name": "hubspoke promotions"},
    ]
    external_views: list[Any] = [
        {
            "name": "Promotions",
            "href": f"{URL_PREFIX}/",
            "destination": "nav",
            "url_route": "promotions",
            "nav_top_level": True,
        },
    ]
