"""The run record the report reads: typed entries with stable layer keys, a JSON round trip that
checks every field, and a report from a record read back that is the live run's."""

from __future__ import annotations

import dataclasses
import json
import math
import re

import pytest

import retroprop as rp
from retroprop.report import build_verdict, report_record, report_run, write_report
from retroprop.run_record import (
    SCHEMA,
    VERSION,
    ActivationProbe,
    Cause,
    DiagnosisEntry,
    LayerProbe,
    Passed,
    ProbeEntry,
    RunRecord,
    RunRecordError,
    TreatmentEntry,
)
from tests.report.conftest import spiral_net
from tests.report.test_html import parse, text_of


def diagnosis(layer: str | None, label: str | None, step: int, problem: str = "dead_relu") -> DiagnosisEntry:
    return DiagnosisEntry(problem=problem, layer=layer, label=label, step=step, epoch=0, severity="warning",
                          evidence={"dead_share": 0.6},
                          explanation=f"60% of the units in {label} are silent.",
                          remedies=[("lower_lr", "lower the learning rate")], escalated_from=None,
                          caused_by=None)


def treatment(layer: str | None, step: int, problem: str = "dead_relu") -> TreatmentEntry:
    return TreatmentEntry(step=step, epoch=0, problem=problem, layer=layer, label=None, remedy="lower_lr",
                          description="lr 0.1 -> 0.01", applied=True, rolled_back_to=None, wasted_steps=0,
                          outcome="pending", measured=None)


def relu_probe(step: int, layer: str, label: str, fired: list[bool]) -> ProbeEntry:
    weighted = LayerProbe(layer="0", label="layer 1, Linear 2→4", grad_norm=0.5, grad_rms=0.1,
                          grad_mean_abs=0.08, weight_norm=2.0, size=8, fan_in=2, update_ratio=1e-3,
                          nonfinite_grad=0, nonfinite_weight=0)
    activation = ActivationProbe(layer=layer, label=label, kind="relu", mean=0.2, std=0.3, nonfinite=0,
                                 fired=fired, saturated_share=None, samples=32, after="0")
    return ProbeEntry(step=step, epoch=0, loss=1.0, replayed=False, grad_norm_total=0.5, layers=[weighted],
                      activations=[activation])


# -- the record of a real run and its JSON round trip -------------------------------------------
def test_record_of_a_repaired_run_round_trips(runs, tmp_path):
    run = runs.repaired
    record = RunRecord.from_run(run.history, run.doctor)
    assert (record.schema, record.version) == (SCHEMA, VERSION)
    assert len(record.probes) == len(run.doctor.recorder.records)
    assert [d.layer for d in record.diagnoses] == [d.layer for d in run.doctor.diagnoses]
    assert [d.label for d in record.diagnoses] == [d.layer_label for d in run.doctor.diagnoses]
    assert [t.remedy for t in record.treatments] == [t.remedy for t in run.doctor.treatments]
    assert record.logs["loss"] == tuple(run.history.history["loss"])
    assert record.step_loss == tuple(run.history.step_loss.tolist())
    assert record.config["doctor"]["repair"] is True and record.steps_per_epoch == run.history.params["steps"]
    # a treatment carries its layer's label, found by the layer's key
    for t in record.treatments:
        if t.layer is not None:
            assert t.label == next(d.label for d in record.diagnoses if d.layer == t.layer)
    applied = [t for t in record.treatments if t.applied]
    assert applied and applied[0].measured is not None and applied[0].measured.metric is not None
    probe = record.probes[0]
    assert isinstance(probe.layers[0].grad_norm, float) and all(isinstance(f, bool)
                                                                for f in probe.activations[0].fired)
    text = record.to_json()
    json.loads(text)  # valid JSON
    assert RunRecord.from_json(text) == record
    assert RunRecord.from_json(text).to_json() == text
    path = record.save(tmp_path / "run.json")
    assert RunRecord.load(path) == record


def test_non_finite_numbers_round_trip_as_valid_json():
    nan_loss = DiagnosisEntry(problem="non_finite", layer=None, label=None, step=1, epoch=1,
                              severity="critical", evidence={"loss": float("nan")}, explanation="NaN",
                              remedies=[], escalated_from=None, caused_by=None)
    record = RunRecord(logs={"loss": [2.0, math.nan], "val_loss": [1.0, math.inf]},
                       step_loss=[2.3, -math.inf], diagnoses=[nan_loss])
    text = record.to_json()
    assert "NaN" in text and '"Infinity"' in text and '"-Infinity"' in text
    json.loads(text, parse_constant=lambda name: pytest.fail(f"invalid JSON constant {name}"))
    back = RunRecord.from_json(text)
    assert back == record
    assert math.isnan(back.logs["loss"][1]) and back.logs["val_loss"][1] == math.inf
    assert back.diagnoses[0].evidence == {"loss": "NaN"}  # free-form values keep the text


