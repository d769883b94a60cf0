"""Bootstrapping localcloud from ``infra/`` and ``config/``: the organization you would deploy.

The templates are resolved once, by the same resolver the governance check uses
(:func:`hubspoke.governance.world.build_model`), and every resolved resource is created in its
account. Nothing is declared twice: no policy exists here that is not in a template.
"""

from __future__ import annotations

from localcloud.bootstrap.run import BootstrapReport, bootstrap

__all__ = ["BootstrapReport", "bootstrap"]
