"""Block Kit's documented limits, checked the way Slack checks them before accepting a payload.

Used by the fake Slack (which refuses what Slack would refuse, answering `invalid_blocks`) and by
the test that runs every view builder with the largest realistic inputs. The limits are Slack's
published ones (docs.slack.dev/reference/block-kit: blocks, block elements, composition objects,
and the view and chat.postMessage references):

- text objects: `plain_text` or `mrkdwn`, 1 to 3000 characters, `emoji` only on plain text and
  `verbatim` only on mrkdwn; plain text where Slack requires it (headers, buttons, labels, hints,
  placeholders, modal titles, confirm dialogs, select options);
- per field: section text 3000, section fields 10 of 2000, header 150, input label and hint 2000,
  button text 75, value 2000, url 3000, option text and description 75, option value 150,
  placeholder 150, confirm title 100, text 300, buttons 30, modal title/submit/close 24;
- counts: 50 blocks a message, 100 a modal or Home tab, 25 elements an actions block, 10 a context
  block, 100 options a select (10 for checkboxes and radio buttons, 5 for an overflow menu);
- ids: block_id unique in the payload and action_id unique in its block, each 1 to 255 characters;
  view callback_id 255 and private_metadata 3000;
- no property Slack does not define (Slack answers "invalid additional property"), initial options
  that are among the options, text input lengths within 0..3000.

Conservative beyond the documents: an optional string given empty (a button's `value` or `url`) is
reported, since leaving it out is always accepted; text that is only whitespace counts as empty.
"""

from __future__ import annotations

import re
from typing import Any

MESSAGE_BLOCKS, VIEW_BLOCKS = 50, 100
FALLBACK_TEXT = 40_000
TEXT_MAX = 3000
ID_MAX = 255

_TEXT_KEYS = {"type", "text", "emoji", "verbatim"}
_BLOCK_KEYS: dict[str, set[str]] = {
    "section": {"type", "block_id", "text", "fields", "accessory", "expand"},
    "header": {"type", "block_id", "text"},
    "divider": {"type", "block_id"},
    "context": {"type", "block_id", "elements"},
    "actions": {"type", "block_id", "elements"},
    "input": {"type", "block_id", "label", "element", "dispatch_action", "hint", "optional"},
    "image": {"type", "block_id", "image_url", "slack_file", "alt_text", "title"},
}
_OTHER_BLOCKS = {"rich_text", "file", "video", "markdown"}  # checked for ids only
_SELECT_KEYS = {"type", "action_id", "confirm", "focus_on_load", "placeholder"}
_ELEMENT_KEYS: dict[str, set[str]] = {
    "button": {"type", "text", "action_id", "url", "value", "style", "confirm"}
    | {"accessibility_label"},
    "plain_text_input": {"type", "action_id", "initial_value", "multiline", "min_length"}
    | {"max_length", "dispatch_action_config", "focus_on_load", "placeholder"},
    "static_select": _SELECT_KEYS | {"options", "option_groups", "initial_option"},
    "multi_static_select": _SELECT_KEYS
    | {"options", "option_groups", "initial_options", "max_selected_items"},
    "checkboxes": {"type", "action_id", "options", "initial_options", "confirm", "focus_on_load"},
    "radio_buttons": {"type", "action_id", "options", "initial_option", "confirm"}
    | {"focus_on_load"},
    "overflow": {"type", "action_id", "options", "confirm"},
    "datepicker": _SELECT_KEYS | {"initial_date"},
    "timepicker": _SELECT_KEYS | {"initial_time", "timezone"},
    "datetimepicker": {"type", "action_id", "initial_date_time", "confirm", "focus_on_load"},
    "number_input": {"type", "action_id", "is_decimal_allowed", "initial_value", "min_value"}
    | {"max_value", "dispatch_action_config", "focus_on_load", "placeholder"},
    "file_input": {"type", "action_id", "filetypes", "max_files"},
    "image": {"type", "alt_text", "image_url", "slack_file"},
}
_OPTION_LIMITS = {
    "static_select": 100,
    "multi_static_select": 100,
    "checkboxes": 10,
    "radio_buttons": 10,
    "overflow": 5,
}
_MRKDWN_OPTIONS = {"checkboxes", "radio_buttons"}  # the others take plain_text options only
# Inputs a section may not hold as its accessory.
_INPUT_ONLY = {
    "plain_text_input",
    "number_input",
    "file_input",
    "email_text_input",
    "url_text_input",
}
_NOT_IN_INPUT = {"button", "overflow", "image", "workflow_button"}
_ELEMENT_COUNTS = {"actions": 25, "context": 10}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^\d{2}:\d{2}$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


