"""The allow-list of recipes: research-tool entry points the model may configure but never write.

In recipe mode the model fills a recipe's typed config (schema-constrained for weak models) and a template renders
the cell, so the only code that reaches a kernel is code written here. A plan naming a recipe that is not
registered is refused by structure. Covers ``Recipe``, ``RecipeRegistry`` and the built-in recipes; research tools
(``tools.w2s``, ``tools.probes``) are imported lazily, only when their recipe is used, so this module loads without
them. A recipe may also have trusted host steps around its cell (``HostSteps``): ``w2s``, ``probes`` and
``honesty_probes`` export a task without test labels before the cell and score the kernel's predictions after it,
so the labels never enter the sandbox (the eval recipes of ``assistant.recipes_evals`` do the same around cells that
call the subject model through the host's proxy); the host also trains and scores the baselines (weak supervisor and ceiling;
supervised probe), so the kernel submits only the method under study. Does not execute anything
(``tools.kernel`` runs cells; ``assistant.graph`` calls the host steps).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from assistant.cards import BUILTIN_CARDS, ToolCard
from assistant.steering_card import STEERING, render_steering, steering_prepare, steering_score

log = logging.getLogger(__name__)


class RecipeError(Exception):
    """A recipe is unknown, unavailable, or its config is invalid (the message says which and why)."""


@dataclass(frozen=True)
class HostSteps:
    """Trusted code a recipe runs on the host around its cell (never inside the sandbox).

    Attributes:
        prepare: ``(config, kernel_dir, cache_dir)`` before the cell: writes what the kernel may see into its
            directory (e.g. a task without test labels). Deterministic, so a resumed run can call it again.
        score: ``(config, kernel_dir, out_dir, cache_dir)`` after the cell ran ok: reads what the kernel submitted
            in ``kernel_dir``, scores it against data only the host holds and writes ``results.json`` into
            ``out_dir``, the host's run directory (the kernel cannot write there).
    """

    prepare: Callable[[BaseModel, Path, Path | None], None]
    score: Callable[[BaseModel, Path, Path, Path | None], None]


@dataclass(frozen=True)
class Recipe:
    """One allow-listed entry point.

    Attributes:
        name: What plans call it.
        summary: One line the model reads when choosing.
        load_config: Returns the pydantic config class (imported lazily).
        render: ``(config, out_dir) -> cell code``; the cell must write ``config.json`` and ``results.json``
            into ``out_dir``.
        requires: Modules that must import for the recipe to be available.
        host: Host steps around the cell, or None when the cell writes its own ``results.json``.
        card: What the recipe can test (``assistant.cards``); a recipe without one is never offered for a question.
        host_fields: Config fields the host sets itself (paths), left out when approved and executed configs are
            compared.
        fit: ``(config) -> (changed fields, notes)``: the host fits a validated config to its data before the
            plan is approved (split sizes lowered to the dataset's size); each note reaches the report's methods.
    """

    name: str
    summary: str
    load_config: Callable[[], type[BaseModel]]
    render: Callable[[BaseModel, Path], str]
    requires: tuple[str, ...] = ()
    host: HostSteps | None = None
    card: ToolCard | None = None
    host_fields: tuple[str, ...] = ()
    fit: Callable[[BaseModel], tuple[dict[str, Any], list[str]]] | None = None

    def available(self) -> bool:
        """True when every required module is installed here and the config class loads."""
        if not all(_findable(m) for m in self.requires):
            return False
        try:
            self.load_config()
        except (ImportError, AttributeError, RecipeError) as err:
            log.info("recipe %s unavailable: %s", self.name, err)
            return False
        return True

    def config_schema(self) -> dict[str, Any]:
        """The JSON schema of the config (what the model fills)."""
        return self.load_config().model_json_schema()

    def validate_config(self, data: dict[str, Any]) -> BaseModel:
        """A validated config.

        Raises:
            RecipeError: the config does not fit (the pydantic errors are in the message).
        """
        try:
            return self.load_config().model_validate(data)
        except ValidationError as err:
            raise RecipeError(f"config for recipe {self.name!r} is invalid: {err}") from err


def _findable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


@dataclass
class RecipeRegistry:
    """Recipes by name. ``default_registry()`` holds the built-ins; tests may register more."""

    recipes: dict[str, Recipe] = field(default_factory=dict)

    def register(self, recipe: Recipe) -> None:
        """Add ``recipe`` (a name can be registered once)."""
        if recipe.name in self.recipes:
            raise RecipeError(f"recipe {recipe.name!r} is already registered")
        self.recipes[recipe.name] = recipe

    def available(self) -> list[Recipe]:
        """Recipes whose modules import here, in registration order."""
        return [r for r in self.recipes.values() if r.available()]

    def get(self, name: str) -> Recipe:
        """The available recipe called ``name``.

        Raises:
            RecipeError: unknown or unavailable (lists what is available).
        """
        recipe = self.recipes.get(name)
        if recipe is None or not recipe.available():
            names = ", ".join(r.name for r in self.available()) or "(none)"
            why = "is not registered" if recipe is None else f"needs {', '.join(recipe.requires)}"
            raise RecipeError(f"recipe {name!r} {why}; available recipes: {names}")
        return recipe

    def cards(self) -> list[ToolCard]:
        """Cards of the available recipes that have one."""
        return [r.card for r in self.available() if r.card is not None]

    def describe(self) -> str:
        """A prompt-ready list of available recipes with their config fields."""
        lines = []
        for recipe in self.available():
            props = recipe.config_schema().get("properties", {})
            fields = ", ".join(f"{k} ({v.get('type', 'object')})" for k, v in props.items())
            lines.append(f"- {recipe.name}: {recipe.summary} Config fields: {fields or '(none)'}.")
        return "\n".join(lines)


# -- built-in: the synthetic weak-to-strong smoke test (tools.w2s.synthetic) ---------------------------------------
_SYNTHETIC_W2S = """\
# ara recipe: synthetic_w2s (rendered from a typed config; do not edit by hand)
from tools.w2s.synthetic import SyntheticW2SConfig, run_synthetic_w2s
CONFIG = SyntheticW2SConfig.model_validate_json({config_json})
print("pgr", run_synthetic_w2s(CONFIG, {out_dir}))
"""


def _render_synthetic(config: BaseModel, out_dir: Path) -> str:
    return _SYNTHETIC_W2S.format(config_json=repr(config.model_dump_json()), out_dir=repr(str(out_dir)))


_W2S_HELDOUT = """\
# ara recipe: w2s (rendered from a typed config; do not edit by hand)
# Held-out protocol: before this cell the host trained the weak supervisor and the ceiling and wrote task.npz
# (the student's view: strong features of split B, the weak labels on them, test inputs WITHOUT labels); this
# cell trains the student per seed and submits its test predictions; after it the host scores the student and
# its own baselines and writes results.json. Config: {config_json}
from tools.w2s.heldout import train_w2s_task
print(train_w2s_task({out_dir}))
"""


def _render_w2s(config: BaseModel, out_dir: Path) -> str:
    return _W2S_HELDOUT.format(config_json=config.model_dump_json(), out_dir=repr(str(out_dir)))


def _w2s_prepare(config: BaseModel, kernel_dir: Path, cache_dir: Path | None) -> None:
    from tools.research.hostconfig import host_config
    from tools.w2s.heldout import export_w2s_task

    export_w2s_task(host_config(config, cache_dir=cache_dir), kernel_dir)  # type: ignore[arg-type]


def _w2s_score(config: BaseModel, kernel_dir: Path, out_dir: Path, cache_dir: Path | None) -> None:
    from tools.research.hostconfig import host_config
    from tools.w2s.heldout import score_w2s_task

    score_w2s_task(host_config(config, cache_dir=cache_dir), kernel_dir, out_dir)  # type: ignore[arg-type]


_PAIRS_HELDOUT = """\
# ara recipe: {name} (rendered from a typed config; do not edit by hand)
# Held-out protocol: before this cell the host extracted the contrast pairs' activations and wrote task.npz
# (labels of the dev slice only); this cell fits CCS per layer and submits test predictions; after it the host
# fits the supervised probe, scores both, adds the zero-shot baseline and writes results.json.
# Config: {config_json}
from tools.probes.heldout import train_pair_task
print(train_pair_task({out_dir}))
"""


def _pairs_renderer(name: str) -> Callable[[BaseModel, Path], str]:
    def render(config: BaseModel, out_dir: Path) -> str:
        return _PAIRS_HELDOUT.format(name=name, config_json=config.model_dump_json(), out_dir=repr(str(out_dir)))

    return render


def _probes_prepare(config: BaseModel, kernel_dir: Path, cache_dir: Path | None) -> None:
    from tools.probes.heldout import export_probe_task
    from tools.research.hostconfig import host_config

    export_probe_task(host_config(config, cache_dir=cache_dir), kernel_dir)  # type: ignore[arg-type]


def _probes_score(config: BaseModel, kernel_dir: Path, out_dir: Path, cache_dir: Path | None) -> None:
    from tools.probes.heldout import score_probe_task
    from tools.research.hostconfig import host_config

    score_probe_task(host_config(config, cache_dir=cache_dir), kernel_dir, out_dir)  # type: ignore[arg-type]


def _honesty_host_config(config: BaseModel, out_dir: Path, cache_dir: Path | None) -> Any:
    # source=None: the configured BIG-bench copy; the cache must not be the kernel-writable directory (its
    # default is under run_dir), so without a host cache one shared host temp folder serves prepare and score.
    cache = cache_dir if cache_dir is not None else Path(tempfile.gettempdir()) / "ara-honesty-cache"
    return config.model_copy(update={"run_dir": out_dir, "cache_dir": cache, "source": None})


def _honesty_prepare(config: BaseModel, kernel_dir: Path, cache_dir: Path | None) -> None:
    from tools.evals.probes import export_honesty_task

    export_honesty_task(_honesty_host_config(config, kernel_dir, cache_dir), kernel_dir)


def _honesty_score(config: BaseModel, kernel_dir: Path, out_dir: Path, cache_dir: Path | None) -> None:
    from tools.evals.probes import score_honesty_task

    score_honesty_task(_honesty_host_config(config, out_dir, cache_dir), kernel_dir)


def _fitted(dataset: str, config: BaseModel, fields: tuple[str, ...], minimum: dict[str, int]) -> Any:
    from tools.research.hostconfig import host_config
    from tools.research.splitfit import fit_splits, size_fields

    root = host_config(config, cache_dir=None).data_root  # type: ignore[attr-defined]
    return fit_splits(dataset, root, size_fields(config, fields), minimum)


def _w2s_fit(config: BaseModel) -> tuple[dict[str, Any], list[str]]:
    fields = ("n_weak_train", "n_strong_train", "n_test")
    fitted = _fitted(str(config.dataset), config, fields, dict.fromkeys(fields, 10))  # type: ignore[attr-defined]
    return fitted.changes, [fitted.note] if fitted.note else []


def _probes_fit(config: BaseModel) -> tuple[dict[str, Any], list[str]]:
    fitted = _fitted(str(config.dataset), config, ("n_train", "n_test"), {"n_train": 20, "n_test": 10})  # type: ignore[attr-defined]
    changes: dict[str, int] = dict(fitted.changes)
    notes = [fitted.note] if fitted.note else []
    n_train: int = changes.get("n_train", int(config.n_train))  # type: ignore[attr-defined]
    n_dev = int(config.n_dev)  # type: ignore[attr-defined]
    if n_dev >= n_train:
        changes["n_dev"] = max(4, n_train // 4)
        notes.append(f"n_dev lowered from {n_dev} to {changes['n_dev']}: the dev slice lies within the training pairs.")
    return changes, notes


def _lazy_class(module: str, name: str) -> Callable[[], type[BaseModel]]:
    def load() -> type[BaseModel]:
        cls = getattr(importlib.import_module(module), name)
        if not (isinstance(cls, type) and issubclass(cls, BaseModel)):
            raise RecipeError(f"{module}.{name} is not a pydantic model")
        return cls

    return load


def default_registry() -> RecipeRegistry:
    """The built-in recipes: ``synthetic_w2s`` always; ``w2s``, ``probes``, ``honesty_probes`` and the model-calling
    evals (``mc_eval``, ``oversight``, ``cot``: ``assistant.recipes_evals``) once installed."""
    registry = RecipeRegistry()
    registry.register(
        Recipe(
            name="synthetic_w2s",
            summary="Weak-to-strong generalization (PGR) on a synthetic classification task; fast, offline.",
            load_config=_lazy_class("tools.w2s.synthetic", "SyntheticW2SConfig"),
            render=_render_synthetic,
            requires=("numpy", "sklearn", "tools.w2s.synthetic"),
            card=BUILTIN_CARDS["synthetic_w2s"],
        )
    )
    registry.register(
        Recipe(
            name="w2s",
            summary=(
                "Weak-to-strong generalization with the tools.w2s harness on the shared offline datasets; "
                "test labels stay on the host, which scores the kernel's predictions."
            ),
            load_config=_lazy_class("tools.w2s.config", "W2SConfig"),
            render=_render_w2s,
            requires=("tools.w2s",),
            host=HostSteps(prepare=_w2s_prepare, score=_w2s_score),
            card=BUILTIN_CARDS["w2s"],
            host_fields=("cache_dir", "data_root"),
            fit=_w2s_fit,
        )
    )
    registry.register(
        Recipe(
            name="probes",
            summary=(
                "Supervised probe vs CCS vs zero-shot by layer on SmolLM2 activations with tools.probes; "
                "test labels stay on the host."
            ),
            load_config=_lazy_class("tools.probes", "ProbeConfig"),
            render=_pairs_renderer("probes"),
            requires=("tools.probes",),
            host=HostSteps(prepare=_probes_prepare, score=_probes_score),
            card=BUILTIN_CARDS["probes"],
            host_fields=("cache_dir", "data_root"),
            fit=_probes_fit,
        )
    )
    registry.register(
        Recipe(
            name="honesty_probes",
            summary="Lie-detector baseline: supervised probe vs CCS vs zero-shot by layer on BIG-bench true/false statements.",
            load_config=_lazy_class("tools.evals.probes", "HonestyProbeConfig"),
            render=_pairs_renderer("honesty_probes"),
            requires=("tools.evals", "tools.probes"),
            host=HostSteps(prepare=_honesty_prepare, score=_honesty_score),
            card=BUILTIN_CARDS["honesty_probes"],
            host_fields=("cache_dir", "source", "run_dir"),
        )
    )
    registry.register(
        Recipe(
            name="steering",
            summary=(
                "Activation steering of SmolLM2: a direction from contrast pairs added at one layer, measured on "
                "held-out multiple-choice accuracy against a random direction of the same norm."
            ),
            load_config=_lazy_class("tools.steering.config", "SteeringConfig"),
            render=render_steering,
            requires=("torch", "transformers", "tools.steering"),
            host=HostSteps(prepare=steering_prepare, score=steering_score),
            card=STEERING,
            host_fields=("cache_dir", "data_root"),
        )
    )
    from assistant.recipes_evals import register_eval_recipes  # it builds on this module

    register_eval_recipes(registry)
    return registry
