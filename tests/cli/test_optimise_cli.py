"""`stress optimise` on the command line, as a user runs it: the table, --json, -o, --report,
and bad input (exit 2, one line naming the field, nothing written)."""

from __future__ import annotations

import json

import pytest
import yaml
from conftest import ROOT, case_params, run_stress, write

import stress

EXAMPLE = ROOT / "configs" / "hybrid_optimise.yaml"


def leftovers(folder) -> list[str]:
    """Hidden temporaries an interrupted or failed write would leave."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_json_config_and_report_of_the_example(tmp_path):
    proc = run_stress(
        "optimise", EXAMPLE, "--paths", 1024, "--json", "-o", "best.yaml", "--report", "page.html",
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    best = data["best"]
    assert {p["id"]: p["margin_mode"] for p in best["positions"]} == {
        "eth-long": "cross",
        "btc-short": "cross",
        "sol-long": "isolated",
    }
    lo, hi = best["p_liquidation_ci"]
    assert lo <= best["p_liquidation"] <= hi and best["es_99"] <= data["risk_capital"]
    assert set(data["pure_modes"]) == {"cross", "isolated"} and data["frontier"]
    assert "wrote page.html, best.yaml" in proc.stderr
    # the written config runs, and its as_configured book is the pick, on the same paths
    run = stress.run(tmp_path / "best.yaml", paths=data["paths"], seed=data["seed"])
    k = [b.mode for b in run.layout.books].index("as_configured")
    assert run.metrics[k]["p_liquidation"] == best["p_liquidation"]
    assert run.metrics[k]["es_99"] == best["es_99"]
    page = (tmp_path / "page.html").read_text(encoding="utf-8")
    assert 'data-plot="frontier-figure"' in page and "risk capital" in page
    assert "<script src" not in page  # self-contained
    assert leftovers(tmp_path) == []


def test_the_table_names_the_pick_the_pure_modes_and_the_frontier(tmp_path):
    proc = run_stress("optimise", EXAMPLE, "--paths", 512, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for fragment in ("best", "pure cross", "pure isolated", "as configured", "frontier:"):
        assert fragment in proc.stdout
    assert "Hold eth-long cross, btc-short cross, sol-long isolated" in proc.stdout
    assert list(tmp_path.iterdir()) == []  # writes nothing unless asked


def test_nothing_fits_exits_0_with_best_null_and_writes_no_config(tmp_path):
    proc = run_stress(
        "optimise", EXAMPLE, "--paths", 256, "--risk-capital", 100, "--json", "-o", "best.yaml",
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["best"] is None and data["tied"] == []
    assert data["verdict"].startswith("No arrangement fits the risk capital of 100 USDT")
    assert "nothing fits the risk capital: best.yaml not written" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def case(tmp_path, text: str):
    return write(tmp_path, text, "c.yaml")


def unchanged(cfg: dict) -> None:
    """The example as shipped: the option is what is wrong."""


BAD = [
    (
        "no-risk-capital",
        lambda cfg: cfg["account"].pop("risk_capital"),
        [],
        "c.yaml: account.risk_capital: required by stress optimise",
    ),
    (
        "unknown-id",
        lambda cfg: cfg["optimise"].update(positions=["sol"]),
        [],
        "c.yaml: optimise.positions[0]: unknown position id 'sol' (known: eth-long, btc-short, "
        "sol-long)",
    ),
    ("bad-risk-capital", unchanged, ["--risk-capital", "-1"], "--risk-capital: expected an"),
    ("toml-output", unchanged, ["-o", "best.toml"], "-o: expected a .yaml or .yml file"),
    ("no-folder", unchanged, ["-o", "no/best.yaml"], "-o: expected a file in an existing folder"),
    ("bad-paths", unchanged, ["--paths", "0"], "--paths: expected an integer from 1"),
]


@pytest.mark.parametrize(
    ("edit", "args", "fragment"),
    case_params(
        BAD,
        quick={"no-risk-capital", "toml-output"},
        id_of=lambda c: c[0],
        values_of=lambda c: c[1:],
    ),
)
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, edit, args, fragment):
    cfg = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    edit(cfg)
    config = case(tmp_path, yaml.safe_dump(cfg, sort_keys=False))
    extra = args if "-o" in args else [*args, "-o", "best.yaml"]
    proc = run_stress("optimise", config, *extra, "--report", "page.html", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert fragment in lines[0], lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml"]
