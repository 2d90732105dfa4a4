"""tools/role_docs.py: role READMEs' variable tables come from meta/argument_specs.yml (issue 14.7)."""

from __future__ import annotations

from tools import role_docs


def test_every_role_readme_is_current():
    assert role_docs.main(["--check"]) == 0


def test_a_changed_spec_makes_the_table_stale_and_regenerating_keeps_the_prose(tmp_path, monkeypatch):
    role = tmp_path / "roles" / "demo"
    (role / "meta").mkdir(parents=True)
    spec = role / "meta" / "argument_specs.yml"
    spec.write_text(
        "argument_specs:\n  main:\n    short_description: Demo\n    options:\n"
        "      demo_port: {type: int, default: 8080, description: Port | the server listens on.}\n"
    )
    monkeypatch.setattr(role_docs, "ROOT", tmp_path)
    assert role_docs.main([]) == 0
    readme = role / "README.md"
    text = readme.read_text()
    assert "| `demo_port` | int | `8080` | Port \\| the server listens on. |" in text
    readme.write_text("# demo\n\nHand-written prose.\n\n" + text.split("\n", 3)[3] + "\n## Tests\n\nMore prose.\n")
    assert role_docs.main(["--check"]) == 0

    spec.write_text(spec.read_text().replace("8080", "9090") + "      demo_name: {required: true}\n")
    assert role_docs.main(["--check"]) == 1
    assert role_docs.main([]) == 0
    text = readme.read_text()
    assert "`9090`" in text and "| `demo_name` | str | **required** |" in text
    assert text.startswith("# demo\n\nHand-written prose.") and text.endswith("## Tests\n\nMore prose.\n")
