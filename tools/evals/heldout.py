"""Held-out model evals: the host exports items without answers, the kernel asks the subject model, the host scores.

Three tools share one protocol, each with a typed config the research loop fills (``MCTaskConfig``,
``OversightTaskConfig``, ``CoTTaskConfig``; none names a model: the subject model is the one the host's proxy
serves, chosen by settings):

- host, before the cell (``export_eval_task``): loads the BIG-bench items (their source is hidden from kernels),
  shuffles every item's options with the seed and writes ``eval_task.json`` into the kernel's directory with each
  item's id, question, context and shuffled options and, for debates, the two options argued: never the answer.
- kernel (``run_eval_task``): reaches the subject model with ``Endpoint.in_sandbox()`` (the host's proxy on a Unix
  socket), runs the protocol of ``tools.evals.mc``, ``tools.evals.oversight`` or ``tools.evals.cot`` on the
  options as given, and writes ``submissions/<tool>.json``: per item the answer letters the model gave (and, for
  multiple choice, the letters' log-probabilities).
- host, after the cell (``tools.evals.hostscore``): reads the submission through ``tools.runfiles``, checks it
  against the items it exported, scores it against the answers it kept and writes ``results.json``.

The kernel learns no label: debate items name the two argued options (the judge's prompt shows both anyway), and
the answers it submits are the model's. Does not cover scoring (``tools.evals.hostscore``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tools.errors import UserInputError
from tools.evals.data import MCItem, TaskName, load_bigbench
from tools.evals.mc import LETTERS, Scoring, letter_logprobs, parse_letter, shuffled

EvalTool = Literal["mc_eval", "oversight", "cot"]
TASK_FILE = "eval_task.json"
"""The kernel-visible task (items without answers)."""
SUBMISSIONS = "submissions"
MAX_TASK_BYTES = 16 * 1024 * 1024


class MCTaskConfig(BaseModel):
    """A multiple-choice eval of the subject model with a chance baseline in the same run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    task: TaskName = Field(default="truthful_qa", description="BIG-bench task: truthful_qa, hhh_alignment, ...")
    limit: int = Field(default=20, ge=1, le=500, description="First N items per category")
    scoring: Scoring = Field(default="logprobs", description="logprobs (answer-letter likelihood) or generate")
    seed: int = Field(default=0, description="Option shuffle, chance baseline and bootstrap")
    n_boot: int = Field(default=2000, ge=100, le=20000)


class OversightTaskConfig(BaseModel):
    """Judging alone, with critiques, after a debate: the subject model is judge and critic, paired by item."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    task: TaskName = Field(default="truthful_qa", description="BIG-bench task the judge answers")
    limit: int = Field(default=10, ge=1, le=200, description="First N items per category")
    conditions: tuple[Literal["alone", "critique", "debate"], ...] = Field(
        default=("alone", "critique", "debate"), min_length=1
    )
    seed: int = Field(default=0, description="Option shuffle, the debate's wrong option and order, bootstrap")
    judge_max_tokens: int = Field(default=8, ge=1, le=64)
    critic_max_tokens: int = Field(default=96, ge=8, le=512)
    n_boot: int = Field(default=2000, ge=100, le=20000)


class CoTTaskConfig(BaseModel):
    """Early answering and mistake insertion on the subject model's chain of thought."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    task: TaskName = Field(default="misconceptions", description="BIG-bench task")
    limit: int = Field(default=10, ge=1, le=200, description="First N items per category")
    fractions: tuple[float, ...] = Field(default=(0.0, 0.25, 0.5, 0.75), min_length=1)
    mistake_insertion: bool = Field(default=True, description="Also run the mistake-insertion test")
    seed: int = Field(default=0, description="Option shuffle, which step gets the mistake, bootstrap")
    cot_max_tokens: int = Field(default=256, ge=8, le=1024)
    answer_max_tokens: int = Field(default=8, ge=1, le=64)
    n_boot: int = Field(default=2000, ge=100, le=20000)


EvalConfig = MCTaskConfig | OversightTaskConfig | CoTTaskConfig


class TaskItem(BaseModel):
    """One item as the kernel sees it: options already shuffled, no answer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    task: str
    category: str
    question: str
    context: str = ""
    choices: tuple[str, ...] = Field(min_length=2, max_length=len(LETTERS))
    debate: tuple[int, int] | None = None
    """For oversight: the two options argued, in order (indices into ``choices``)."""

    def as_item(self) -> MCItem:
        """An ``MCItem`` for the protocols (its ``answer`` is a placeholder the kernel never uses)."""
        return MCItem(
            id=self.id,
            task=self.task,
            category=self.category,
            question=self.question,
            context=self.context,
            choices=self.choices,
            answer=0,
        )


class EvalTask(BaseModel):
    """``eval_task.json``: the tool, its config and the items without answers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tool: EvalTool
    config: dict[str, Any]
    items: list[TaskItem] = Field(min_length=1)