class Problems(list):
    def add(self, path: str, problem: str) -> None:
        self.append(f"{path}: {problem}")


def _text(
    obj: Any, path: str, limit: int, plain: bool, problems: Problems, *, minimum: int = 1
) -> None:
    """A text object: its type, its length (1 to `limit`), and only the properties it has."""
    if not isinstance(obj, dict) or obj.get("type") not in {"plain_text", "mrkdwn"}:
        problems.add(path, "is not a text object")
        return
    if plain and obj["type"] != "plain_text":
        problems.add(path, "must be plain_text")
    if extra := set(obj) - _TEXT_KEYS:
        problems.add(path, f"invalid additional property {sorted(extra)}")
    if "emoji" in obj and obj["type"] != "plain_text":
        problems.add(path, "emoji is only for plain_text")
    if "verbatim" in obj and obj["type"] != "mrkdwn":
        problems.add(path, "verbatim is only for mrkdwn")
    text = obj.get("text")
    if not isinstance(text, str) or (minimum and not text.strip()):
        problems.add(path, "empty text")
    elif len(text) > min(limit, TEXT_MAX):
        problems.add(path, f"{len(text)} characters, over {min(limit, TEXT_MAX)}")


def _string(value: Any, path: str, limit: int, problems: Problems, *, what: str) -> None:
    """An optional string property: when present, 1 to `limit` characters."""
    if value is None:
        return
    if not isinstance(value, str) or not value:
        problems.add(path, f"{what} empty or not a string (leave it out instead)")
    elif len(value) > limit:
        problems.add(path, f"{what} {len(value)} characters, over {limit}")


def _keys(obj: dict[str, Any], allowed: set[str] | None, path: str, problems: Problems) -> None:
    if allowed is not None and (extra := set(obj) - allowed):
        problems.add(path, f"invalid additional property {sorted(extra)}")


def _confirm(confirm: Any, path: str, problems: Problems) -> None:
    if not isinstance(confirm, dict):
        problems.add(path, "confirm is not an object")
        return
    _keys(confirm, {"title", "text", "confirm", "deny", "style"}, path, problems)
    for name, limit in (("title", 100), ("text", 300), ("confirm", 30), ("deny", 30)):
        if name not in confirm:
            problems.add(path, f"confirm dialog without {name}")
        else:
            _text(confirm[name], f"{path}.{name}", limit, True, problems)
    if confirm.get("style") not in {None, "primary", "danger"}:
        problems.add(path, "bad confirm style")


def _options(el: dict[str, Any], kind: str, path: str, problems: Problems) -> list[dict[str, Any]]:
    """The options (or option groups) of a select, checkboxes, radio buttons or overflow menu."""
    options = el.get("options")
    groups = el.get("option_groups")
    limit = _OPTION_LIMITS.get(kind, 100)
    if options is not None and groups is not None:
        problems.add(path, "both options and option_groups")
    if groups is not None:
        if kind not in {"static_select", "multi_static_select"}:
            problems.add(path, "option_groups only belong to static selects")
        if not isinstance(groups, list) or not 0 < len(groups) <= 100:
            problems.add(path, "option_groups: 1 to 100 groups")
            return []
        every: list[dict[str, Any]] = []
        for i, group in enumerate(groups):
            gpath = f"{path}.option_groups[{i}]"
            _keys(group, {"label", "options"}, gpath, problems)
            _text(group.get("label"), f"{gpath}.label", 75, True, problems)
            every += _option_list(group.get("options"), kind, 100, gpath, problems)
        _unique_values(every, path, problems)
        return every
    if options is None:
        if kind in _OPTION_LIMITS:
            problems.add(path, "no options")
        return []
    listed = _option_list(options, kind, limit, path, problems)
    _unique_values(listed, path, problems)
    return listed


