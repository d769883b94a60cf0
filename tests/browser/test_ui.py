"""The Airflow UI of `make up` in a real headless Chromium: sign in, the hubspoke DAGs, and
the Promotions page inside Airflow's navigation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow


def _sign_in(page: Any, base: str) -> None:
    page.goto(f"{base}/", wait_until="networkidle")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "admin")
    page.locator("button[type=submit]").click()
    page.wait_for_url(f"{base}/", timeout=30_000)


def test_dags_and_promotions_page(page: Any, stack: str, screenshots: Path) -> None:
    _sign_in(page, stack)
    page.goto(f"{stack}/dags", wait_until="networkidle")
    for dag_id in ("retrain_breast_cancer", "promote_breast_cancer", "rollback_breast_cancer"):
        page.get_by_text(dag_id, exact=True).first.wait_for(timeout=60_000)
    page.screenshot(path=str(screenshots / "dags.png"))
    page.get_by_text("Promotions", exact=True).first.click()
    board = page.frame_locator("iframe").first
    board.get_by_role("heading", name="breast-cancer").wait_for(timeout=60_000)
    board.get_by_text("chain intact").first.wait_for(timeout=60_000)
    page.screenshot(path=str(screenshots / "promotions-nav.png"))