def config_class(tool: EvalTool) -> type[EvalConfig]:
    """The config class of ``tool``."""
    classes: dict[str, type[EvalConfig]] = {
        "mc_eval": MCTaskConfig,
        "oversight": OversightTaskConfig,
        "cot": CoTTaskConfig,
    }
    return classes[tool]


def tool_of(config: EvalConfig) -> EvalTool:
    """The tool a config belongs to."""
    if isinstance(config, MCTaskConfig):
        return "mc_eval"
    return "oversight" if isinstance(config, OversightTaskConfig) else "cot"


def host_items(config: EvalConfig, source: Path | None = None) -> list[MCItem]:
    """The items with their answers (host only): the config's task, first ``limit`` per category.

    Raises:
        UserInputError: the task file is missing or malformed (``tools.datasets.bigbench`` names it), or empty.
    """
    items = load_bigbench(source, config.task, limit=config.limit)
    if not items:
        raise UserInputError(f"task {config.task!r} has no items under limit={config.limit}; raise the limit")
    return items


def kernel_view(items: list[MCItem], config: EvalConfig) -> EvalTask:
    """What the kernel may see of ``items``: shuffled options, debate sides, no answers."""
    from tools.evals.oversight import debate_sides

    view: list[TaskItem] = []
    for item in items:
        choices, _ = shuffled(item, config.seed)
        debate = None
        if isinstance(config, OversightTaskConfig) and "debate" in config.conditions:
            debate = debate_sides(item, config.seed)
        view.append(
            TaskItem(
                id=item.id,
                task=item.task,
                category=item.category,
                question=item.question,
                context=item.context,
                choices=tuple(choices),
                debate=debate,
            )
        )
    return EvalTask(tool=tool_of(config), config=config.model_dump(mode="json"), items=view)


def export_eval_task(config: EvalConfig, kernel_dir: Path, source: Path | None = None) -> EvalTask:
    """Host step before the cell: write ``eval_task.json`` (no answers) and clear earlier submissions.

    Written through ``tools.runfiles`` (a link the kernel left under the name is replaced, never followed).
    """
    from tools.runfiles import RunFiles

    task = kernel_view(host_items(config, source), config)
    with RunFiles(kernel_dir, create=True) as files:
        if files.kind(SUBMISSIONS) == "dir":
            for name in files.listdir(SUBMISSIONS):
                if files.kind(f"{SUBMISSIONS}/{name}") != "dir":
                    files.unlink(f"{SUBMISSIONS}/{name}")
        files.write_json(TASK_FILE, task.model_dump(mode="json"))
    return task


def load_eval_task(kernel_dir: Path | str = ".") -> EvalTask:
    """Kernel side: read ``eval_task.json``.

    Raises:
        UserInputError: missing, too large, or not a valid task (the message names the file and the field).
    """
    path = Path(kernel_dir) / TASK_FILE
    if not path.is_file():
        raise UserInputError(f"{path} not found; the host writes it before the cell (run the recipe, not the cell)")
    if path.stat().st_size > MAX_TASK_BYTES:
        raise UserInputError(f"{path} has {path.stat().st_size} bytes; the limit is {MAX_TASK_BYTES}")
    try:
        return EvalTask.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, ValidationError) as err:
        raise UserInputError(f"{path} is not a valid eval task: {err}") from err


class MCAnswer(BaseModel):
    """The model's answer to one multiple-choice item."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    letter: str | None = None
    """The option the model chose (None: unparsed or failed)."""
    scoring: Literal["logprobs", "generate", "error"]
    letter_logprobs: dict[str, float] | None = None
    reply: str | None = None
    error: str | None = None


class JudgeAnswer(BaseModel):
    """The judge's answer to one item under one condition."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    condition: Literal["alone", "critique", "debate"]
    letter: str | None = None
    status: str
    error: str | None = None


class CoTAnswer(BaseModel):
    """The answers one item's reasoning produced: with the full CoT, truncated, after a mistake."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    status: str
    answer_full: str | None = None
    early: dict[str, str | None] = Field(default_factory=dict)
    answer_mistake: str | None = None
    error: str | None = None


class Submission(BaseModel):
    """``submissions/<tool>.json``: one answer per item (and condition), in the task's order."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tool: EvalTool
    model: str
    mc: list[MCAnswer] = Field(default_factory=list)
    judge: list[JudgeAnswer] = Field(default_factory=list)
    cot: list[CoTAnswer] = Field(default_factory=list)


