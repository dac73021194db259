"""The bench's smallest configuration, so CI notices when bench code rots: one workload of the
benchmarks and one scenario of the reliability harness, each writing its JSON. Figures are not
judged here (absolute times mean nothing on a busy CI box); that the machinery runs is."""

from __future__ import annotations

import json

from bench.harness import main


def test_quick_initial_import_runs_through_the_real_sync(tmp_path):
    out = tmp_path / "latest.json"
    assert main(["--quick", "--only", "import_1x500", "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    outcome = results["workloads"]["import_1x500"]
    assert outcome["status"] == "ok", outcome
    [figure] = outcome["figures"]
    assert figure["verdict"] in ("PASS", "MISS") and figure["target"] == "<= 2 s"
    [trial] = outcome["details"]["trials"]
    assert trial["rows"] == 500 and trial["requests"] >= 1 and trial["peak_rss_mb"] > 0


def test_quick_forged_input_scenario_has_a_verdict(tmp_path):
    out = tmp_path / "chaos.json"
    assert main(["--chaos", "--quick", "--scenarios", "forged", "--out", str(out)]) == 0
    scenario = json.loads(out.read_text())["scenarios"]["forged"]
    assert scenario["verdict"] == "PASS", scenario
    assert scenario["figures"]["accepted"] == 0 and scenario["figures"]["enqueued"] == 0
