"""Block Kit's documented limits, checked the way Slack checks them before accepting a payload.

Used by the fake Slack (which refuses what Slack would refuse, answering `invalid_blocks`) and by
the test that runs every view builder with the largest realistic inputs. Limits are Slack's
published ones (api.slack.com/reference/block-kit): text lengths per element, counts, unique ids,
no empty text objects, plain text where Slack requires it.
"""

from __future__ import annotations

from typing import Any

MESSAGE_BLOCKS, VIEW_BLOCKS = 50, 100
FALLBACK_TEXT = 40_000

# (element type, field) -> (max length, must be plain_text)
_TEXT_FIELDS: dict[tuple[str, str], tuple[int, bool]] = {
    ("section", "text"): (3000, False),
    ("header", "text"): (150, True),
    ("input", "label"): (2000, True),
    ("input", "hint"): (2000, True),
    ("button", "text"): (75, True),
    ("option", "text"): (75, False),
    ("option", "description"): (75, True),
    ("option_group", "label"): (75, True),
    ("modal", "title"): (24, True),
    ("modal", "submit"): (24, True),
    ("modal", "close"): (24, True),
    ("confirm", "title"): (100, True),
    ("confirm", "text"): (300, False),
    ("confirm", "confirm"): (30, True),
    ("confirm", "deny"): (30, True),
    ("placeholder", "placeholder"): (150, True),
}
_ELEMENT_COUNTS = {"actions": 25, "context": 10}
_OPTION_LIMITS = {
    "static_select": 100,
    "multi_static_select": 100,
    "checkboxes": 10,
    "radio_buttons": 10,
    "overflow": 5,
}


class Problems(list):
    def add(self, path: str, problem: str) -> None:
        self.append(f"{path}: {problem}")


def _text(obj: Any, path: str, limit: int, plain: bool, problems: Problems) -> None:
    if not isinstance(obj, dict) or obj.get("type") not in {"plain_text", "mrkdwn"}:
        problems.add(path, "is not a text object")
        return
    if plain and obj["type"] != "plain_text":
        problems.add(path, "must be plain_text")
    text = obj.get("text")
    if not isinstance(text, str) or not text.strip():
        problems.add(path, "empty text")
    elif len(text) > limit:
        problems.add(path, f"{len(text)} characters, over {limit}")


def _element(el: dict[str, Any], path: str, problems: Problems, action_ids: set[str]) -> None:
    kind = el.get("type", "")
    action_id = el.get("action_id")
    if action_id is not None:
        if not isinstance(action_id, str) or not 0 < len(action_id) <= 255:
            problems.add(path, "bad action_id")
        elif action_id in action_ids:
            problems.add(path, f"duplicate action_id {action_id}")
        else:
            action_ids.add(action_id)
    if kind == "button":
        _text(el.get("text"), f"{path}.text", 75, True, problems)
        if len(str(el.get("value", ""))) > 2000:
            problems.add(path, "button value over 2000")
        if len(str(el.get("url", ""))) > 3000:
            problems.add(path, "button url over 3000")
        if el.get("style") not in {None, "primary", "danger"}:
            problems.add(path, "bad style")
    if "placeholder" in el:
        _text(el["placeholder"], f"{path}.placeholder", 150, True, problems)
    if "confirm" in el:
        confirm = el["confirm"]
        for name in ("title", "text", "confirm", "deny"):
            if name in confirm:
                limit, plain = _TEXT_FIELDS[("confirm", name)]
                _text(confirm[name], f"{path}.confirm.{name}", limit, plain, problems)
    options = el.get("options")
    if options is not None:
        limit = _OPTION_LIMITS.get(kind, 100)
        if not options:
            problems.add(path, "no options")
        if len(options) > limit:
            problems.add(path, f"{len(options)} options, over {limit}")
        values = [o.get("value") for o in options]
        if len(values) != len(set(values)):
            problems.add(path, "duplicate option values")
        for i, option in enumerate(options):
            _text(
                option.get("text"),
                f"{path}.options[{i}].text",
                75,
                kind != "checkboxes" and kind != "radio_buttons",
                problems,
            )
            if not isinstance(option.get("value"), str) or not 0 < len(option["value"]) <= 150:
                problems.add(f"{path}.options[{i}]", "option value empty or over 150")
    if kind == "plain_text_input":
        if int(el.get("max_length") or 0) > 3000:
            problems.add(path, "max_length over 3000")
        if len(str(el.get("initial_value") or "")) > 3000:
            problems.add(path, "initial_value over 3000")


