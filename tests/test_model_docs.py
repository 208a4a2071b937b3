"""docs/models.md's registry table is written from the code (lra.model_docs), never by hand."""

from lra import model_docs
from lra.attention import get_spec, mechanism_names
from tests.helpers import REPO


def test_docs_models_md_is_what_the_registry_renders():
    assert model_docs.main(["--out", str(REPO / "docs" / "models.md"), "--check"]) == 0, (
        "docs/models.md is out of date: run python -m lra.model_docs --out docs/models.md")


def test_the_table_lists_every_mechanism_with_its_options_and_capabilities():
    table = model_docs.registry_table()
    for name in mechanism_names():
        row = next(line for line in table.splitlines() if line.startswith(f"| `{name}` |"))
        assert get_spec(name).cls.__name__ in row
        assert ("causal mode" in row) == get_spec(name).causal


def test_check_fails_on_a_stale_file_and_the_rewrite_fixes_it(tmp_path):
    path = tmp_path / "models.md"
    path.write_text(f"# Mechanisms\n\n{model_docs.BEGIN}\n| stale |\n{model_docs.END}\n\nAfter.\n")
    assert model_docs.main(["--out", str(path), "--check"]) == 1
    assert model_docs.main(["--out", str(path)]) == 0
    text = path.read_text()
    assert model_docs.main(["--out", str(path), "--check"]) == 0
    assert "| stale |" not in text and text.startswith("# Mechanisms") and text.endswith("After.\n")
