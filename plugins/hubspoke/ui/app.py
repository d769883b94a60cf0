"""The Promotions page: a FastAPI app that Airflow's API server mounts under ``/hubspoke``.

``GET /api/board`` is :func:`hubspoke.board.promotion_board` over the ``aws_hub``,
``aws_staging`` and ``aws_prod`` connections, plus each model's recent DAG runs from Airflow's
metadata database; ``GET /`` is a self-contained page (no external assets) that fetches it.
Both need a signed-in Airflow user allowed to read DAG runs (the UI's session cookie or an
``Authorization: Bearer`` token), like Airflow's own API; runs of DAGs the user may not read
are left out. Nothing reaches AWS until a request comes in.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
from airflow.api_fastapi.common.db.common import SessionDep
from airflow.api_fastapi.core_api.security import GetUserDep, requires_access_dag
from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import HTMLResponse

from hubspoke.aws.connections import CONNECTION_IDS
from hubspoke.board import SERVING_ENVIRONMENTS
from hubspoke.ui.runs import model_dag_ids, recent_runs

if TYPE_CHECKING:
    from hubspoke.config import Config

app = FastAPI(
    title="hubspoke promotions",
    docs_url=None,
    redoc_url=None,
    openapi_url=None,
    dependencies=[Depends(requires_access_dag("GET", DagAccessEntity.RUN))],
)


def build_board(config: Config) -> dict[str, Any]:
    """The board from the account connections (the hub orchestrator's view of every account)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from hubspoke.aws.sessions import session_for
    from hubspoke.board import promotion_board

    try:
        hub = session_for(CONNECTION_IDS["hub"])
        sessions = {env: session_for(CONNECTION_IDS[env]) for env in SERVING_ENVIRONMENTS}
        return promotion_board(
            hub.client("sagemaker"),
            hub.client("s3"),
            {env: session.client("sagemaker") for env, session in sessions.items()},
            config.accounts,
            config.models.models,
            {env: session.client("cloudwatch") for env, session in sessions.items()},
        )
    except (BotoCoreError, ClientError) as exc:
        raise HTTPException(status_code=502, detail=f"cannot read the accounts: {exc}") from exc


@app.get("/api/board")
def board(session: SessionDep, user: GetUserDep) -> dict[str, Any]:
    from hubspoke.config import load_config

    config = load_config()
    result = build_board(config)
    readable = get_auth_manager().get_authorized_dag_ids(user=user, method="GET", session=session)
    models = {m.name: m for m in config.models.models}
    for entry in result["models"]:
        entry["runs"] = recent_runs(session, model_dag_ids(models[entry["name"]]) & readable)
    return result


@app.get("/", response_class=HTMLResponse)
def page() -> HTMLResponse:
    from hubspoke.config import load_models

    sections = "".join(
        f'<section data-model="{html.escape(m.name)}"><h2>{html.escape(m.name)}</h2>'
        f'<p class="muted">{html.escape(m.description)}</p><div class="body">loading…</div>'
        "</section>"
        for m in load_models().models
    )
    return HTMLResponse(PAGE.replace("<!--MODELS-->", sections))


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Promotions · hubspoke</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:1.5rem;color:#1b1f24;background:#fff}
h1{font-size:1.4rem;margin:0 0 .25rem}h2{font-size:1.2rem;margin:1.5rem 0 .25rem}
h3{font-size:1rem;margin:1rem 0 .3rem}.muted{color:#5b6470}
table{border-collapse:collapse;margin:.25rem 0}td,th{border:1px solid #d0d7de;padding:.25rem .5rem;
text-align:left;vertical-align:top}th{background:#f4f6f8}code{font-size:12px}
.Approved,.ok,.InService,.OK{color:#116329}.Rejected,.bad,.Failed,.ALARM,.MISSING{color:#a40e26}
.PendingManualApproval,.warn,.Updating,.running,.queued{color:#8a5a00}
.success{color:#116329}.failed{color:#a40e26}section{border-top:2px solid #d0d7de}
</style></head><body>
<h1>Promotions</h1>
<p class="muted">Registry versions in the hub, what staging and prod serve, and the audit ledger.
<span id="state">loading…</span></p>
<!--MODELS-->
<script>
"use strict";
const base = location.pathname.replace(/\\/?$/, "/");
const airflow = new URL("../", location.origin + base).pathname;
function el(tag, attrs, ...kids) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const kid of kids) node.append(kid instanceof Node ? kid : String(kid ?? ""));
  return node;
}
function table(head, rows) {
  return el("table", {}, el("tr", {}, ...head.map(h => el("th", {}, h))),
    ...rows.map(r => el("tr", {}, ...r.map(c => el("td", {}, c)))));
}
// Links to Airflow's own pages. Inside the UI this page is a sandboxed iframe that may not
// navigate the top window, so the click is handed to the UI's router (same origin); opened on
// its own, the link is an ordinary one.
const airflowLink = (href, text) => el("a", {href, "data-airflow": "", target: "_top"}, text);
document.addEventListener("click", event => {
  const link = event.target.closest("a[data-airflow]");
  if (!link || window.parent === window) return;
  try {
    const ui = window.parent;
    const idx = (ui.history.state && Number.isInteger(ui.history.state.idx))
      ? ui.history.state.idx + 1 : 0;
    const key = Math.random().toString(36).slice(2, 10);
    ui.history.pushState({usr: null, key, idx}, "", link.href);
    ui.dispatchEvent(new PopStateEvent("popstate", {state: ui.history.state}));
    event.preventDefault();
  } catch (err) {
    // Not the UI's origin: leave the link to the browser.
  }
});
const status = s => el("span", {class: s || ""}, s || "");
const metrics = m => Object.entries(m).map(([k, v]) =>
  `${k}=${typeof v === "number" ? v.toFixed(4) : v}`).join(", ");
const where = e => e.environment ? ` ${e.environment}` : "";
function alarms(model, env) {
  const list = (model.rollback_alarms || {})[env] || [];
  if (!list.length) return el("span", {class: "muted"}, "none");
  return el("span", {}, ...list.map(a => el("div", {title: a.reason || ""},
    status(a.state), " ", el("code", {}, a.name))));
}
function live(model, envs) {
  return table(["environment", "version", "status", "last update", "rollback alarms", "config"],
    envs.map(env => {
      const s = model.live[env];
      if (!s) return [env, "—", "not deployed", "", alarms(model, env), ""];
      const update = s.rolled_back ? status("rolled back") : s.failure_reason ? "failed" : "ok";
      const note = s.failure_reason ? el("div", {class: "bad"}, s.failure_reason) : "";
      return [env, s.version === null ? "?" : `v${s.version}`, status(s.status),
        el("span", {}, update, note), alarms(model, env), el("code", {}, s.config)];
    }));
}
function pending(model) {
  if (!model.pending_approvals.length) return el("p", {class: "muted"}, "none");
  const gate = `${airflow}dags/${model.promote_dag_id}/required_actions?response_received=false`;
  return el("div", {}, el("ul", {}, ...model.pending_approvals.map(p => el("li", {},
      `v${p.version} registered ${p.created || ""} — approve in the registry: `,
      el("code", {}, `hubspoke approve ${p.arn} --reason '…'`)))),
    el("p", {}, "The production gate of ", el("code", {}, model.promote_dag_id),
      " is answered in Airflow: ", airflowLink(gate, "Required actions")));
}
function versions(model) {
  return table(["version", "status", "approval note", "created", "metrics", "ledger"],
    model.versions.map(v => [`v${v.version}`, status(v.status), v.approval_description || "",
      v.created || "", metrics(v.metrics), v.ledger.map(e => e.event + where(e)).join(" → ")]));
}
function runs(model) {
  if (!model.runs.length) return el("p", {class: "muted"}, "none yet");
  const conf = c => Object.entries(c).filter(([, v]) => v !== null && v !== "")
    .map(([k, v]) => `${k}=${v}`).join(", ");
  return table(["DAG", "run", "state", "type", "by", "started", "ended", "conf"],
    model.runs.map(r => [r.dag_id,
      airflowLink(`${airflow}dags/${r.dag_id}/runs/${encodeURIComponent(r.run_id)}`, r.run_id),
      status(r.state), r.run_type, r.triggered_by || "", r.start_date || "", r.end_date || "",
      el("code", {}, conf(r.conf))]));
}
function ledger(model) {
  const check = model.ledger.verification;
  const verdict = check.ok ? el("p", {class: "ok"}, `chain intact (${check.records} records)`)
    : el("p", {class: "bad"}, `chain broken: ${check.problem}`);
  return el("div", {}, verdict, table(["#", "at", "version", "event", "actor"],
    model.ledger.recent.map(e => [e.seq, e.at, e.version === null ? "" : `v${e.version}`,
      e.event + where(e), e.actor])));
}
async function load() {
  const state = document.getElementById("state");
  try {
    const response = await fetch(base + "api/board", {headers: {Accept: "application/json"}});
    if (response.status === 401 || response.status === 403) {
      throw new Error("sign in to Airflow with a user who may read DAG runs, then reload");
    }
    if (!response.ok) throw new Error(`${response.status} ${await response.text()}`);
    const board = await response.json();
    for (const model of board.models) {
      const section = document.querySelector(`section[data-model="${model.name}"] .body`);
      if (!section) continue;
      section.replaceChildren(el("h3", {}, "Live"), live(model, board.environments),
        el("h3", {}, "Pending approvals"), pending(model), el("h3", {}, "Versions"),
        versions(model), el("h3", {}, "Recent DAG runs"), runs(model),
        el("h3", {}, "Recent ledger entries"), ledger(model));
    }
    const read = new Date().toLocaleString();
    state.textContent = `hub ${board.hub_account}, ${board.region}; read ${read}`;
  } catch (err) {
    state.textContent = `could not load the board: ${err.message}`;
    state.className = "bad";
  }
}
load();
</script></body></html>
"""
