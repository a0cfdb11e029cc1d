"""Argo CD's own settings that the ordering of layers relies on."""

from __future__ import annotations

from components.argocd import argocd_values

HEALTH_KEY = "resource.customizations.health.argoproj.io_Application"


def test_application_health_is_assessed_and_a_missing_child_is_not_skipped():
    for ha in (False, True):
        lua = argocd_values(ha)["configs"]["cm"][HEALTH_KEY]
        # Argo CD 3.2 has no built-in Application health; a parent skips a Missing child,
        # so the check reports a child with nothing deployed yet as Progressing.
        assert "obj.status.health.status" in lua
        assert 'if hs.status == "Missing" then' in lua and 'hs.status = "Progressing"' in lua
        assert lua.rstrip().endswith("return hs")