def _option_list(
    options: Any, kind: str, limit: int, path: str, problems: Problems
) -> list[dict[str, Any]]:
    if not isinstance(options, list) or not options:
        problems.add(path, "no options")
        return []
    if len(options) > limit:
        problems.add(path, f"{len(options)} options, over {limit}")
    for i, option in enumerate(options):
        opath = f"{path}.options[{i}]"
        if not isinstance(option, dict):
            problems.add(opath, "is not an option object")
            continue
        _keys(option, {"text", "value", "description", "url"}, opath, problems)
        plain = kind not in _MRKDWN_OPTIONS
        _text(option.get("text"), f"{opath}.text", 75, plain, problems)
        if "description" in option:
            _text(option["description"], f"{opath}.description", 75, plain, problems)
        value = option.get("value")
        if not isinstance(value, str) or not 0 < len(value) <= 150:
            problems.add(opath, "option value empty or over 150")
        if "url" in option:
            if kind != "overflow":
                problems.add(opath, "url is only for overflow menu options")
            _string(option["url"], opath, 3000, problems, what="url")
    return [o for o in options if isinstance(o, dict)]


def _unique_values(options: list[dict[str, Any]], path: str, problems: Problems) -> None:
    values = [o.get("value") for o in options]
    if len(values) != len(set(map(str, values))):
        problems.add(path, "duplicate option values")


def _initial(el: dict[str, Any], options: list[dict[str, Any]], path: str, problems: Problems):
    """initial_option(s) must exactly match options of the element."""
    chosen = []
    if "initial_option" in el:
        chosen = [el["initial_option"]]
    if "initial_options" in el:
        if not isinstance(el["initial_options"], list):
            problems.add(path, "initial_options is not a list")
            return
        chosen = el["initial_options"]
    for option in chosen:
        if option not in options:
            problems.add(path, "initial option is not one of the options")


def _element(el: Any, path: str, problems: Problems, action_ids: set[str], *, surface: str) -> None:
    if not isinstance(el, dict):
        problems.add(path, "is not an element")
        return
    kind = el.get("type", "")
    if not isinstance(kind, str) or not kind:
        problems.add(path, "element without type")
        return
    _keys(el, _ELEMENT_KEYS.get(kind), path, problems)
    action_id = el.get("action_id")
    if action_id is not None:
        if not isinstance(action_id, str) or not 0 < len(action_id) <= ID_MAX:
            problems.add(path, "bad action_id")
        elif action_id in action_ids:
            problems.add(path, f"duplicate action_id {action_id}")
        else:
            action_ids.add(action_id)
    if "placeholder" in el:
        _text(el["placeholder"], f"{path}.placeholder", 150, True, problems)
    if "confirm" in el:
        _confirm(el["confirm"], f"{path}.confirm", problems)
    if kind == "button":
        _text(el.get("text"), f"{path}.text", 75, True, problems)
        _string(el.get("value"), path, 2000, problems, what="button value")
        _string(el.get("url"), path, 3000, problems, what="button url")
        _string(el.get("accessibility_label"), path, 75, problems, what="accessibility_label")
        if el.get("style") not in {None, "primary", "danger"}:
            problems.add(path, "bad style")
    if kind in _OPTION_LIMITS or "options" in el or "option_groups" in el:
        options = _options(el, kind, path, problems)
        _initial(el, options, path, problems)
    if kind == "plain_text_input":
        _text_input(el, path, problems)
    elif kind == "number_input":
        _number_input(el, path, problems)
    elif kind == "datetimepicker" and "initial_date_time" in el:
        moment = el["initial_date_time"]
        if not isinstance(moment, int) or isinstance(moment, bool) or not 0 <= moment < 10**10:
            problems.add(path, "initial_date_time must be a UNIX time in seconds (10 digits)")
    elif kind == "datepicker" and "initial_date" in el:
        if not _DATE.match(str(el["initial_date"])):
            problems.add(path, "initial_date must be YYYY-MM-DD")
    elif kind == "timepicker" and "initial_time" in el:
        if not _TIME.match(str(el["initial_time"])):
            problems.add(path, "initial_time must be HH:mm")
    elif kind == "file_input":
        if surface != "modal":
            problems.add(path, "file_input works in modals only")
        files = el.get("max_files", 10)
        if not isinstance(files, int) or not 1 <= files <= 10:
            problems.add(path, "max_files: 1 to 10")
    elif kind == "image":
        _string(el.get("image_url"), path, 3000, problems, what="image_url")
        _string(el.get("alt_text"), path, 2000, problems, what="alt_text")
        if "alt_text" not in el:
            problems.add(path, "image without alt_text")