# -- validation ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def saved(runs) -> dict:
    return RunRecord.from_run(runs.repaired.history, runs.repaired.doctor).to_dict()


def broken(data: dict, change) -> dict:
    copy = json.loads(json.dumps(data))
    change(copy)
    return copy


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d.update(version=VERSION + 1),
     rf"version {VERSION + 1} is not supported: this retroprop reads versions 1 and {VERSION}"),
    (lambda d: d.update(version=0), r"version 0 is not supported"),
    (lambda d: d.update(version=True), r"version True is not supported"),
    (lambda d: d.update(version=1), r"RunRecord: unknown field 'passed' in a version 1 record"),
    (lambda d: d["passed"].append(d["diagnoses"][0]), r"RunRecord.passed\[0\].passed: expected an entry"),
    (lambda d: d["diagnoses"][0].update(passed={"step": 5, "loss_then": 1.0, "loss_end": 0.5}),
     r"RunRecord.diagnoses\[0\].passed: expected null, got Passed"),
    (lambda d: d["diagnoses"][0].update(passed={"step": 5, "loss_then": 1.0}),
     r"RunRecord.diagnoses\[0\].passed: missing field 'loss_end'"),
    (lambda d: d.pop("version"), r"version None is not supported"),
    (lambda d: d.update(schema="something.else"), r"schema: expected 'retroprop.run_record'"),
    (lambda d: d.pop("probes"), r"RunRecord: missing field 'probes' \(a list\)"),
    (lambda d: d["diagnoses"][0].pop("layer"), r"RunRecord.diagnoses\[0\]: missing field 'layer'"),
    (lambda d: d["diagnoses"][0].update(step="5"),
     r"RunRecord.diagnoses\[0\].step: expected an integer, got str '5'"),
    (lambda d: d["diagnoses"][0].update(severity="fatal"),
     r"RunRecord.diagnoses\[0\].severity: expected \"warning\" or \"critical\", got str 'fatal'"),
    (lambda d: d["diagnoses"][0].update(where="layer 1"), r"RunRecord.diagnoses\[0\]: unknown field 'where'"),
    (lambda d: d["probes"][1]["layers"][0].update(grad_norm="big"),
     r"RunRecord.probes\[1\].layers\[0\].grad_norm: expected a number \(or \"NaN\""),
    (lambda d: d["probes"][0]["activations"][0].update(fired=[1, 0]),
     r"RunRecord.probes\[0\].activations\[0\].fired\[0\]: expected true or false"),
    (lambda d: d["treatments"][0].update(applied="yes"),
     r"RunRecord.treatments\[0\].applied: expected true or false"),
    (lambda d: d["logs"].update(loss=[1.0, None]), r"RunRecord.logs\['loss'\]\[1\]: expected a number"),
    (lambda d: d.update(step_loss="1, 2"), r"RunRecord.step_loss: expected a list, got str"),
])
def test_a_record_that_does_not_fit_names_the_field(saved, change, message):
    with pytest.raises(RunRecordError, match=message):
        RunRecord.from_dict(broken(saved, change))


def test_a_version_1_record_reads_with_nothing_passed(saved):
    old = broken(saved, lambda d: d.pop("passed"))
    old["version"] = 1
    for entry in old["diagnoses"]:
        entry.pop("passed")
    record = RunRecord.from_dict(old)
    assert record.version == VERSION and record.passed == ()
    assert [d.problem for d in record.diagnoses] == [d["problem"] for d in saved["diagnoses"]]
    assert all(d.passed is None for d in record.diagnoses)
    old["diagnoses"][0]["passed"] = None  # version 1 had no such field, not even empty
    with pytest.raises(RunRecordError, match=r"RunRecord.diagnoses\[0\]: unknown field 'passed'"):
        RunRecord.from_dict(old)


def test_a_passed_diagnosis_round_trips():
    entry = dataclasses.replace(diagnosis(None, None, 40, problem="slow_convergence"),
                                passed=Passed(step=499, loss_then=0.69, loss_end=0.05))
    record = RunRecord(passed=[entry])
    back = RunRecord.from_json(record.to_json())
    assert back == record and back.passed[0].passed == Passed(step=499, loss_then=0.69, loss_end=0.05)
    with pytest.raises(RunRecordError, match=r"RunRecord.diagnoses\[0\].passed: expected null"):
        RunRecord(diagnoses=[entry])


def test_bad_files_are_refused_with_a_clear_error(tmp_path):
    assert issubclass(RunRecordError, ValueError)
    pickled = tmp_path / "run.pkl"
    pickled.write_bytes(b"\x80\x04\x95\x00")  # a pickle is never unpickled: it is not JSON
    with pytest.raises(RunRecordError, match=r"run.pkl: run record: not valid JSON"):
        RunRecord.load(pickled)
    with pytest.raises(RunRecordError, match=r"not valid JSON: NaN"):  # Python's NaN token is not JSON
        RunRecord.from_json('{"schema": "retroprop.run_record", "version": 1, "wall_time": NaN}')
    with pytest.raises(RunRecordError, match=r"the record: expected a dict, got list"):
        RunRecord.from_json("[]")
    with pytest.raises(RunRecordError, match=r"DiagnosisEntry.step: expected an integer"):
        diagnosis("2", "x", step=1.5)


