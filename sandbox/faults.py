"""Fault injection: the failures real vendor APIs and networks produce, on demand and reproducibly.

Spec grammar (``--faults SPEC``, ``POST /_sandbox/faults {"spec": SPEC}``, ``set_faults(SPEC)``)::

    spec   := rule (";" rule)*
    rule   := target ":" item ("," item)*
    target := hubspot_analytics | hubspot_leads | attributionhub | humblytics
            | hubspot            (both HubSpot simulators)
            | *                  (every vendor; one counter across them)
    item   := action | option

    actions (exactly one per rule)
      status=CODE          answer CODE (429, 500, 502, 503, ...) instead of the simulator
      latency=MS           add MS milliseconds (+ uniform 0..jitter=MS) before answering
      slow=S               sleep S seconds before answering (to exceed a client timeout)
      drop                 send headers and half the body, then close the connection
      truncate             send a body cut mid-JSON with a Content-Length that matches the cut
      new_field=NAME       drift: add key NAME ("drifted") to every JSON object that has key parent=KEY
      new_object=NAME      drift: add key NAME holding a nested object {"id": 1, "label": "drifted"} (parent=KEY)
      type_change=FIELD    drift: every value of key FIELD becomes a string (3 -> "3"; with prefix=P, "P3": a
                           string no loader can coerce back to a number)
      drop_field=FIELD     drift: key FIELD disappears from every JSON object that has it
      null_field=FIELD     drift: every value of key FIELD becomes null
    options
      count=N              fire on N matching requests (default: every one from `start` on)
      start=K              first matching request that fires, 1-based (default 1)
      nth=N                shorthand for start=N,count=1 (a one-off)
      retry_after=S        with status: send Retry-After: S (without it, no Retry-After header)
      policy=NAME          with status=429 on a HubSpot target: the 429 body's policyName, TEN_SECONDLY_ROLLING
                           (the default) or DAILY ("You have reached your daily limit."; facts.md)
      jitter=MS            with latency
      parent=KEY           with new_field, new_object
      prefix=TEXT          with type_change
      path=PREFIX          only requests whose path starts with PREFIX
      p=FLOAT              fire with this probability (seeded, reproducible), default 1

Examples: ``hubspot_leads:status=503,count=2`` (two 503s, then OK);
``hubspot_analytics:status=429,count=3,retry_after=1``; ``hubspot_leads:status=429,policy=DAILY,start=3``
(the daily limit from the 3rd request on); ``humblytics:latency=100,jitter=20``;
``*:drop,nth=5``;
``hubspot_analytics:new_field=channelGroup,parent=breakdown``; ``hubspot_leads:type_change=insertedAt``;
``hubspot_leads:drop_field=jobTitle``; ``attributionhub:null_field=previous_page``.

Every rule counts the requests it matches (vendor and path) from the moment the faults are set, so "the Kth
matching request" is exact. Injected 429/500 bodies are in the vendor's own error format; 502/503 come back
as an HTML gateway page, as load balancers in front of real APIs send them. Injected HubSpot JSON errors carry
a ``correlationId`` (429s also a ``requestId``) and the same id in an ``X-HubSpot-Correlation-Id`` header, as
HubSpot sends them; the ids are derived from the seed, the rule and the request's ordinal, so they differ per
response and repeat run to run. With ``SandboxConfig.error_variants`` an injected error's body takes the
shape numbered by the rule's request ordinal among those ``sandbox/variants.py`` lists (no body, plain text,
keys missing or added), so consecutive injected errors differ in shape; off, always the canonical one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from sandbox.core import SandboxResponse, rng
from sandbox.limits import HUBSPOT_POLICIES
from sandbox.variants import vendor_error

ACTIONS = (
    "status",
    "latency",
    "slow",
    "drop",
    "truncate",
    "new_field",
    "new_object",
    "type_change",
    "drop_field",
    "null_field",
)
DRIFT_ACTIONS = ("new_field", "new_object", "type_change", "drop_field", "null_field")
DRIFT_VALUE = "drifted"
DRIFT_OBJECT = {"id": 1, "label": DRIFT_VALUE}
TARGETS = ("hubspot_analytics", "hubspot_leads", "attributionhub", "humblytics", "hubspot", "*")
HUBSPOT_TARGETS = ("hubspot_analytics", "hubspot_leads", "hubspot")


class FaultSpecError(ValueError):
    """A fault spec that cannot be parsed; the message names the bad part."""


@dataclass(frozen=True)
class FaultRule:
    target: str
    action: str
    status: int | None = None
    retry_after: float | None = None
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    slow_s: float = 0.0
    field_name: str | None = None  # new_field NAME / type_change, drop_field, null_field FIELD
    parent: str | None = None
    prefix: str | None = None  # type_change: text put before the value
    start: int = 1
    count: int | None = None
    probability: float = 1.0
    path: str | None = None
    policy: str | None = None  # HubSpot 429 policyName

    def applies_to(self, vendor: str, path: str) -> bool:
        if self.target not in ("*", vendor) and not (self.target == "hubspot" and vendor.startswith("hubspot")):
            return False
        return self.path is None or path.startswith(self.path)

    def in_window(self, ordinal: int) -> bool:
        return ordinal >= self.start and (self.count is None or ordinal < self.start + self.count)


def _number(key: str, value: str | None, kind: type = float) -> Any:
    if value is None or value == "":
        raise FaultSpecError(f"fault option '{key}' needs a value")
    try:
        return kind(value)
    except ValueError:
        raise FaultSpecError(f"fault option '{key}' has a bad value {value!r}") from None


def _policy(value: str | None) -> str:
    if not value:
        raise FaultSpecError("fault option 'policy' needs a value")
    policy = value.upper()
    if policy not in HUBSPOT_POLICIES:
        raise FaultSpecError(
            f"fault option 'policy' has a bad value {value!r}; use one of {', '.join(HUBSPOT_POLICIES)}"
        )
    return policy


# Numeric options: spec key -> (FaultRule field, type).
_NUMBERS: dict[str, tuple[str, type]] = {
    "status": ("status", int),
    "latency": ("latency_ms", float),
    "slow": ("slow_s", float),
    "jitter": ("jitter_ms", float),
    "retry_after": ("retry_after", float),
    "count": ("count", int),
    "start": ("start", int),
    "p": ("probability", float),
}


def rule_from_items(target: str, items: Iterable[tuple[str, str | None]]) -> FaultRule:
    """Build a rule from (key, value) pairs; value None means a bare flag (``drop``)."""
    if target not in TARGETS:
        raise FaultSpecError(f"unknown fault target {target!r}; use one of {', '.join(TARGETS)}")
    fields: dict[str, Any] = {}
    actions: list[str] = []
    nth: int | None = None
    for key, value in items:
        if key in ACTIONS:
            actions.append(key)
        if key in _NUMBERS:
            name, kind = _NUMBERS[key]
            fields[name] = _number(key, value, kind)
        elif key in ("drop", "truncate"):
            if value not in (None, "", "true", "1"):
                raise FaultSpecError(f"'{key}' takes no value")
        elif key in DRIFT_ACTIONS:
            if not value:
                raise FaultSpecError(f"'{key}' needs a field name")
            fields["field_name"] = value
        elif key == "nth":
            nth = _number(key, value, int)
        elif key in ("parent", "path", "prefix"):
            fields[key] = value
        elif key == "policy":
            fields["policy"] = _policy(value)
        elif key not in ACTIONS:
            raise FaultSpecError(f"unknown fault option {key!r}")
    if len(actions) != 1:
        raise FaultSpecError(f"a fault rule needs exactly one action of {', '.join(ACTIONS)}; got {actions}")
    if nth is not None:
        if "start" in fields or "count" in fields:
            raise FaultSpecError("'nth' cannot be combined with 'start' or 'count'")
        fields["start"], fields["count"] = nth, 1
    if "policy" in fields and (actions[0] != "status" or fields.get("status") != 429 or target not in HUBSPOT_TARGETS):
        raise FaultSpecError(f"'policy' goes with status=429 on a HubSpot target ({', '.join(HUBSPOT_TARGETS)})")
    if "prefix" in fields and actions[0] != "type_change":
        raise FaultSpecError("'prefix' goes with type_change")
    if actions[0] in ("new_field", "new_object") and not fields.get("parent"):
        raise FaultSpecError(f"'{actions[0]}' needs 'parent=KEY' (the key that marks the records to change)")
    if fields.get("start", 1) < 1 or fields.get("count", 1) < 0:
        raise FaultSpecError("'start'/'nth' count from 1 and 'count' must not be negative")
    return FaultRule(target=target, action=actions[0], **fields)


def parse_spec(spec: str) -> list[FaultRule]:
    """Parse the grammar in the module docstring; an empty spec means no faults."""
    rules = []
    for chunk in filter(None, (part.strip() for part in spec.split(";"))):
        target, sep, rest = chunk.partition(":")
        if not sep:
            raise FaultSpecError(f"fault rule {chunk!r} lacks 'target:'")
        items = []
        for item in filter(None, (i.strip() for i in rest.split(","))):
            key, eq, value = item.partition("=")
            items.append((key.strip(), value.strip() if eq else None))
        rules.append(rule_from_items(target.strip(), items))
    return rules


def rule_from_json(obj: Mapping[str, Any]) -> FaultRule:
    """``{"target": "hubspot_leads", "status": 503, "count": 2}``; ``"vendor"`` is accepted for target."""
    target = str(obj.get("target", obj.get("vendor", "*")))
    items = [(k, None if v is True else str(v)) for k, v in obj.items() if k not in ("target", "vendor")]
    return rule_from_items(target, items)


FaultsLike = str | Iterable[FaultRule] | Iterable[Mapping[str, Any]] | Mapping[str, Any] | None


def to_rules(spec: FaultsLike) -> list[FaultRule]:
    """Accept a spec string, rules, rule dicts, ``{"spec": ...}`` / ``{"rules": [...]}``, or None."""
    if spec is None:
        return []
    if isinstance(spec, str):
        return parse_spec(spec)
    if isinstance(spec, Mapping):
        if "spec" in spec:
            return parse_spec(str(spec["spec"] or ""))
        return to_rules(spec.get("rules") or [])
    return [r if isinstance(r, FaultRule) else rule_from_json(r) for r in spec]


@dataclass
class FaultPlan:
    """What the server must do to one request."""

    delay_s: float = 0.0
    response: SandboxResponse | None = None  # answer this instead of the simulator
    mode: str = "normal"  # "drop" | "truncate"
    drift: list[FaultRule] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)


class Faults:
    """The active rules and their counters; thread-safe, reseedable, replaceable as a whole."""

    def __init__(self, spec: FaultsLike = None, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._seed = seed
        self.replace(spec)

    def replace(self, spec: FaultsLike) -> None:
        rules = to_rules(spec)
        with self._lock:
            self.rules = rules
            self._seen = [0] * len(rules)
            self._rngs = [rng(self._seed, "fault", i) for i in range(len(rules))]

    def reset_counters(self) -> None:
        self.replace(list(self.rules))

    def describe(self) -> list[dict[str, Any]]:
        return [{k: v for k, v in asdict(r).items() if v is not None} for r in self.rules]

    def plan(self, vendor: str, path: str, *, variants: bool = False) -> FaultPlan:
        """What to do to one request; ``variants``: injected error bodies rotate through their shapes."""
        plan = FaultPlan()
        if not self.rules:
            return plan
        with self._lock:
            for i, rule in enumerate(self.rules):
                if not rule.applies_to(vendor, path):
                    continue
                self._seen[i] += 1
                rnd = self._rngs[i]
                if not rule.in_window(self._seen[i]):
                    continue
                if rule.probability < 1.0 and rnd.random() >= rule.probability:
                    continue
                jitter = rnd.uniform(0, rule.jitter_ms) if rule.jitter_ms else 0.0
                variant = self._seen[i] - 1 if variants else 0
                _apply(plan, rule, vendor, jitter, ids=(self._seed, i, self._seen[i]), variant=variant)
        return plan


def _apply(
    plan: FaultPlan,
    rule: FaultRule,
    vendor: str,
    jitter_ms: float,
    ids: tuple[object, ...] = (),
    variant: int = 0,
) -> None:
    plan.labels.append(f"{rule.action}" + (f"={rule.status}" if rule.status else ""))
    if rule.action == "latency":
        plan.delay_s += (rule.latency_ms + jitter_ms) / 1000
    elif rule.action == "slow":
        plan.delay_s += rule.slow_s
    elif rule.action == "status" and plan.response is None:
        plan.response = injected_response(
            vendor, rule.status or 500, rule.retry_after, policy=rule.policy, ids=ids, variant=variant
        )
    elif rule.action in ("drop", "truncate") and plan.mode == "normal":
        plan.mode = rule.action
    elif rule.action in DRIFT_ACTIONS:
        plan.drift.append(rule)


def injected_response(
    vendor: str,
    status: int,
    retry_after: float | None,
    *,
    policy: str | None = None,
    ids: tuple[object, ...] = (),
    variant: int = 0,
) -> SandboxResponse:
    """An error in the vendor's own shape (``variant`` 0; sandbox/variants.py lists the others); 502/503 as a
    gateway's HTML page. ``policy`` is a HubSpot 429's policyName; ``ids`` seeds the HubSpot ids."""
    return vendor_error(vendor, status, retry_after=retry_after, policy=policy, ids=ids, variant=variant)


def apply_drift(response: SandboxResponse, rules: list[FaultRule]) -> SandboxResponse:
    """Schema drift on a 2xx JSON body, walking the whole payload."""
    if not rules or not 200 <= response.status < 300:
        return response
    try:
        payload = orjson.loads(response.body)
    except orjson.JSONDecodeError:
        return response
    for rule in rules:
        _walk(payload, rule)
    return SandboxResponse(response.status, orjson.dumps(payload), dict(response.headers))


def _walk(node: Any, rule: FaultRule) -> None:
    if isinstance(node, list):
        for item in node:
            _walk(item, rule)
    elif isinstance(node, dict):
        name = rule.field_name or ""
        children = list(node.values())  # not what the rule adds: a new object is not walked into
        if rule.action == "new_field" and rule.parent in node:
            node[name] = DRIFT_VALUE
        if rule.action == "new_object" and rule.parent in node:
            node[name] = dict(DRIFT_OBJECT)
        if rule.action == "type_change" and name in node and not isinstance(node[name], str):
            value = node[name]
            text = orjson.dumps(value).decode().strip('"')
            node[name] = value if isinstance(value, (dict, list)) else f"{rule.prefix or ''}{text}"
        if rule.action == "drop_field":
            node.pop(name, None)
        if rule.action == "null_field" and name in node:
            node[name] = None
        for value in children:
            _walk(value, rule)
