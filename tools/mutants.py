"""Break each safety rule on purpose and check that the tests guarding it fail (`make mutants`).

Each mutation below is hand-written: a rule, the way it is broken (one or more exact text
replacements, each found exactly once in the file or files it names, a path or a glob) and the
tests that must catch it. The repo is copied once to a temporary directory, where the guarding
tests must pass unmutated; then each mutation is applied to the copy, its tests are run there
with `python -m pytest` (so the copy's modules are imported, not the editable install's), and
the file is restored. A mutation whose tests all pass SURVIVED: the rule can break with the
suite green. Exit status 1 when any survived or could not be applied (its target text moved:
re-find it by the short text and the rule named in its comment).

    python tools/mutants.py            # every mutation
    python tools/mutants.py tick admin # those whose name contains a word
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COPIED = ("bot", "handlers", "tests", "pyproject.toml", "app_manifest.yaml", "Dockerfile")


@dataclass(frozen=True)
class Edit:
    file: str
    old: str
    new: str


@dataclass(frozen=True)
class Mutation:
    name: str
    rule: str
    edits: tuple[Edit, ...]
    tests: tuple[str, ...]


OBD = "bot/services/obd*"  # obd.py, or the bot/services/obd/ package after its split
OBD_SAFETY = "tests/adversarial/test_obd_safety.py"
OBD_SERVICE = "tests/bot/services/test_obd.py"
CAMPAIGNS = "tests/handlers/test_obd_campaigns.py"

MUTATIONS = (
    # Rule: a paused campaign sends nothing more. tick() resumes every paused campaign, not
    # only those the calling window paused.
    Mutation(
        "tick-resumes-every-pause",
        "a paused campaign sends nothing more",
        (
            Edit(
                OBD,
                'in await self.store.campaign_ids("paused", reason="window"):',
                'in await self.store.campaign_ids("paused"):',
            ),
            Edit(OBD, 'since=("paused",), only_reason="window"\n', 'since=("paused",)\n'),
        ),
        (
            f"{OBD_SERVICE}::test_a_paused_campaign_sends_nothing_however_it_is_woken",
            f"{OBD_SERVICE}::test_paused_by_a_person_while_the_window_was_closed_stays_paused_when_it_opens",
            f"{CAMPAIGNS}::test_pause_stops_within_one_chunk_survives_the_tick_and_resume_goes_on",
        ),
    ),
    # Rule: a paused campaign sends nothing more. The sender ignores the campaign's state.
    Mutation(
        "sender-ignores-pause",
        "a paused campaign sends nothing more",
        (
            Edit(
                OBD,
                'if await self.store.campaign_state(job_id) != "running":\n                return None',
                "if False:\n                return None",
            ),
        ),
        (
            f"{OBD_SERVICE}::test_a_paused_campaign_sends_nothing_however_it_is_woken",
            f"{CAMPAIGNS}::test_pause_stops_within_one_chunk_survives_the_tick_and_resume_goes_on",
        ),
    ),
    # Rule: only admins start broadcasts. The admin check is gone from the /obd form handler
    # AND from propose_form().
    Mutation(
        "obd-form-without-admin-check",
        "only admins start broadcasts",
        (
            Edit(
                "handlers/obd.py",
                "await self.obd.require_admin(user_id)\n            problems = form_problems",
                "problems = form_problems",
            ),
            Edit(
                OBD, "await self.require_admin(user_id)\n        if form.files:", "if form.files:"
            ),
        ),
        (
            f"{OBD_SAFETY}::test_a_non_admin_submitting_the_obd_form_is_refused_and_nothing_is_proposed",
            f"{OBD_SERVICE}::test_only_admins_propose_from_the_form",
        ),
    ),
    # Rule: only admins start broadcasts. The check is gone from propose_form() only (the
    # service is the rule; the handler's check only answers sooner).
    Mutation(
        "propose-form-without-admin-check",
        "only admins start broadcasts",
        (Edit(OBD, "await self.require_admin(user_id)\n        if form.files:", "if form.files:"),),
        (f"{OBD_SERVICE}::test_only_admins_propose_from_the_form",),
    ),
    # Rule: only admins start broadcasts. The check is gone from the Start click.
    Mutation(
        "start-without-admin-check",
        "only admins start broadcasts",
        (
            Edit(
                OBD,
                "await self.require_admin(user_id)\n        # The plan is read",
                "# The plan is read",
            ),
        ),
        (f"{OBD_SAFETY}::test_an_admin_who_lost_the_role_cannot_start_their_old_confirmation",),
    ),
    # Rule: a reminder is sent once across restarts. The follow-up is not marked as reminded.
    Mutation(
        "reminder-not-marked-sent",
        "a reminder is sent once across restarts",
        (
            Edit(
                "bot/services/reminders.py",
                'await self.store.set_reminder_state(item.id, "sent")\n        return 1',
                "return 1",
            ),
        ),
        ("tests/bot/test_scheduler.py::TestReminders::test_reminder_goes_to_the_follower_once",),
    ),
    # Rule: a reminder is sent once across restarts. No claim in the sent log before the DM.
    Mutation(
        "reminder-not-claimed",
        "a reminder is sent once across restarts",
        (
            Edit(
                "bot/services/reminders.py",
                'if not await self.store.claim(key, "reminder"',
                'if False and not await self.store.claim(key, "reminder"',
            ),
        ),
        (
            "tests/bot/test_scheduler.py::TestReminders::test_a_crash_after_the_reminder_dm_sends_no_second_one",
        ),
    ),
    # Rule: a double click dials once. The click guard is off (every press is a first one).
    Mutation(
        "click-guard-off",
        "a double click dials once",
        (
            Edit(
                "bot/services/c2c.py",
                "if not self._clicks.first_time(key):\n            return False",
                "if False:\n            return False",
            ),
            Edit(
                "bot/services/c2c.py",
                'return await self.store.first_time("click:"',
                'return True or await self.store.first_time("click:"',
            ),
        ),
        (
            "tests/adversarial/test_c2c_safety.py::test_a_double_clicked_call_now_places_one_call_and_a_second_within_60_s_asks_first",
            "tests/adversarial/test_c2c_safety.py::test_call_now_in_the_app_home_is_guarded_too",
            "tests/adversarial/test_c2c_safety.py::test_the_shortcut_call_button_double_clicked_dials_once",
        ),
    ),
    # Rule: Start clicked twice sends once. Neither the service's pre-check nor the SQL claim
    # (UPDATE ... WHERE state = 'pending') stops the second Start.
    Mutation(
        "double-start-unclaimed",
        "Start clicked twice sends once",
        (
            Edit(OBD, ' or campaign.state != "pending":', ":"),
            Edit(
                "bot/store/campaigns.py",
                " AND user_id = ? AND state = 'pending'\",",
                ' AND user_id = ?",',
            ),
        ),
        (
            f"{OBD_SERVICE}::test_start_twice_starts_once_and_the_second_is_a_no_op",
            f"{OBD_SAFETY}::test_start_clicked_twice_at_the_same_moment_sends_once",
        ),
    ),
    # Rule: Start clicked twice sends once. The SQL claim alone is gone.
    Mutation(
        "start-sql-claim-gone",
        "Start clicked twice sends once",
        (
            Edit(
                "bot/store/campaigns.py",
                " AND user_id = ? AND state = 'pending'\",",
                ' AND user_id = ?",',
            ),
        ),
        (f"{OBD_SERVICE}::test_a_campaign_is_started_once",),
    ),
    # Rule: text the grammar cannot read gets its usage message, never the internal-error
    # sentence. The grammar raises RuntimeError instead of UsageError.
    Mutation(
        "obd-status-grammar-crashes",
        "odd text gets a usage message",
        (
            Edit(
                "bot/grammar/obd.py",
                'raise UsageError(\n                "Use `/obd status #12`',
                'raise RuntimeError(\n                "Use `/obd status #12`',
            ),
        ),
        (
            f"{OBD_SAFETY}::test_odd_status_and_list_text_gets_a_usage_message",
            "tests/adversarial/test_properties.py::test_grammar_never_raises_anything_but_usage_error",
        ),
    ),
    Mutation(
        "obd-play-grammar-crashes",
        "odd text gets a usage message",
        (
            Edit(
                "bot/grammar/obd.py",
                'raise UsageError("Give the numbers to call before',
                'raise RuntimeError("Give the numbers to call before',
            ),
        ),
        (
            "tests/adversarial/test_hostile_input.py::test_empty_arguments",
            "tests/adversarial/test_properties.py::test_grammar_never_raises_anything_but_usage_error",
        ),
    ),
    Mutation(
        "number-list-grammar-crashes",
        "odd text gets a usage message",
        (
            Edit(
                "bot/grammar/__init__.py",
                'raise UsageError(f"Give at least one of the {what}',
                'raise RuntimeError(f"Give at least one of the {what}',
            ),
        ),
        (
            "tests/adversarial/test_hostile_input.py::test_empty_arguments",
            "tests/adversarial/test_properties.py::test_grammar_never_raises_anything_but_usage_error",
        ),
    ),
    # Rule: only India numbers reach the legacy API (a foreign number is never cut to an Indian
    # one). The check is skipped.
    Mutation(
        "foreign-numbers-accepted",
        "only India numbers are called",
        (
            Edit(
                "bot/phones.py",
                "if not allow_foreign:\n        _refuse_foreign(",
                "if False:\n        _refuse_foreign(",
            ),
        ),
        (
            "tests/adversarial/test_edge.py::test_c2c_to_a_foreign_number_is_refused_by_name_and_nothing_is_dialled",
            f"{OBD_SAFETY}::test_a_foreign_number_is_refused_by_name_not_cut_to_an_indian_one",
        ),
    ),
    # Rule: a request that places calls is never sent again after a timeout (it may have gone
    # out). Call-placing requests get the read retries.
    Mutation(
        "calls-retried-after-timeout",
        "a call is never re-sent after a timeout",
        (
            Edit(
                "bot/kaleyra/client.py",
                "if idempotent and not places_call else 0",
                "if idempotent or places_call else 0",
            ),
        ),
        (
            "tests/bot/kaleyra/test_retry_policy.py::test_click_to_call_timeout_is_sent_once_and_unknown",
            "tests/bot/kaleyra/test_retry_policy.py::test_obd_chunk_that_times_out_is_unknown_and_not_resent",
            "tests/handlers/test_c2c.py::test_timeout_is_sent_once_and_shown_as_unknown",
        ),
    ),
    # Rule: an agent number rings first only once its owner proved it (the code was typed back).
    Mutation(
        "unproven-number-rings",
        "only a proven number rings first",
        (
            # The store answers "the proven number" for one process (its caches) and for
            # replicas (one statement): both lose the proof.
            Edit(
                "bot/store/verification.py",
                'if proof is None or proof.state != "verified" or proof.number != agent.number:',
                "if False:",
            ),
            Edit(
                "bot/store/verification.py",
                " AND v.number = a.number AND v.state = 'verified' WHERE a.user_id = ?\",",
                ' WHERE a.user_id = ?",',
            ),
        ),
        (
            "tests/adversarial/test_c2c_safety.py::test_an_unproven_number_bridges_nobody",
            "tests/bot/services/test_c2c.py::test_an_unverified_number_never_rings",
        ),
    ),
    # Rule: a request body is cut off at 1 MB. The cap is checked only once all of it was read.
    Mutation(
        "body-cap-after-reading-all",
        "a body is cut off at 1 MB",
        (
            Edit(
                "bot/server.py",
                "        if len(body) > limit:\n            raise BodyTooLarge\n    return",
                "    if len(body) > limit:\n        raise BodyTooLarge\n    return",
            ),
        ),
        (
            "tests/adversarial/test_edge.py::test_a_streamed_body_without_length_is_cut_off_at_one_megabyte",
        ),
    ),
)


def copy_repo(into: Path) -> Path:
    repo = into / "repo"
    repo.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", ".pytest_cache", ".hypothesis", "*.db")
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, repo / name, ignore=ignore)
        elif source.exists():
            shutil.copy2(source, repo / name)
    return repo


def imports_the_copy(repo: Path, env: dict[str, str]) -> bool:
    """The copy's `bot` is the one imported, not the editable install's."""
    where = subprocess.run(
        [sys.executable, "-c", "import bot; print(bot.__file__)"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return Path(where).resolve().is_relative_to(repo.resolve())


def sources(repo: Path, where: str) -> list[Path]:
    """The Python files `where` names: a file, or a glob (a package's files count too), so
    `bot/services/obd*` finds the text in obd.py today and in bot/services/obd/ after a split."""
    found: list[Path] = []
    for match in sorted(repo.glob(where)):
        found.extend(sorted(match.rglob("*.py")) if match.is_dir() else [match])
    return found


def apply(repo: Path, mutation: Mutation) -> dict[Path, str] | str:
    """The original text of every file touched, or why the mutation could not be applied."""
    originals: dict[Path, str] = {}

    def restore() -> None:
        for path, original in originals.items():
            path.write_text(original)

    for edit in mutation.edits:
        hits = [(path, path.read_text()) for path in sources(repo, edit.file)]
        hits = [(path, text) for path, text in hits if edit.old in text]
        found = sum(text.count(edit.old) for _, text in hits)
        if found != 1:
            restore()
            return f"{edit.file}: target found {found} times: {edit.old[:60]!r}"
        [(path, text)] = hits
        originals.setdefault(path, text)
        path.write_text(text.replace(edit.old, edit.new))
    return originals


def run_tests(repo: Path, tests: tuple[str, ...], env: dict[str, str]) -> dict[str, bool]:
    """Each guarding test (file::name) and whether it failed."""
    caught: dict[str, bool] = {}
    for test in tests:
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-x", "-n", "0", "-p", "no:cacheprovider", test],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
        )
        if result.returncode == 4 or "no tests ran" in result.stdout:  # the test was not found
            raise SystemExit(f"{test}: no such test\n{result.stdout[-2000:]}")
        caught[test] = result.returncode != 0
    return caught


def main(words: list[str]) -> int:
    chosen = [m for m in MUTATIONS if not words or any(w in m.name for w in words)]
    with tempfile.TemporaryDirectory(prefix="voicebot-mutants-") as tmp:
        repo = copy_repo(Path(tmp))
        env = {**os.environ, "PYTHONPATH": str(repo), "PYTHONDONTWRITEBYTECODE": "1"}
        if not imports_the_copy(repo, env):
            print("the copy's modules are not the ones imported: nothing checked")
            return 2
        guards = sorted({t for m in chosen for t in m.tests})
        baseline = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", *guards],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
        )
        if baseline.returncode != 0:  # a test failing unmutated proves nothing when it fails
            print("the guarding tests fail before any mutation:\n" + baseline.stdout[-3000:])
            return 2
        survived: list[str] = []
        for mutation in chosen:
            began = time.perf_counter()
            applied = apply(repo, mutation)
            if isinstance(applied, str):
                print(f"NOT APPLIED {mutation.name} ({mutation.rule}): {applied}")
                survived.append(mutation.name)
                continue
            try:
                caught = run_tests(repo, mutation.tests, env)
            finally:
                for path, original in applied.items():
                    path.write_text(original)
            by = [t.rpartition("::")[2] for t, failed in caught.items() if failed]
            took = time.perf_counter() - began
            if by:
                print(
                    f"caught   {mutation.name} ({mutation.rule}) by {', '.join(by)} [{took:.0f} s]"
                )
            else:
                print(f"SURVIVED {mutation.name} ({mutation.rule}) [{took:.0f} s]")
                survived.append(mutation.name)
        print(f"{len(chosen) - len(survived)} of {len(chosen)} mutations caught")
        if survived:
            print("survived or not applied: " + ", ".join(survived))
        return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
