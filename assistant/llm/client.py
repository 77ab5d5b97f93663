"""One client for every OpenAI-compatible backend: chat, streaming, structured output, usage and budgets.

Covers the request/response cycle over the real ``openai`` client, error translation into ``LLMError``s that say
which endpoint failed and which setting to change, and usage accounting. Does not cover starting the embedded
server (``assistant.llm.local_server``) or choosing the endpoint (``assistant.llm.connect``).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal, Protocol, TypeVar, cast

import httpx
import openai
from pydantic import BaseModel, ConfigDict, ValidationError

from assistant.errors import (
    BudgetExceededError,
    EndpointResponseError,
    EndpointStatusError,
    EndpointUnreachableError,
    LLMError,
    StructuredOutputError,
)
from assistant.llm.structured import (
    StructuredMode,
    build_request_options,
    extract_payload,
    retry_message,
    shorten_message,
    token_cap,
)

log = logging.getLogger(__name__)

Message = dict[str, Any]
T = TypeVar("T", bound=BaseModel)

_MODE_REFUSED = frozenset({400, 422, 500, 501})
"""Statuses with which servers refuse a response_format they do not support (llama.cpp: 500 on json_schema)."""

_SETTING_HINT = (
    "change ARA_LLM_BASE_URL (or [llm] base_url in <workspace>/ara.toml), or unset it to use the embedded local model"
)


class Usage(BaseModel):
    """Tokens one call used, as the backend reported them (or estimated where it did not)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt_tokens: int = 0
    """Tokens in the request."""
    completion_tokens: int = 0
    """Tokens generated."""
    estimated: bool = False
    """True when the backend gave no usage and the counts were estimated from text length."""

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens


class LLMCall(BaseModel):
    """One request/response pair, as recorded in a run's event log."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["chat", "stream", "structured"]
    """Which API produced it."""
    model: str
    """Model name sent."""
    base_url: str
    """Endpoint."""
    messages: list[Message]
    """Messages sent (after any retry feedback)."""
    response: str
    """Text (or JSON arguments) the model returned."""
    usage: Usage
    """Tokens used."""
    duration_s: float
    """Wall time of the call including client-side retries."""
    attempt: int = 1
    """1 for the first try; structured retries count up."""
    mode: str | None = None
    """Structured-output mode used, if any."""


class ChatResult(BaseModel):
    """A finished chat completion."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str
    """The assistant's answer."""
    usage: Usage
    """Tokens used."""
    finish_reason: str | None = None
    """``stop``, ``length``, ... as reported."""


class UsageLedger:
    """Thread-safe token accounting with an optional budget shared by every client of one run."""

    def __init__(self, token_budget: int | None = None) -> None:
        self.token_budget = token_budget
        self.calls: list[LLMCall] = []
        self._lock = threading.Lock()

    @property
    def prompt_tokens(self) -> int:
        """Prompt tokens used so far."""
        return sum(c.usage.prompt_tokens for c in self.calls)

    @property
    def completion_tokens(self) -> int:
        """Completion tokens used so far."""
        return sum(c.usage.completion_tokens for c in self.calls)

    @property
    def total_tokens(self) -> int:
        """All tokens used so far."""
        return self.prompt_tokens + self.completion_tokens

    def check(self) -> None:
        """Raise ``BudgetExceededError`` when the budget is already spent."""
        if self.token_budget is not None and self.total_tokens >= self.token_budget:
            raise BudgetExceededError(
                f"token budget exhausted: {self.total_tokens} of {self.token_budget} tokens used. "
                "Raise it with --budget tokens=N or [llm] token_budget in ara.toml.",
                budget="tokens",
            )

    def record(self, call: LLMCall) -> None:
        """Add one call."""
        with self._lock:
            self.calls.append(call)