def _text_input(el: dict[str, Any], path: str, problems: Problems) -> None:
    low, high = el.get("min_length"), el.get("max_length")
    if low is not None and (not isinstance(low, int) or not 0 <= low <= 3000):
        problems.add(path, "min_length: 0 to 3000")
    if high is not None and (not isinstance(high, int) or not 1 <= high <= 3000):
        problems.add(path, "max_length: 1 to 3000")
    if isinstance(low, int) and isinstance(high, int) and low > high:
        problems.add(path, "min_length over max_length")
    initial = el.get("initial_value")
    if initial is not None:
        if not isinstance(initial, str):
            problems.add(path, "initial_value is not a string")
        elif len(initial) > (high if isinstance(high, int) else 3000):
            problems.add(path, "initial_value longer than the input accepts")


def _number_input(el: dict[str, Any], path: str, problems: Problems) -> None:
    if not isinstance(el.get("is_decimal_allowed"), bool):
        problems.add(path, "number_input needs is_decimal_allowed")
    for name in ("initial_value", "min_value", "max_value"):
        value = el.get(name)
        if value is not None and not (isinstance(value, str) and _NUMBER.match(value)):
            problems.add(path, f"{name} must be a number written as a string")
    low, high = (el.get(name) for name in ("min_value", "max_value"))
    numbers = [v for v in (low, high) if isinstance(v, str) and _NUMBER.match(v)]
    if len(numbers) == 2 and float(numbers[0]) > float(numbers[1]):
        problems.add(path, "min_value over max_value")


def _block(block: Any, path: str, problems: Problems, block_ids: set[str], *, surface: str) -> None:
    if not isinstance(block, dict):
        problems.add(path, "is not a block")
        return
    kind = block.get("type")
    block_id = block.get("block_id")
    if block_id is not None:
        if not isinstance(block_id, str) or not 0 < len(block_id) <= ID_MAX:
            problems.add(path, "bad block_id")
        elif block_id in block_ids:
            problems.add(path, f"duplicate block_id {block_id}")
        else:
            block_ids.add(block_id)
    if kind not in _BLOCK_KEYS and kind not in _OTHER_BLOCKS:
        problems.add(path, f"unknown block type {kind!r}")
        return
    _keys(block, _BLOCK_KEYS.get(kind), path, problems)
    action_ids: set[str] = set()
    if kind == "section":
        if "text" not in block and "fields" not in block:
            problems.add(path, "section without text or fields")
        if "text" in block:
            _text(block["text"], f"{path}.text", 3000, False, problems)
        fields = block.get("fields")
        if fields is not None:
            if not isinstance(fields, list) or not fields:
                problems.add(path, "fields empty or not a list")
                fields = []
            if len(fields) > 10:
                problems.add(path, f"{len(fields)} fields, over 10")
            for i, f in enumerate(fields):
                _text(f, f"{path}.fields[{i}]", 2000, False, problems)
        if "accessory" in block:
            accessory = block["accessory"]
            if isinstance(accessory, dict) and accessory.get("type") in _INPUT_ONLY:
                problems.add(path, f"{accessory['type']} cannot be a section accessory")
            _element(accessory, f"{path}.accessory", problems, action_ids, surface=surface)
    elif kind == "header":
        _text(block.get("text"), f"{path}.text", 150, True, problems)
    elif kind in {"actions", "context"}:
        elements = block.get("elements")
        if not isinstance(elements, list) or not elements:
            problems.add(path, f"{kind} without elements")
            elements = []
        if len(elements) > _ELEMENT_COUNTS[kind]:
            problems.add(path, f"{len(elements)} elements, over {_ELEMENT_COUNTS[kind]}")
        for i, el in enumerate(elements):
            epath = f"{path}.elements[{i}]"
            if kind == "context":
                if isinstance(el, dict) and el.get("type") == "image":
                    _element(el, epath, problems, action_ids, surface=surface)
                else:
                    _text(el, epath, 3000, False, problems)
            else:
                if isinstance(el, dict) and el.get("type") in {"file_input", "image"}:
                    problems.add(epath, f"{el['type']} cannot be in an actions block")
                _element(el, epath, problems, action_ids, surface=surface)
    elif kind == "input":
        _text(block.get("label"), f"{path}.label", 2000, True, problems)
        if "hint" in block:
            _text(block["hint"], f"{path}.hint", 2000, True, problems)
        for flag in ("optional", "dispatch_action"):
            if flag in block and not isinstance(block[flag], bool):
                problems.add(path, f"{flag} must be true or false")
        element = block.get("element")
        if not isinstance(element, dict):
            problems.add(path, "input without element")
        else:
            if element.get("type") in _NOT_IN_INPUT:
                problems.add(path, f"{element.get('type')} cannot be an input element")
            _element(element, f"{path}.element", problems, action_ids, surface=surface)
    elif kind == "image":
        if "image_url" not in block and "slack_file" not in block:
            problems.add(path, "image without image_url or slack_file")
        _string(block.get("image_url"), path, 3000, problems, what="image_url")
        _string(block.get("alt_text"), path, 2000, problems, what="alt_text")
        if "alt_text" not in block:
            problems.add(path, "image without alt_text")
        if "title" in block:
            _text(block["title"], f"{path}.title", 2000, True, problems)


