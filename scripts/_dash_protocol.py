"""What the Dash renderer sends, rebuilt from /_dash-dependencies and layout trees (no I/O).

Used by the doctor (one real callback) and the load test (every callback of every page). The
request bodies follow dash-renderer 4: ``output`` is the dependency's own output string,
``outputs`` one ``{id, property}`` (a list for multi-output callbacks; a list for an ALL
pattern), ``inputs`` / ``state`` ``{id, property, value}`` in the dependency's order (value left
out when the prop is unset, as JSON drops ``undefined``), ``changedPropIds`` the triggering
``id.prop`` strings (empty for a callback fired because its components appeared).
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field

ROUTER_OUTPUT = "_pages_content.children"
ROUTER_CONTENT = "_pages_content"
WILDCARDS = ("ALL", "MATCH", "ALLSMALLER")
LOCATION = ("dash_core_components", "Location")
INTERVAL = ("dash_core_components", "Interval")


def stringify_id(component_id, *, browser: bool = False) -> str:
    """The string form of an id: the id itself, or sorted JSON of a dict id. ``browser``: as
    JSON.stringify writes it (changedPropIds); otherwise as Dash's Python writes response keys."""
    if not isinstance(component_id, dict):
        return component_id
    dumps = (lambda v: json.dumps(v, ensure_ascii=False, separators=(",", ":"))) if browser else json.dumps
    return "{" + ",".join(f"{json.dumps(k)}:{dumps(component_id[k])}" for k in sorted(component_id)) + "}"


def parse_id(text: str):
    return json.loads(text) if text.startswith("{") else text


def split_spec(spec: str) -> tuple[str, str]:
    """'id.prop' → (id, prop); a dict id ends at its last '}'."""
    if spec.startswith("{"):
        end = spec.rindex("}")
        return spec[: end + 1], spec[end + 2 :]
    component, _, prop = spec.rpartition(".")
    return component, prop


def split_output(output: str) -> list[tuple[str, str]]:
    """The (id, prop) pairs of a dependency's output string ('..a.x...b.y..' when several)."""
    if output.startswith("..") and output.endswith(".."):
        return [split_spec(part) for part in output[2:-2].split("...")]
    return [split_spec(output)]


def is_multi(dep: dict) -> bool:
    return dep["output"].startswith("..")


def is_router(dep: dict) -> bool:
    return any(f"{c}.{p}" == ROUTER_OUTPUT for c, p in split_output(dep["output"]))


def is_server_callback(dep: dict) -> bool:
    """Callbacks the browser sends to the server (clientside ones run in the browser)."""
    return not dep.get("clientside_function")


def label(dep: dict) -> str:
    """A short stable name for statistics: 'cb:a.children,b.children' (allow_duplicate hashes
    cut to 6 characters)."""
    parts = []
    for component, prop in split_output(dep["output"]):
        name, _, dup = prop.partition("@")
        parts.append(f"{component}.{name}" + (f"@{dup[:6]}" if dup else ""))
    return "cb:" + ",".join(parts)


@dataclass
class Component:
    id: object  # str or dict
    type: str
    namespace: str
    props: dict


@dataclass
class PageState:
    """The components of one open page (the app shell plus the page content), by id string."""

    components: dict[str, Component] = field(default_factory=dict)

    def add_tree(self, tree) -> None:
        for component in walk(tree):
            self.components[stringify_id(component.id)] = component

    def remove_tree(self, tree) -> None:
        for component in walk(tree):
            self.components.pop(stringify_id(component.id), None)

    def apply(self, response: dict) -> None:
        """Apply a callback response (and side updates) to the page, as the renderer would."""
        for section in ("response", "sideUpdate"):
            for key, props in (response.get(section) or {}).items():
                target = self.components.get(key)
                if target is None or not isinstance(props, dict):
                    continue
                for prop, value in props.items():
                    if prop != "figure":
                        self.remove_tree(target.props.get(prop))
                    target.props[prop] = value
                    if prop != "figure":
                        self.add_tree(value)

    def of_kind(self, kind: tuple[str, str]) -> list[Component]:
        return [c for c in self.components.values() if (c.namespace, c.type) == kind]


def walk(node):
    """Every component with an id in a layout tree (figures are not searched)."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            if "namespace" in item and "type" in item and isinstance(item.get("props"), dict):
                props = item["props"]
                if props.get("id") is not None:
                    yield Component(props["id"], item["type"], item["namespace"], props)
                stack.extend(v for k, v in props.items() if k != "figure" and isinstance(v, list | dict))
            else:
                stack.extend(v for v in item.values() if isinstance(v, list | dict))


def nav_paths(shell_layout) -> list[str]:
    """Page paths linked from the app shell (the navbar built from dash.page_registry)."""
    paths: list[str] = []
    stack = [shell_layout]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        elif isinstance(item, dict):
            props = item.get("props") if "namespace" in item else None
            if isinstance(props, dict):
                href = props.get("href")
                if isinstance(href, str) and href.startswith("/") and href not in paths:
                    paths.append(href)
                stack.extend(reversed([v for v in props.values() if isinstance(v, list | dict)]))
    return paths


def set_location(state: PageState, base_url: str, path: str, search: str = "") -> None:
    """dcc.Location reports the browser's address once mounted."""
    for location in state.of_kind(LOCATION):
        location.props.update(pathname=path, search=search, hash="", href=f"{base_url}{path}{search}")