class LLMClient(Protocol):
    """What the rest of ara needs from a language model."""

    model: str
    base_url: str
    ledger: UsageLedger

    def chat(self, messages: Sequence[Message], *, max_tokens: int | None = None) -> ChatResult:
        """One non-streaming completion."""
        ...

    def stream_chat(self, messages: Sequence[Message], *, max_tokens: int | None = None) -> Iterator[str]:
        """Yield text deltas as they arrive."""
        ...

    def complete_structured(
        self, messages: Sequence[Message], schema: type[T], *, max_tokens: int | None = None, call: str | None = None
    ) -> T:
        """A validated instance of ``schema`` (``call`` names the caller in errors; ``max_tokens`` the first cap)."""
        ...


def _estimate_tokens(text: str) -> int:
    return max(1, len(text) // 4)


class OpenAIClient:
    """``LLMClient`` over the real ``openai.OpenAI`` client, for any OpenAI-compatible endpoint.

    Args:
        base_url: The endpoint, e.g. ``http://127.0.0.1:8080/v1``.
        model: Model name sent with each request.
        api_key: Key for the endpoint (local servers accept any).
        structured_mode: ``auto`` tries ``json_schema`` then falls back per backend; the embedded server uses
            ``json_object`` with a schema.
        http_client: An ``httpx.Client`` to send through (tests pass one over ``httpx.MockTransport``).
        ledger: Shared usage ledger (and token budget) of the run.
        on_call: Called with each finished ``LLMCall`` (the run log).
    """

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str = "not-needed",
        timeout_s: float = 120.0,
        max_retries: int = 2,
        structured_mode: StructuredMode = "auto",
        structured_retries: int = 2,
        temperature: float = 0.2,
        max_tokens: int = 768,
        structured_max_tokens: int = 4096,
        http_client: httpx.Client | None = None,
        ledger: UsageLedger | None = None,
        on_call: Callable[[LLMCall], None] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.structured_max_tokens = max(structured_max_tokens, max_tokens)
        self.structured_mode: StructuredMode = structured_mode
        self.structured_retries = structured_retries
        self.ledger = ledger or UsageLedger()
        self.on_call = on_call
        self._openai = openai.OpenAI(
            base_url=self.base_url,
            api_key=api_key,
            timeout=timeout_s,
            max_retries=max_retries,
            # openai 3.x is built on httpx2 and explicitly accepts a legacy httpx.Client (used by the test doubles).
            http_client=cast(Any, http_client),
        )

    # -- errors -------------------------------------------------------------------------------------------
    def _translate(self, err: Exception) -> LLMError:
        where = f"the LLM endpoint {self.base_url}"
        if isinstance(err, openai.APITimeoutError):
            return EndpointUnreachableError(
                f"{where} did not answer in time ({err}); check that it is up, or raise [llm] timeout_s; "
                f"or {_SETTING_HINT}.",
                title="LLM endpoint timed out",
            )
        if isinstance(err, openai.APIConnectionError):
            cause = err.__cause__ or err
            return EndpointUnreachableError(
                f"could not reach {where}: {cause}. Start that server, or {_SETTING_HINT}.",
                title="LLM endpoint unreachable",
            )
        if isinstance(err, openai.AuthenticationError):
            return EndpointStatusError(
                f"{where} rejected the API key (401). Set ARA_LLM_API_KEY (or [llm] api_key) to a valid key.",
                status_code=401,
                title="LLM authentication failed",
            )
        if isinstance(err, openai.NotFoundError):
            return EndpointStatusError(
                f"{where} answered 404 for model '{self.model}' ({err.message}). Check ARA_LLM_MODEL and the URL "
                "(OpenAI-compatible base URLs usually end in /v1).",
                status_code=404,
                title="LLM model or path not found",
            )
        if isinstance(err, openai.APIStatusError):
            return EndpointStatusError(
                f"{where} answered HTTP {err.status_code}: {err.message}. Retries did not help; check the server's "
                f"log, or {_SETTING_HINT}.",
                status_code=err.status_code,
            )
        if isinstance(err, (openai.APIResponseValidationError, json.JSONDecodeError, ValueError, TypeError)):
            return EndpointResponseError(
                f"{where} answered something that is not an OpenAI-style JSON response ({type(err).__name__}: "
                f"{str(err)[:200]}). Is the URL an OpenAI-compatible API (ending in /v1)? {_SETTING_HINT}.",
                title="LLM endpoint answered garbage",
            )
        return LLMError(f"{where} failed: {err}", title="LLM call failed")

    def _create(self, **kwargs: Any) -> Any:
        try:
            return self._openai.chat.completions.create(**kwargs)
        except (openai.OpenAIError, json.JSONDecodeError, ValueError, TypeError) as err:
            raise self._translate(err) from err

    @staticmethod
    def _usage_of(response: Any, messages: Sequence[Message], text: str) -> Usage:
        usage = getattr(response, "usage", None)
        if usage is not None and getattr(usage, "prompt_tokens", None) is not None:
            return Usage(prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens or 0)
        prompt = sum(_estimate_tokens(str(m.get("content", ""))) for m in messages)
        return Usage(prompt_tokens=prompt, completion_tokens=_estimate_tokens(text), estimated=True)

    def _finish(self, call: LLMCall) -> None:
        self.ledger.record(call)
        log.debug("llm %s %s tokens=%d %.2fs", call.kind, call.model, call.usage.total_tokens, call.duration_s)
        if self.on_call is not None:
            self.on_call(call)

    @staticmethod
    def _text_of(response: Any) -> tuple[str, str | None]:
        choices = getattr(response, "choices", None)
        if not choices:
            raise TypeError(f"response has no choices: {str(response)[:200]}")
        message = choices[0].message
        text = message.content or ""
        if not text and getattr(message, "tool_calls", None):
            text = message.tool_calls[0].function.arguments or ""
        return text, choices[0].finish_reason

    # -- public API ---------------------------------------------------------------------------------------
    def chat(self, messages: Sequence[Message], *, max_tokens: int | None = None) -> ChatResult:
        """One completion. Raises ``LLMError`` subclasses and ``BudgetExceededError``."""
        self.ledger.check()
        started = time.perf_counter()
        response = self._create(
            model=self.model,
            messages=list(messages),
            temperature=self.temperature,
            max_tokens=max_tokens or self.max_tokens,
        )
        try:
            text, finish = self._text_of(response)
        except TypeError as err:
            raise self._translate(err) from err
        usage = self._usage_of(response, messages, text)
        self._finish(
            LLMCall(
                kind="chat",
                model=self.model,
                base_url=self.base_url,
                messages=list(messages),
                response=text,
                usage=usage,
                duration_s=time.perf_counter() - started,
            )
        )
        return ChatResult(text=text, usage=usage, finish_reason=finish)

    def stream_chat(self, messages: Sequence[Message], *, max_tokens: int | None = None) -> Iterator[str]:
        """Yield the answer's text as it streams; usage is recorded when the stream ends."""
        self.ledger.check()
        started = time.perf_counter()
        stream = self._create(
            model=self.model,
            messages=list(messages),
            temperature=self.temperature,
            max_tokens=max_tokens or self.max_tokens,
            stream=True,
            stream_options={"include_usage": True},
        )
        parts: list[str] = []
        reported: Any = None
        try:
            for chunk in stream:
                if getattr(chunk, "usage", None) is not None:
                    reported = chunk
                if not chunk.choices:
                    continue
                delta = chunk.choices[0].delta.content or ""
                if delta:
                    parts.append(delta)
                    yield delta
        except (openai.OpenAIError, httpx.HTTPError, json.JSONDecodeError) as err:
            raise self._translate(err) from err
        text = "".join(parts)
        self._finish(
            LLMCall(
                kind="stream",
                model=self.model,
                base_url=self.base_url,
                messages=list(messages),
                response=text,
                usage=self._usage_of(reported, messages, text),
                duration_s=time.perf_counter() - started,
            )
        )

    def complete_structured(
        self, messages: Sequence[Message], schema: type[T], *, max_tokens: int | None = None, call: str | None = None
    ) -> T:
        """Ask for an object of ``schema``; validate it; retry up to ``structured_retries`` times with feedback.

        The first attempt's token cap is ``max_tokens`` or one sized to the schema (``token_cap``: at least
        ``self.max_tokens``, at most ``self.structured_max_tokens``). An answer cut off at the cap
        (``finish_reason == "length"``) is retried with the cap doubled (up to the ceiling) and a request for fewer
        and shorter items, stricter each time; an invalid answer is sent back with the validation errors. Every
        retry therefore differs from the attempt before it.

        Raises:
            StructuredOutputError: no valid object after the retries; the message names the call, the caps tried
                and the setting to raise (last output and every error attached).
        """
        label = call or schema.__name__
        cap = max_tokens or token_cap(schema, floor=self.max_tokens, ceiling=self.structured_max_tokens)
        history = list(messages)
        errors: list[str] = []
        caps: list[int] = []
        truncations = 0
        last = ""
        for attempt in range(1, self.structured_retries + 2):
            self.ledger.check()
            caps.append(cap)
            text, finish = self._structured_once(history, schema, attempt, cap)
            last = text
            if finish == "length":
                truncations += 1
                errors.append(f"attempt {attempt}: cut off at the cap of {cap} tokens (finish_reason=length)")
                log.info("structured call %s (%s) truncated at %d tokens", label, schema.__name__, cap)
                history = [*messages, shorten_message(schema, cap, truncations)]
                cap = min(2 * cap, max(self.structured_max_tokens, cap))
                continue
            try:
                return schema.model_validate(extract_payload(text))
            except (ValidationError, ValueError) as err:
                errors.append(f"attempt {attempt}: {err}")
                log.info("structured attempt %d for %s invalid: %s", attempt, schema.__name__, str(err)[:300])
                history = [*history, {"role": "assistant", "content": text}, retry_message(schema, err)]
        tried = ", ".join(str(c) for c in caps)
        if truncations == len(caps):
            advice = (
                f"every answer was cut off at its token cap (caps tried: {tried} tokens). Raise ARA_LLM_STRUCTURED_"
                f"MAX_TOKENS (or [llm] structured_max_tokens, now {self.structured_max_tokens}) and, for the embedded "
                "model, [local_llm] n_ctx; or use a model that answers more briefly."
            )
        else:
            advice = (
                f"last error: {errors[-1][:500]} (caps tried: {tried} tokens; {truncations} answer(s) cut off). "
                'Try a stronger model (ARA_LLM_BASE_URL / ARA_LLM_MODEL, or [local_llm] profile = "default") or '
                "raise [llm] structured_retries."
            )
        raise StructuredOutputError(
            f"the {label} call to the model at {self.base_url} ({self.model}) gave no valid {schema.__name__} after "
            f"{len(caps)} attempts: {advice}",
            last_output=last,
            errors=errors,
        )

    def _structured_once(
        self, history: list[Message], schema: type[BaseModel], attempt: int, cap: int
    ) -> tuple[str, str | None]:
        modes: list[StructuredMode] = (
            ["json_schema", "json_object", "tool"] if self.structured_mode == "auto" else [self.structured_mode]
        )
        last_err: EndpointStatusError | None = None
        for mode in modes:
            started = time.perf_counter()
            options = build_request_options(mode, schema)
            sent = options.pop("messages_prefix", []) + history
            try:
                response = self._create(
                    model=self.model,
                    messages=sent,
                    temperature=self.temperature,
                    max_tokens=cap,
                    **options,
                )
                text, finish = self._text_of(response)
            except EndpointStatusError as err:
                last_err = err
                if self.structured_mode == "auto" and err.status_code in _MODE_REFUSED:
                    log.info("structured mode %s refused by %s (%s); trying the next", mode, self.base_url, err)
                    continue
                raise
            except TypeError as err:
                raise self._translate(err) from err
            if self.structured_mode == "auto":
                self.structured_mode = mode
            self._finish(
                LLMCall(
                    kind="structured",
                    model=self.model,
                    base_url=self.base_url,
                    messages=sent,
                    response=text,
                    usage=self._usage_of(response, sent, text),
                    duration_s=time.perf_counter() - started,
                    attempt=attempt,
                    mode=mode,
                )
            )
            return text, finish
        assert last_err is not None
        raise last_err