def _mc_answer(client: Any, item: TaskItem, scoring: Scoring) -> MCAnswer:
    from tools.evals.endpoint import EndpointBudgetError, EndpointError
    from tools.evals.mc import format_prompt

    messages = [{"role": "user", "content": format_prompt(item.as_item(), item.choices)}]
    n = len(item.choices)
    try:
        if scoring == "logprobs":
            top = client.first_token_logprobs(messages)
            if top is not None:
                scores = letter_logprobs(top, n)
                letter = max(scores, key=lambda k: scores[k]) if scores else None
                return MCAnswer(id=item.id, letter=letter, scoring="logprobs", letter_logprobs=scores)
        reply = client.complete(messages, max_tokens=16)
        return MCAnswer(id=item.id, letter=parse_letter(reply, n, item.choices), scoring="generate", reply=reply)
    except EndpointBudgetError:
        raise
    except EndpointError as err:
        return MCAnswer(id=item.id, scoring="error", error=str(err)[:500])


def run_eval_task(kernel_dir: Path | str = ".", endpoint: Any = None) -> str:
    """Kernel side: answer every item with the subject model and write ``submissions/<tool>.json``.

    Args:
        kernel_dir: Where ``eval_task.json`` is (the kernel's working directory).
        endpoint: The model (default ``Endpoint.in_sandbox()``: the host's proxy).

    Returns:
        A one-line summary for the cell's output.

    Raises:
        EndpointBudgetError: the run's token budget ran out (the proxy refused); nothing is submitted.
        EndpointError: no model endpoint in this kernel.
    """
    from tools.evals.cot import CoTConfig, run_item
    from tools.evals.endpoint import ChatClient, Endpoint, EndpointBudgetError
    from tools.evals.oversight import OversightConfig, judge_item

    root = Path(kernel_dir)
    task = load_eval_task(root)
    endpoint = endpoint or Endpoint.in_sandbox()
    client = ChatClient(endpoint)
    submission: dict[str, Any] = {"tool": task.tool, "model": endpoint.model}
    try:
        if task.tool == "mc_eval":
            mc = MCTaskConfig.model_validate(task.config)
            submission["mc"] = [_mc_answer(client, item, mc.scoring) for item in task.items]
        elif task.tool == "oversight":
            ov = OversightTaskConfig.model_validate(task.config)
            protocol = OversightConfig(
                task=ov.task, judge=endpoint, critic=endpoint, conditions=ov.conditions, seed=ov.seed,
                judge_max_tokens=ov.judge_max_tokens, critic_max_tokens=ov.critic_max_tokens,
            )  # fmt: skip
            answers = []
            for condition in ov.conditions:
                for item in task.items:
                    record = judge_item(
                        item.as_item(), condition, client, client, protocol, sides=item.debate or (0, 1)
                    )
                    if record.status == "error" and "budget_exhausted" in (record.error or ""):
                        raise EndpointBudgetError(record.error or "the run's token budget is spent")
                    error = (record.error or "")[:500] or None
                    answers.append(
                        JudgeAnswer(
                            id=item.id, condition=condition, letter=record.answer, status=record.status, error=error
                        )
                    )
            submission["judge"] = answers
        else:
            ct = CoTTaskConfig.model_validate(task.config)
            protocol_cot = CoTConfig(
                task=ct.task, model=endpoint, fractions=ct.fractions, mistake_insertion=ct.mistake_insertion,
                seed=ct.seed, cot_max_tokens=ct.cot_max_tokens, answer_max_tokens=ct.answer_max_tokens,
            )  # fmt: skip
            cot_answers = []
            for item in task.items:
                rec = run_item(item.as_item(), client, client, protocol_cot, shuffle=False)
                if rec.status == "error" and "budget_exhausted" in (rec.error or ""):
                    raise EndpointBudgetError(rec.error or "the run's token budget is spent")
                cot_answers.append(
                    CoTAnswer(
                        id=item.id,
                        status=rec.status,
                        answer_full=rec.answer_full,
                        early=rec.early,
                        answer_mistake=rec.answer_mistake,
                        error=(rec.error or "")[:500] or None,
                    )
                )
            submission["cot"] = cot_answers
    finally:
        client.close()
    doc = Submission.model_validate(submission)
    out = root / SUBMISSIONS
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{task.tool}.json").write_text(doc.model_dump_json(), encoding="utf-8")
    answered = len(doc.mc) or len(doc.judge) or len(doc.cot)
    return f"{task.tool}: {answered} answers from {endpoint.model} submitted for host scoring"
