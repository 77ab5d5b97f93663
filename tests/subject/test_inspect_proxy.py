"""Inspect runs through the model proxy's Unix socket: ``Endpoint(socket=...).inspect_model()`` drives a real
``run_mc_eval`` whose requests reach the scripted upstream via the proxy, log-probabilities included."""

from __future__ import annotations

from pathlib import Path

from tests.subject.scripted_subject import CountingMeter, ScriptedSubject
from tools.evals.data import MCItem
from tools.evals.endpoint import Endpoint
from tools.evals.mc import MCEvalConfig, run_mc_eval, shuffled
from tools.kernel.modelproxy import ModelProxy, ProxyLimits, Upstream

ITEMS = [
    MCItem(id=f"t/t/{i}", task="t", category="t", question=f"Question {i}?", choices=("yes", "no"), answer=0)
    for i in range(6)
]


def test_inspect_evaluates_through_the_proxy_socket(tmp_path: Path) -> None:
    subject, meter = ScriptedSubject(), CountingMeter()
    upstream = Upstream(base_url="http://upstream.test/v1", model="alias")
    limits = ProxyLimits(calls_per_s=100.0, burst=10)
    with ModelProxy(tmp_path / "m" / "model.sock", {"embedded": upstream}, limits, meter, subject.transport) as proxy:
        endpoint = Endpoint(base_url="http://ara-model/v1", model="embedded", socket=str(proxy.socket_path))
        config = MCEvalConfig(task="truthful_qa", endpoint=endpoint, run_dir=tmp_path / "run", n_boot=200)
        result = run_mc_eval(config, items=ITEMS, model=endpoint.inspect_model())
    assert result.scoring_counts == {"logprobs": 6}, result.errors
    assert len(subject.requests) == 6
    assert {r["top_logprobs"] for r in subject.requests} == {20}
    assert [c.status for c in meter.calls] == [200] * 6
    expected = sum(1 for item in ITEMS if shuffled(item, 0)[1] == 0)
    assert result.accuracy["mean"] == expected / 6, "the scripted model always answers A"
