"""The Promotions page served by Airflow's API server (see ``plugins/hubspoke_ui_plugin.py``)."""
