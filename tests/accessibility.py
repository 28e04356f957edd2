"""axe-core (Deque's accessibility engine, the npm package fetched by scripts/ensure_axe.sh) run inside a
Playwright page: the serious and critical WCAG 2.x A/AA violations it finds, shadow roots included."""
from __future__ import annotations

from typing import Any

import pytest

from aisle.config import REPO_ROOT

AXE = REPO_ROOT / "tests" / ".npm" / "axe-core-4.14.1" / "axe.min.js"
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
BLOCKING = {"serious", "critical"}


def axe_path() -> str:
    if not AXE.exists():
        pytest.skip(f"{AXE.relative_to(REPO_ROOT)} is missing: scripts/ensure_axe.sh fetches it with npm "
                    "(make test runs it; without npm the accessibility checks are skipped)")
    return str(AXE)


def serious_violations(page: Any) -> list[str]:
    """One line per serious/critical violation: rule, impact, and the elements it was found on. The page's
    context needs ``bypass_csp=True`` (axe is injected as a script; Aisle's pages allow only their own)."""
    if not page.evaluate("() => Boolean(window.axe)"):
        page.add_script_tag(path=axe_path())
    results = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG)
    return [f"{v['id']} ({v['impact']}): {v['help']} at " + "; ".join(str(n["target"]) for n in v["nodes"][:5])
            for v in results["violations"] if v["impact"] in BLOCKING]
