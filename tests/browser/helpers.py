"""Assertions shared by the browser tests."""

import re

PASSWORD = "secret-pass-123"  # every user of tests/factories.py
WCAG_21_AA_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def format_violations(violations: list[dict]) -> str:
    """axe-core's violations, one rule per paragraph with each failing element and why it fails."""
    lines = [f"{len(violations)} axe-core WCAG 2.1 AA violation(s):"]
    for violation in violations:
        lines.append(f"\n- {violation['id']} ({violation['impact']}): {violation['help']}\n  {violation['helpUrl']}")
        for node in violation["nodes"]:
            html = re.sub(r"\s+", " ", node["html"])
            lines.append(f"    at {', '.join(map(str, node['target']))}: {html}")
            summary = node.get("failureSummary") or ""
            lines.extend(f"      {line.strip()}" for line in summary.splitlines() if line.strip())
    return "\n".join(lines)


def assert_accessible(page) -> None:
    """No WCAG 2.0/2.1 level A or AA violation that axe-core finds on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    options = {"runOnly": {"type": "tag", "values": WCAG_21_AA_TAGS}, "resultTypes": ["violations"]}
    violations = Axe().run(page, options=options).response["violations"]
    assert not violations, f"{page.url}\n{format_violations(violations)}"
