"""Role READMEs' variable tables, generated from each role's meta/argument_specs.yml (issue 14.7).

    python tools/role_docs.py           rewrite the tables in roles/*/README.md
    python tools/role_docs.py --check   exit 1, naming each stale README, when a table is out of date

The argument spec is the one source: Ansible validates the role's inputs against it, and this table is
what a reader sees. The table sits between two markers in the README's "## Variables" section; the text
around it is hand-written and kept. A README without the section gets it appended (a role without a
README gets one with the spec's short description).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BEGIN = "<!-- BEGIN generated from meta/argument_specs.yml by tools/role_docs.py: edit the spec, not this table -->"
END = "<!-- END generated -->"
HEADING = "## Variables"


def cell(value: object) -> str:
    """One table cell: YAML-ish for data, pipes escaped, on one line."""
    if isinstance(value, str):
        text = value
    else:
        text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
        text = text.removesuffix("\n...").removesuffix("...").strip()
    return " ".join(text.replace("|", "\\|").split())


def option_rows(options: dict, prefix: str = "") -> list[str]:
    rows = []
    for name, spec in options.items():
        spec = spec or {}
        kind = spec.get("type", "str")
        if kind == "list" and spec.get("elements"):
            kind = f"list of {spec['elements']}"
        if "default" in spec:
            default = f"`{cell(spec['default'])}`" if spec["default"] not in ("", None) else f"`{spec['default']!r}`"
        else:
            default = "**required**" if spec.get("required") else "(none)"
        text = spec.get("description", "")
        if isinstance(text, list):
            text = " ".join(text)
        if spec.get("choices"):
            text = f"{text} One of: {', '.join(f'`{c}`' for c in spec['choices'])}."
        rows.append(f"| `{prefix}{name}` | {kind} | {default} | {cell(text)} |")
        if spec.get("options"):
            rows.extend(option_rows(spec["options"], prefix=f"{prefix}{name}."))
    return rows


def table(specs: dict) -> str:
    parts = [BEGIN]
    entries = specs.get("argument_specs", {})
    for entry, spec in entries.items():
        if len(entries) > 1 or entry != "main":
            where = "tasks/main.yml" if entry == "main" else f"tasks/{entry}.yml"
            parts.append(f"\nEntry point `{entry}` ({where}): {cell(spec.get('short_description', ''))}\n")
        options = spec.get("options") or {}
        if not options:
            parts.append("\nNo variables.\n")
            continue
        parts.append("\n| Variable | Type | Default | Description |\n|---|---|---|---|")
        parts.extend(option_rows(options))
        parts.append("")
    parts.append(END)
    return "\n".join(parts)


def render(role: Path) -> tuple[Path, str, str]:
    specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())
    readme = role / "README.md"
    old = readme.read_text() if readme.exists() else ""
    block = table(specs)
    if BEGIN in old and END in old:
        head, rest = old.split(BEGIN, 1)
        new = head + block + rest.split(END, 1)[1]
    elif old:
        new = old.rstrip("\n") + f"\n\n{HEADING}\n\n{block}\n"
    else:
        short = specs["argument_specs"]["main"].get("short_description", "")
        new = f"# Role `{role.name}`\n\n{short}.\n\n{HEADING}\n\n{block}\n"
    return readme, old, new


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when a README's table is stale")
    args = parser.parse_args(argv)
    stale = []
    for role in sorted(p.parent.parent for p in (ROOT / "roles").glob("*/meta/argument_specs.yml")):
        readme, old, new = render(role)
        if old == new:
            continue
        stale.append(readme.relative_to(ROOT))
        if not args.check:
            readme.write_text(new)
    if args.check and stale:
        for path in stale:
            print(f"{path}: variable table is stale: run `python tools/role_docs.py`", file=sys.stderr)
        return 1
    if not args.check:
        print(f"role_docs: {len(stale)} README(s) rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
