"""Episodes: the rules' findings turned into diagnoses, each problem said once per episode, as one story.

A finding of a problem seen again within ``EPISODE_GAP`` checks of its family (setup, probe, update,
loss, epoch, stop) is the same episode: said again only when its severity rises (``escalated_from``).
A problem found while one of its causes (``diagnosis.CONSEQUENCES``) is diagnosed in the same recipe is
that cause's consequence (``caused_by``); a cause whose consequence is critical is escalated to critical.
A recipe is what runs between two treatments: ``restart`` begins a new one.
"""

from __future__ import annotations

from typing import Any

from retroprop.doctor.diagnosis import (
    CASE_REMEDIES,
    CAUSAL_ORDER,
    OUTPUT_CASE_REMEDY,
    REMEDIES,
    TREATMENT_ORDER,
    Diagnosis,
    consequences_of,
)
from retroprop.doctor.rules import Finding

__all__ = ["EPISODE_GAP", "SEVERITY_RANK", "Episodes"]

# a problem that was not seen on this many consecutive checks has ended; seen again, it is a new episode
EPISODE_GAP = 2
# an episode is reported again when its severity rises
SEVERITY_RANK = {"warning": 0, "critical": 1}
FAMILIES = ("setup", "probe", "update", "loss", "epoch", "stop")
_RANK = {problem: rank for rank, problem in enumerate(CAUSAL_ORDER)}  # causes first


def remedies_for(finding: Finding) -> list[tuple[str, str]]:
    """The remedies in the order to try them: the problem's; the one that fits the way of mismatching
    for ``loss_output_mismatch``; lowering the learning rate first when the evidence blames the rate,
    He initialization first when it blames the initial weights."""
    order = list(TREATMENT_ORDER[finding.problem])
    if finding.problem == "loss_output_mismatch":
        fits = OUTPUT_CASE_REMEDY.get(finding.evidence.get("case"), "fix_output_loss")
        order = [fits] if isinstance(fits, str) else list(fits)
    elif (finding.problem, finding.evidence.get("case")) in CASE_REMEDIES:
        order = list(CASE_REMEDIES[finding.problem, finding.evidence["case"]])
    first = {"learning_rate": "lower_lr", "initialization": "he_init"}.get(finding.evidence.get("cause"))
    if first in order:
        order.remove(first)
        order.insert(0, first)
    return [(remedy, REMEDIES[remedy]) for remedy in order]


def _origin(diagnosis: Diagnosis) -> tuple[str, str | None, int]:
    """The episode a diagnosis belongs to: its problem, its layer and the step it was first said at."""
    first = diagnosis.step if diagnosis.escalated_from is None else diagnosis.escalated_from
    return diagnosis.problem, diagnosis.layer, first


