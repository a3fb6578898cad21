"""`voicebot doctor`: read-only checks of a real installation before its first call."""

from bot.doctor.checks import Check, Status
from bot.doctor.config import load
from bot.doctor.run import DoctorReport, run_doctor
from bot.doctor.table import render

__all__ = ["Check", "DoctorReport", "Status", "load", "render", "run_doctor"]
