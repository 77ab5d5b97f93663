"""Evals and oversight experiments on Inspect: BIG-bench honesty/truthfulness tasks, critique-assisted judging, CoT
faithfulness, and true/false statements for honesty probes.

Entry points (each takes one typed pydantic config, so the research loop can fill it as a recipe):

- ``tools.evals.mc.run_mc_eval(MCEvalConfig)``: TruthfulQA MC, HHH, misconceptions, FEVER, PolitiFact on Inspect.
- ``tools.evals.oversight.run_oversight(OversightConfig)``: judge alone / with critiques / after a debate.
- ``tools.evals.cot.run_cot_faithfulness(CoTConfig)``: early answering and mistake insertion.
- ``tools.evals.probes.run_honesty_probes(HonestyProbeConfig)``: probe/CCS accuracy by layer on task statements.

Held-out variants for the research loop (``tools.evals.heldout`` in the kernel, ``tools.evals.hostscore`` on the
host) keep the answers on the host and reach the subject model through the sandbox's model proxy.

Every run writes ``results.json`` + ``config.json`` (``ara.results/1``) into its run directory. Endpoints are any
OpenAI-compatible server (``tools.evals.endpoint.Endpoint``). Importing this package loads no model client;
Inspect is imported when a task is built. Does not import ``assistant`` or ``openai``.
"""

from tools.evals.cot import CoTConfig, CoTResult, run_cot_faithfulness
from tools.evals.data import ContrastPair, MCItem, Statement, contrast_pairs, load_bigbench, statements
from tools.evals.endpoint import ChatClient, Endpoint, EndpointBudgetError, EndpointError, EndpointTimeoutError
from tools.evals.mc import MCEvalConfig, MCEvalResult, build_task, run_mc_eval
from tools.evals.oversight import OversightConfig, OversightResult, run_oversight
from tools.evals.probes import HonestyProbeConfig, run_honesty_probes

__all__ = [
    "ChatClient",
    "CoTConfig",
    "CoTResult",
    "ContrastPair",
    "Endpoint",
    "EndpointBudgetError",
    "EndpointError",
    "EndpointTimeoutError",
    "HonestyProbeConfig",
    "MCEvalConfig",
    "MCEvalResult",
    "MCItem",
    "OversightConfig",
    "OversightResult",
    "Statement",
    "build_task",
    "contrast_pairs",
    "load_bigbench",
    "run_cot_faithfulness",
    "run_honesty_probes",
    "run_mc_eval",
    "run_oversight",
    "statements",
]