class Episodes:
    """Every diagnosis of a run (``diagnoses``, in the order found) and the episodes they belong to."""

    def __init__(self) -> None:
        self.diagnoses: list[Diagnosis] = []
        self.passed: list[Diagnosis] = []  # diagnoses of episodes the run left by itself (``set_aside``)
        self.checks = dict.fromkeys(FAMILIES, 0)
        self.active: dict[tuple[str, str, str | None], int] = {}  # (family, problem, layer) -> last check
        self.latest: dict[tuple[str, str, str | None], Diagnosis] = {}  # key -> its latest diagnosis
        self.start = 0  # the current recipe's diagnoses start here

    def restart(self) -> None:
        """A new recipe (after a treatment): its episodes and causes start afresh."""
        self.active, self.latest = {}, {}
        self.start = len(self.diagnoses)

    @property
    def recipe(self) -> list[Diagnosis]:
        """The current recipe's diagnoses."""
        return self.diagnoses[self.start:]

    def report(self, findings: list[Finding], step: int, epoch: int, family: str,
               note: Any = None) -> list[Diagnosis]:
        """New diagnoses from one check of ``family``; ``note(problem)`` may add a sentence to a new
        diagnosis's explanation. Causes are said before their consequences; of two findings of one
        problem at one place, the graver."""
        self.checks[family] += 1
        checks = self.checks[family]
        new: list[Diagnosis] = []
        seen = set()
        findings = sorted(findings, key=lambda f: (_RANK.get(f.problem, len(_RANK)),
                                                   -SEVERITY_RANK[f.severity]))
        for finding in findings:
            key = (family, finding.problem, finding.layer)
            if key in seen:
                continue
            seen.add(key)
            last = self.active.get(key)
            earlier = None if last is None or checks - last > EPISODE_GAP else self.latest.get(key)
            explanation = finding.explanation
            if earlier is not None:
                if SEVERITY_RANK[finding.severity] <= SEVERITY_RANK[earlier.severity]:
                    self.active[key] = checks
                    continue  # the same episode, no worse than already said
                explanation += (f" It has grown worse since step {earlier.step + 1}, when it was diagnosed "
                                f"as a {earlier.severity}.")
            explanation += note(finding.problem) if note is not None else ""
            root = self.root_cause(finding.problem) if earlier is None else None
            diagnosis = Diagnosis(
                problem=finding.problem, layer=finding.layer, step=step, epoch=epoch,
                severity=finding.severity, evidence=finding.evidence,
                explanation=explanation, layer_label=finding.label,
                escalated_from=None if earlier is None else earlier.step,
                caused_by=None if root is None else {"problem": root.problem, "layer": root.layer,
                                                     "layer_label": root.layer_label, "step": root.step},
                remedies=remedies_for(finding),
            )
            if root is not None and diagnosis.severity == "critical" and not self.critical(root):
                new.append(self._escalate(root, diagnosis))
            adopted = self._adopt(diagnosis) if root is None and earlier is None else []
            self.diagnoses.append(diagnosis)
            new.append(diagnosis)
            graver = next((d for d in adopted if d.severity == "critical"), None)
            if graver is not None and diagnosis.severity != "critical":
                new.append(self._escalate(diagnosis, graver))
            self.latest[key] = diagnosis
            self.active[key] = checks
        return new

    def set_aside(self, shown: dict[tuple[str, str | None, int], dict[str, Any]], step: int) -> None:
        """Move this recipe's diagnoses of the episodes in ``shown`` (keyed by ``_origin``: problem, layer
        and first step; each with what showed that the run left it), escalations included, from
        ``diagnoses`` to ``passed``, the run having left them by itself by ``step``. A diagnosis that a
        remaining one names as its cause stays, so that the story keeps its root."""
        named = {(c["problem"], c["layer"], c["step"]) for d in self.diagnoses
                 if (c := d.caused_by) is not None and _origin(d) not in shown}
        moving = [d for d in self.recipe if _origin(d) in shown and _origin(d) not in named]
        for diagnosis in moving:
            diagnosis.passed = {"step": int(step), **shown[_origin(diagnosis)]}
            self.passed.append(diagnosis)
        self.diagnoses[:] = [d for d in self.diagnoses if all(d is not m for m in moving)]

    def unresolved(self) -> bool:
        """Whether a problem is in an episode that has not ended (not a state to roll back to)."""
        return any(self.checks[family] - last <= EPISODE_GAP for (family, *_), last in self.active.items())

    def ongoing(self, family: str, problem: str) -> set[str]:
        """The layers with an episode of ``problem`` in ``family`` that has not ended."""
        checks = self.checks[family]
        return {layer for (kind, name, layer), last in self.active.items()
                if kind == family and name == problem and layer and checks - last <= EPISODE_GAP}

    def root_cause(self, problem: str) -> Diagnosis | None:
        """The root cause of a new ``problem`` among this recipe's diagnoses: the earliest diagnosis of a
        problem that can cause it (``diagnosis.consequences_of``: its case's, else its problem's
        ``CONSEQUENCES``), followed to its own root; or None."""
        for earlier in self.recipe:
            if earlier.escalated_from is None and problem in consequences_of(earlier):
                return self.find(earlier.caused_by) or earlier
        return None

    def _adopt(self, cause: Diagnosis) -> list[Diagnosis]:
        """The recipe's diagnoses that ``cause`` (new, a root) explains although they were found first
        (a loss check may see a divergence a few steps before the probe that sees its cause): each
        gets ``cause`` as its ``caused_by``, so that the story puts the cause first."""
        explains = consequences_of(cause)
        rank = _RANK.get(cause.problem, len(_RANK))
        link = {"problem": cause.problem, "layer": cause.layer, "layer_label": cause.layer_label,
                "step": cause.step}
        adopted = [d for d in self.recipe if d.caused_by is None and d.problem in explains
                   and rank < _RANK.get(d.problem, len(_RANK))]
        for diagnosis in adopted:
            diagnosis.caused_by = dict(link)
        return adopted

    def find(self, cause: dict[str, Any] | None) -> Diagnosis | None:
        """The first diagnosis that ``cause`` (a ``caused_by`` record) names."""
        if cause is None:
            return None
        return next((d for d in self.diagnoses if d.escalated_from is None and (d.problem, d.layer, d.step)
                     == (cause["problem"], cause["layer"], cause["step"])), None)

    def critical(self, root: Diagnosis) -> bool:
        """Whether ``root``'s episode has been reported as critical (first or on escalation)."""
        return any(d.problem == root.problem and d.layer == root.layer and d.severity == "critical"
                   and (d is root or d.escalated_from == root.step) for d in self.diagnoses)

    def _escalate(self, root: Diagnosis, consequence: Diagnosis) -> Diagnosis:
        """``root`` again, now critical: it caused a critical ``consequence`` (the first critical
        diagnosis of a run is its cause, not a symptom further down the chain)."""
        escalated = Diagnosis(
            problem=root.problem, layer=root.layer, step=consequence.step, epoch=consequence.epoch,
            severity="critical", evidence={**root.evidence, "critical_consequence": consequence.problem},
            explanation=(f"{root.explanation} It is critical now: it has caused {consequence.problem} "
                         f"({consequence.layer_label or 'the whole model'}), which is critical."),
            layer_label=root.layer_label, remedies=list(root.remedies), escalated_from=root.step)
        self.diagnoses.append(escalated)
        return escalated

    def causal_order(self) -> list[tuple[Diagnosis, int]]:
        """The diagnoses as one story: each root cause in the order found, then its escalations, then
        what it caused, as ``(diagnosis, depth)`` pairs (depth 1 for a consequence)."""
        def names(d: Diagnosis, root: Diagnosis, link: dict[str, Any] | None) -> bool:
            return link is not None and (link["problem"], link["layer"], link["step"]) == (
                root.problem, root.layer, root.step) and d is not root

        ordered: list[tuple[Diagnosis, int]] = []
        for root in self.diagnoses:
            if root.caused_by is not None or (root.escalated_from is not None and any(
                    d.escalated_from is None and (d.problem, d.layer, d.step)
                    == (root.problem, root.layer, root.escalated_from) for d in self.diagnoses)):
                continue  # listed under its root
            ordered.append((root, 0))
            ordered += [(d, 0) for d in self.diagnoses if d.caused_by is None and d.escalated_from is not None
                        and root.escalated_from is None and (d.problem, d.layer, d.escalated_from)
                        == (root.problem, root.layer, root.step)]
            ordered += [(d, 1) for d in self.diagnoses if names(d, root, d.caused_by)]
        return ordered
