"""What changed in an initiative between two of its versions, for an auditor: both states are
replayed from the events, laid out as labelled facts, and compared fact by fact."""

from __future__ import annotations

from dataclasses import dataclass

from domain.initiative import PHASE_NAMES, Initiative

CHARTER = (("title", "Title"), ("problem", "Problem"), ("aim", "Aim"), ("status", "Status"),
           ("conclusion_note", "Conclusion note"))
CYCLE = (("phase", "Phase"), ("value_id", "Mission value"), ("objective", "Objective"),
         ("questions", "Questions"), ("prediction", "Prediction"), ("measure", "Measure"),
         ("measure_id", "Linked measure"), ("intervention", "Change idea"),
         ("training_step", "Training step"), ("logistics", "Who, where, when"),
         ("started_on", "Test began"), ("observations", "What happened"),
         ("data_collected", "Data collected"), ("studied_on", "Studied on"),
         ("result", "Result"), ("learning", "What was learned"), ("decision", "Decision"),
         ("rationale", "Rationale"))


@dataclass(frozen=True)
class Change:
    label: str
    before: str  # "" when the fact did not exist yet
    after: str  # "" when it no longer exists

    @property
    def kind(self) -> str:
        return "added" if not self.before else "removed" if not self.after else "changed"


def facts(initiative: Initiative, names: dict[str, str]) -> dict[str, str]:
    """The initiative as labelled facts, in reading order; empty facts are left out."""
    out: dict[str, str] = {}
    for attribute, label in CHARTER:
        out[label] = str(getattr(initiative, attribute, "") or "")
    out["Values served"] = ", ".join(names.get(v, v) for v in initiative.value_ids)
    for member in initiative.team:
        out[f"Team: {member.name}"] = f"{member.kind}, {member.role}"
    for cycle in initiative.cycles:
        for attribute, label in CYCLE:
            value = getattr(cycle, attribute, "")
            if attribute == "phase":
                value = PHASE_NAMES.get(value, value)
            elif attribute in ("value_id", "measure_id"):
                value = names.get(value, value) if value else ""
            out[f"Cycle {cycle.number} · {label}"] = "" if value is None else str(value)
    return {label: text for label, text in out.items() if text}


def changes(before: dict[str, str], after: dict[str, str]) -> list[Change]:
    """Every fact that differs, in the order of the later state (then facts since removed)."""
    found = [Change(label, before.get(label, ""), text) for label, text in after.items()
             if before.get(label, "") != text]
    found += [Change(label, text, "") for label, text in before.items() if label not in after]
    return found