def router_body(dep: dict, path: str, search: str = "") -> dict:
    """The pages router request the renderer sends when the address changes."""
    values = {"pathname": path, "search": search}
    inputs = []
    for item in dep["inputs"]:
        entry = {"id": item["id"], "property": item["property"]}
        if item["property"] in values:
            entry["value"] = values[item["property"]]
        inputs.append(entry)
    changed = [f"{i['id']}.{i['property']}" for i in dep["inputs"] if i["property"] in values]
    body = {"output": dep["output"], "outputs": _outputs(dep), "inputs": inputs,
            "changedPropIds": changed, "parsedChangedPropsIds": changed}  # fmt: skip
    if dep.get("state"):
        body["state"] = [{"id": s["id"], "property": s["property"]} for s in dep["state"]]
    return body


def _outputs(dep: dict):
    outs = [{"id": parse_id(c), "property": p} for c, p in split_output(dep["output"])]
    return outs if is_multi(dep) else outs[0]


def _wild(value) -> str | None:
    if isinstance(value, list) and len(value) == 1 and value[0] in WILDCARDS:
        return value[0]
    return None


def _matches(pattern: dict, component_id, binding: dict) -> bool:
    if not isinstance(component_id, dict) or set(component_id) != set(pattern):
        return False
    for key, value in pattern.items():
        wild = _wild(value)
        if wild is None and component_id[key] != value:
            return False
        if wild == "MATCH" and key in binding and component_id[key] != binding[key]:
            return False
    return True


def _entry(component: Component, prop: str, with_value: bool) -> dict:
    entry = {"id": component.id, "property": prop}
    if with_value and prop.split("@")[0] in component.props:
        entry["value"] = component.props[prop.split("@")[0]]
    return entry


def _bindings(specs: list[tuple[str, str]], state: PageState) -> list[dict]:
    """MATCH values to fire the callback for: one binding per matching component set."""
    for id_text, _prop in specs:
        pattern = parse_id(id_text)
        if isinstance(pattern, dict):
            keys = [k for k, v in pattern.items() if _wild(v) == "MATCH"]
            if keys:
                found = [c.id for c in state.components.values() if _matches(pattern, c.id, {})]
                unique = {tuple(cid[k] for k in keys) for cid in found}
                return [dict(zip(keys, values, strict=True)) for values in sorted(unique, key=str)]
    return [{}]


def _resolve(id_text: str, prop: str, state: PageState, binding: dict, with_value: bool):
    """An input/state/output entry, a list of them (ALL), or None when it is not on the page."""
    pattern = parse_id(id_text)
    if isinstance(pattern, dict) and any(_wild(v) for v in pattern.values()):
        found = [c for c in state.components.values() if _matches(pattern, c.id, binding)]
        found.sort(key=lambda c: stringify_id(c.id))
        if any(_wild(v) == "MATCH" for v in pattern.values()):
            return _entry(found[0], prop, with_value) if len(found) == 1 else None
        return [_entry(c, prop, with_value) for c in found]
    component = state.components.get(stringify_id(pattern))
    return None if component is None else _entry(component, prop, with_value)


@dataclass(frozen=True)
class Trigger:
    """A concrete input that changed: component id string + prop."""

    key: str
    prop: str


def callback_bodies(dep: dict, state: PageState, changed: list[Trigger] | None = None) -> list[dict]:
    """Request bodies for ``dep`` on this page (several for a MATCH pattern); [] when any of its
    outputs, inputs or states is not on the page, or when ``changed`` is given and none of the
    triggering props is an input of this callback (for that binding)."""
    outputs = split_output(dep["output"])
    inputs = [(i["id"], i["property"]) for i in dep["inputs"]]
    states = [(s["id"], s["property"]) for s in dep.get("state") or []]
    bodies = []
    for binding in _bindings(inputs + outputs + states, state):
        resolved = [[_resolve(c, p, state, binding, with_value) for c, p in group]
                    for group, with_value in ((outputs, False), (inputs, True), (states, True))]  # fmt: skip
        if any(entry is None for entry in itertools.chain(*resolved)):
            continue
        outs, ins, sts = resolved
        triggered = _triggered(ins, changed) if changed is not None else []
        if changed is not None and not triggered:
            continue
        body = {"output": dep["output"], "outputs": outs if is_multi(dep) else outs[0], "inputs": ins,
                "changedPropIds": triggered,
                "parsedChangedPropsIds": [parse_id(split_spec(t)[0]) if t.startswith("{") else t
                                          for t in triggered]}  # fmt: skip
        if sts:
            body["state"] = sts
        bodies.append(body)
    return bodies


def _triggered(inputs: list, changed: list[Trigger]) -> list[str]:
    wanted = {(t.key, t.prop) for t in changed}
    found = []
    for entry in itertools.chain.from_iterable(e if isinstance(e, list) else [e] for e in inputs):
        if (stringify_id(entry["id"]), entry["property"]) in wanted:
            found.append(f"{stringify_id(entry['id'], browser=True)}.{entry['property']}")
    return found


def inputs_of(dep: dict, state: PageState) -> list[Trigger]:
    """The concrete inputs of ``dep`` present on the page."""
    triggers = []
    for item in dep["inputs"]:
        pattern = parse_id(item["id"])
        if isinstance(pattern, dict) and any(_wild(v) for v in pattern.values()):
            keys = [k for k, c in state.components.items() if _matches(pattern, c.id, {})]
        else:
            keys = [stringify_id(pattern)] if stringify_id(pattern) in state.components else []
        triggers.extend(Trigger(k, item["property"]) for k in keys)
    return triggers