# -- stable layer keys --------------------------------------------------------------------------
def test_entries_about_one_layer_meet_by_its_key_whatever_their_labels(tmp_path):
    # the doctor named the layer one way, the probe another; a second diagnosis of the same layer
    # after a relabelling; and a diagnosis of the same problem in another layer, later
    first = diagnosis("2", "relu after layer 1, Linear 2→4", step=10)
    again = diagnosis("2", "relu after layer 2, Linear 2→4", step=40)
    other = diagnosis("4", "relu after layer 3, Linear 4→4", step=50)
    probe = relu_probe(8, "2", "ReLU #1 (as the probe saw it)", [True, False, False, False])
    follows = DiagnosisEntry(problem="slow_convergence", layer=None, label=None, step=70, epoch=1,
                             severity="warning", evidence={}, explanation="the loss is flat.",
                             remedies=[("higher_lr", "raise the learning rate")], escalated_from=None,
                             caused_by=Cause(problem="dead_relu", layer="2", label=again.label, step=40))
    record = RunRecord(probes=[probe], diagnoses=[first, again, other, follows],
                       treatments=[treatment("2", 60)])
    assert RunRecord.from_json(record.to_json()) == record
    verdict = build_verdict(record.diagnoses, record.treatments, record)[:3]
    assert [f.layer for f in verdict] == ["2", "2", "4"]
    assert verdict[0].reading == (8, probe.activations[0])  # the probe of layer "2" before the diagnosis
    assert verdict[2].reading is None  # no probe saw layer "4"
    # the treatment of layer "2" is filed under layer "2"'s latest diagnosis, not the later one of "4"
    assert [len(f.treatments) for f in verdict] == [0, 1, 0]
    assert verdict[1].treatments[0].entry.layer == "2"
    _, parser = parse(write_report(tmp_path / "r.html", title="keys", verdict=[*verdict, follows],
                                   history=record))
    text = text_of(parser)
    # two layers, not three: the two labels of layer "2" are one place, named by its latest label
    assert "dead_relu in 2 layers: relu after layer 2, Linear 2→4; relu after layer 3, Linear 4→4" in text
    assert ("ReLU #1 (as the probe saw it) at step 9: relu output mean 0.2, std 0.3, 75% of units silent"
            in text)
    assert "follows from dead_relu in relu after layer 2, Linear 2→4 (step 41): treat that first" in text


def test_the_verdict_of_a_real_run_names_each_layer_by_its_label(tmp_path):
    model = spiral_net(bias=-3.0)  # ReLU layers silenced from the start
    x, y = rp.data.spiral(200, seed=0)
    history = rp.fit(model, x, y, loss="cross_entropy", optimizer=rp.optim.SGD(model.parameters(), lr=0.1),
                     epochs=6, batch_size=16, verbose=0, seed=0, doctor=True)
    assert history.diagnoses
    record = RunRecord.from_json(RunRecord.from_run(history).to_json())
    verdict = build_verdict(record.diagnoses, record.treatments, record)
    named = {(f.layer, f.label) for f in verdict if f.layer is not None}
    assert named and named == {(d.layer, d.layer_label) for d in history.diagnoses if d.layer is not None}
    modules = dict(model.named_modules())
    assert all(layer in modules for layer, _ in named)  # the key is the module's dotted name
    _, parser = parse(write_report(tmp_path / "r.html", title="dead", verdict=verdict, history=record))
    for _, label in named:
        assert label in text_of(parser)


# -- the report reads the record alone ------------------------------------------------------------
def _without_footer(page: str) -> str:
    return re.sub(r"<footer>.*?</footer>", "", page)


def test_the_report_of_a_record_read_back_is_the_live_runs(runs, tmp_path):
    pytest.importorskip("matplotlib")
    run = runs.repaired
    live = report_run(tmp_path / "live.html", run.history, run.doctor, title="spiral")
    saved = RunRecord.from_run(run.history, run.doctor, title="spiral").save(tmp_path / "run.json")
    again = report_record(tmp_path / "again.html", RunRecord.load(saved))
    live_page, again_page = live.read_text(encoding="utf-8"), again.read_text(encoding="utf-8")
    assert _without_footer(live_page) == _without_footer(again_page)
    _, parser = parse(again)
    assert len(parser.images) == 3  # curves, gradient flow, dead units (no model: no activations)
    for d in run.doctor.diagnoses:  # a layer's label, or the whole model's (the run's end, short)
        assert (d.layer_label or "the whole model") in text_of(parser)