def _block(block: dict[str, Any], path: str, problems: Problems, block_ids: set[str]) -> None:
    kind = block.get("type")
    block_id = block.get("block_id")
    if block_id is not None:
        if not isinstance(block_id, str) or not 0 < len(block_id) <= 255:
            problems.add(path, "bad block_id")
        elif block_id in block_ids:
            problems.add(path, f"duplicate block_id {block_id}")
        else:
            block_ids.add(block_id)
    action_ids: set[str] = set()
    if kind == "section":
        if "text" not in block and "fields" not in block:
            problems.add(path, "section without text or fields")
        if "text" in block:
            _text(block["text"], f"{path}.text", 3000, False, problems)
        fields = block.get("fields") or []
        if len(fields) > 10:
            problems.add(path, "over 10 fields")
        for i, f in enumerate(fields):
            _text(f, f"{path}.fields[{i}]", 2000, False, problems)
        if "accessory" in block:
            _element(block["accessory"], f"{path}.accessory", problems, action_ids)
    elif kind == "header":
        _text(block.get("text"), f"{path}.text", 150, True, problems)
    elif kind in {"actions", "context"}:
        elements = block.get("elements") or []
        if not elements:
            problems.add(path, f"{kind} without elements")
        if len(elements) > _ELEMENT_COUNTS[kind]:
            problems.add(path, f"{len(elements)} elements, over {_ELEMENT_COUNTS[kind]}")
        for i, el in enumerate(elements):
            if kind == "context":
                if el.get("type") in {"plain_text", "mrkdwn"}:
                    _text(el, f"{path}.elements[{i}]", 3000, False, problems)
            else:
                _element(el, f"{path}.elements[{i}]", problems, action_ids)
    elif kind == "input":
        _text(block.get("label"), f"{path}.label", 2000, True, problems)
        if "hint" in block:
            _text(block["hint"], f"{path}.hint", 2000, True, problems)
        if "element" not in block:
            problems.add(path, "input without element")
        else:
            _element(block["element"], f"{path}.element", problems, action_ids)
    elif kind not in {"divider", "image", "rich_text", "file", "video"}:
        problems.add(path, f"unknown block type {kind!r}")


def check_blocks(blocks: list[dict[str, Any]], *, limit: int) -> list[str]:
    problems = Problems()
    if not isinstance(blocks, list):
        return ["blocks: not a list"]
    if len(blocks) > limit:
        problems.add("blocks", f"{len(blocks)} blocks, over {limit}")
    block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        _block(block, f"blocks[{i}]", problems, block_ids)
    return list(problems)


def check_message(payload: dict[str, Any]) -> list[str]:
    """A chat.postMessage / chat.update / response_url / ack payload."""
    problems: list[str] = []
    text = payload.get("text")
    blocks = payload.get("blocks")
    if blocks is None and (not isinstance(text, str) or not text.strip()):
        problems.append("text: a message needs text or blocks")
    if text is not None and (not isinstance(text, str) or len(text) > FALLBACK_TEXT):
        problems.append("text: over the fallback limit")
    if blocks is not None:
        problems += check_blocks(blocks, limit=MESSAGE_BLOCKS)
    return problems


def check_view(view: dict[str, Any]) -> list[str]:
    """A modal or Home tab (views.open / update / push / publish)."""
    problems = Problems()
    kind = view.get("type")
    if kind not in {"modal", "home"}:
        problems.add("view", f"bad type {kind!r}")
    if kind == "modal":
        for name in ("title", "submit", "close"):
            if name in view:
                _text(view[name], f"view.{name}", 24, True, problems)
        if "title" not in view:
            problems.add("view", "modal without title")
        has_input = any(b.get("type") == "input" for b in view.get("blocks") or [])
        if has_input and "submit" not in view:
            problems.add("view", "inputs need a submit button")
    if len(str(view.get("private_metadata") or "")) > 3000:
        problems.add("view.private_metadata", "over 3000")
    if len(str(view.get("callback_id") or "")) > 255:
        problems.add("view.callback_id", "over 255")
    return list(problems) + check_blocks(view.get("blocks") or [], limit=VIEW_BLOCKS)