def check_blocks(blocks: Any, *, limit: int, surface: str = "message") -> list[str]:
    """A blocks array: at most `limit` blocks, unique block ids, each block within its limits."""
    problems = Problems()
    if not isinstance(blocks, list):
        return ["blocks: not a list"]
    if len(blocks) > limit:
        problems.add("blocks", f"{len(blocks)} blocks, over {limit}")
    block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        _block(block, f"blocks[{i}]", problems, block_ids, surface=surface)
    return list(problems)


def check_message(payload: dict[str, Any]) -> list[str]:
    """A chat.postMessage / chat.update / response_url / ack payload."""
    problems: list[str] = []
    text = payload.get("text")
    blocks = payload.get("blocks")
    has_text = isinstance(text, str) and bool(text.strip())
    if not blocks and not has_text and not payload.get("attachments"):
        problems.append("text: a message needs text or blocks")
    if text is not None and (not isinstance(text, str) or len(text) > FALLBACK_TEXT):
        problems.append(f"text: not a string or over the {FALLBACK_TEXT} characters limit")
    if blocks is not None:
        problems += check_blocks(blocks, limit=MESSAGE_BLOCKS)
    return problems


def check_view(view: dict[str, Any]) -> list[str]:
    """A modal or Home tab (views.open / update / push / publish)."""
    problems = Problems()
    kind = view.get("type")
    if kind not in {"modal", "home"}:
        problems.add("view", f"bad type {kind!r}")
    blocks = view.get("blocks")
    if not isinstance(blocks, list):
        problems.add("view", "view without blocks")
        blocks = []
    if kind == "modal":
        for name in ("title", "submit", "close"):
            if name in view:
                _text(view[name], f"view.{name}", 24, True, problems)
        if "title" not in view:
            problems.add("view", "modal without title")
        has_input = any(isinstance(b, dict) and b.get("type") == "input" for b in blocks)
        if has_input and "submit" not in view:
            problems.add("view", "inputs need a submit button")
    for name, limit in (
        ("private_metadata", 3000),
        ("callback_id", ID_MAX),
        ("external_id", ID_MAX),
    ):
        value = view.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            problems.add(f"view.{name}", f"not a string or over {limit}")
    surface = "modal" if kind == "modal" else "home"
    return list(problems) + check_blocks(blocks, limit=VIEW_BLOCKS, surface=surface)
