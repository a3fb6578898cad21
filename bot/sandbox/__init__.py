"""The Kaleyra sandbox: a faithful, stateful stand-in for both Kaleyra APIs."""

from bot.sandbox.app import LEGACY_ERRORS, Sandbox, create_sandbox
from bot.sandbox.state import Fault, SandboxState

__all__ = ["LEGACY_ERRORS", "Fault", "Sandbox", "SandboxState", "create_sandbox"]
