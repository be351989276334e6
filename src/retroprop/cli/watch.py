"""``retroprop watch train.py [args...]``: an unmodified PyTorch training script, run with the doctor
attached to every optimizer it creates.

The script runs in this process as ``python train.py args...`` would run it (``runpy.run_path`` with
``__name__ == "__main__"``, ``sys.argv == [script, *args]``, its folder first on ``sys.path``). While it
runs, five things are patched, and restored afterwards:

* ``torch.optim.Optimizer.__init__``: every optimizer the script creates is registered.
* ``torch.optim.lr_scheduler.LRScheduler.__init__``: every learning-rate scheduler too
  (``retroprop.torch.schedulers``): a learning-rate remedy scales the rates it computes from, so that a
  ``LambdaLR`` (a warm-up) or ``OneCycleLR`` does not restore the old rate at its next step.
* a global module forward pre-hook (``register_module_forward_pre_hook``), only while some optimizer
  has no model yet: **the model** of an optimizer is the first module called whose parameters include
  all of the optimizer's (outer modules are called before the modules inside them, so this is the
  outermost such module of that forward pass); ``retroprop.torch.watch(model, optimizer)`` is attached
  then, before its forward runs, so the first step is probed. When no one module holds them all (an
  optimizer over an encoder and a decoder called one after the other), the outermost modules called
  that hold some of them are watched together, attached at the first backward pass; each of their
  forward passes up to the next backward counts as one pass of that model. (So is a model whose loop
  calls ``model.forward(x)``, which runs no hook of the model's own.) The first training batch has gone
  by then: it is read where it enters the first of those modules and handed to the doctor.
* ``torch.autograd.backward`` (which ``Tensor.backward`` calls): a 0-dim floating tensor with a
  ``grad_fn`` being back-propagated is **the loss**; every watch gets it (``Watch.observe``) for its
  next ``optimizer.step()``, so each optimizer's step is given the latest loss back-propagated before
  it. ``torch.amp.GradScaler.scale`` is wrapped too: ``scaler.scale(loss).backward()`` gives the loss
  before scaling. Limits: gradients computed with ``torch.autograd.grad`` give no loss (the loss
  rules then do not run); with gradient accumulation the last micro-batch's loss stands for the
  step's; with several optimizers, each takes the latest loss back-propagated before its step, which
  is its own in the usual loops (each loss's backward right before its optimizer's step).

* ``torch.utils.data.DataLoader.__iter__``: the loader a training loop iterates when the model's first
  training pass runs (with gradients, in training mode) is its training data; what it holds in memory
  (``retroprop.torch.data``: a ``TensorDataset``'s tensors, a dataset's ``targets``), its batch size and
  whether it shuffles go to the checks made before the first step. Once training has begun, a pass
  over another loader whose first batch the model takes in eval mode or without gradients is its
  validation data: that batch is checked against the training inputs' scale (``validation_mismatch``).

A pass over the training loader is an epoch: when the loop starts the next one (or the script ends)
after steps were taken, the epoch ends with the mean loss of its steps. The validation scores of a
script are not visible: the validation rules (overfitting, validation) do not run and the summary says
so. An optimizer that takes over the parameters of one
watched before ends that one's watch. At the end of the script (its last line, ``sys.exit``, an
exception or Ctrl-C) every watch is finished, the diagnoses are printed per model and the report is
written. Exit status: the script's own failure status when it failed (1 for an exception, 130 for
Ctrl-C, its ``sys.exit`` code); otherwise 3 when a problem was found, the doctor failed or nothing was
watched, 1 when an output went to a fallback file, 0 when healthy; 2 for a usage error.
"""

from __future__ import annotations

import argparse
import functools
import os
import runpy
import sys
import traceback
import weakref
from pathlib import Path
from typing import Any

import numpy as np

from retroprop import _json as finite_json
from retroprop.cli import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PROBLEM,
    RECORD_SUFFIXES,
    REPORT_SUFFIXES,
    Outputs,
    UserError,
)

# an optimizer none of whose parameters was in a module called over this many backward passes is given
# up on (a tensor optimized on its own): the global module hook, which costs a call per module call, goes
GIVE_UP_BACKWARDS = 100
# the latest modules with parameters the script called while an optimizer had no model yet: where the
# model of an optimizer built on other parameters is looked for when it is given up on
CALLED_KEPT = 64


class _Watched:
    """One optimizer the script created, and the doctor on its model once found."""

    def __init__(self, optimizer: Any, index: int) -> None:
        self.optimizer = optimizer
        self.index = index
        self.wanted = {id(p) for group in optimizer.param_groups for p in group["params"]}
        self.parts: list[Any] = []  # the outermost modules called so far that hold some of its parameters
        self.inside: set[int] = set()  # ids of those modules and every module inside them
        self.watch: Any = None
        self.model: Any = None
        self.together: Any = None  # the container when several parts are watched as one model
        self.owner: tuple[str, Any] | None = None  # the script's module that holds those parts, if named
        self.new_pass = True
        self.names: tuple[str | None, str | None] = (None, None)
        self.ended_by: int | None = None  # the index of the optimizer that took over its parameters
        self.unwatched: str | None = None  # why it is not watched, once given up on
        self.backwards = 0  # backward passes since it was created, while no module of it was called
        self.loader: Any = None  # a weak reference to its training loader, once found
        self.epochs = 0  # the passes over that loader ended so far
        self.epoch_start = 0  # the step the current pass began at
        self.validation_hook: Any = None  # armed by another loader's pass: reads one validation batch
        self.validation_read = False
        # the first training batch where it entered the first of its parts, when found by its parts (a
        # loop calling ``model.forward(x)``): the batch has gone by when the doctor attaches
        self.first_batch: Any = None
        self.batch_read = False

    @property
    def steps(self) -> int:
        recorder = self.watch.core.recorder if self.watch is not None else None
        return recorder.step if recorder is not None else 0


class Session:
    """The patches that attach the doctor to a script's optimizers, and what they found."""

    def __init__(self, script: Path, *, repair: bool = False, every: int | None = None) -> None:
        self.script = script
        self.repair, self.every = repair, every
        self.entries: list[_Watched] = []
        self.errors: list[str] = []  # the session's own failures: the script ran on without them
        self._hook: Any = None
        self._saved: list[tuple[Any, str, Any]] = []
        self._scaled: tuple[Any, Any] | None = None  # GradScaler.scale's latest (result, loss)
        self._loader: Any = None  # a weak reference to the DataLoader iterated last
        self._called: dict[int, Any] = {}  # id -> weak reference: modules called while one had no model

    # -- installing and removing the patches ---------------------------------------------------
    def install(self) -> None:
        import torch

        from retroprop.torch.schedulers import track as track_scheduler

        init, backward = torch.optim.Optimizer.__init__, torch.autograd.backward
        scale = torch.amp.GradScaler.scale
        loader_iter = torch.utils.data.DataLoader.__iter__
        scheduler_init = torch.optim.lr_scheduler.LRScheduler.__init__
        self._saved = [(torch.optim.Optimizer, "__init__", init), (torch.autograd, "backward", backward),
                       (torch.amp.GradScaler, "scale", scale),
                       (torch.utils.data.DataLoader, "__iter__", loader_iter),
                       (torch.optim.lr_scheduler.LRScheduler, "__init__", scheduler_init)]

        @functools.wraps(init)
        def optimizer_init(optimizer: Any, *args: Any, **kwargs: Any) -> None:
            init(optimizer, *args, **kwargs)
            self._guard("registering an optimizer", self._on_optimizer, optimizer)

        @functools.wraps(scheduler_init)
        def lr_scheduler_init(scheduler: Any, *args: Any, **kwargs: Any) -> None:
            scheduler_init(scheduler, *args, **kwargs)
            self._guard("registering a learning-rate scheduler", track_scheduler, scheduler)

        @functools.wraps(backward)
        def autograd_backward(tensors: Any, *args: Any, **kwargs: Any) -> Any:
            self._guard("reading the loss", self._on_backward, tensors)
            return backward(tensors, *args, **kwargs)

        @functools.wraps(scale)
        def scaler_scale(scaler: Any, outputs: Any) -> Any:
            scaled = scale(scaler, outputs)
            if isinstance(outputs, torch.Tensor):  # the loss as the script computed it, before scaling
                self._scaled = (scaled, outputs)
            return scaled

        @functools.wraps(loader_iter)
        def iterate_loader(loader: Any) -> Any:
            self._loader = weakref.ref(loader)  # the latest loader a loop started on
            self._guard("ending an epoch", self._on_loader, loader)
            return loader_iter(loader)

        torch.optim.Optimizer.__init__ = optimizer_init
        torch.optim.lr_scheduler.LRScheduler.__init__ = lr_scheduler_init
        torch.utils.data.DataLoader.__iter__ = iterate_loader
        torch.autograd.backward = autograd_backward
        torch.amp.GradScaler.scale = scaler_scale

    def uninstall(self) -> None:
        for owner, name, original in reversed(self._saved):
            setattr(owner, name, original)
        self._saved = []
        self._unhook()

    def finish(self) -> None:
        """Finish every watch (their hooks are removed), its last pass over its loader ended first."""
        for entry in self.entries:
            if entry.validation_hook is not None:
                entry.validation_hook.remove()
                entry.validation_hook = None
            if entry.watch is not None:
                self._guard("ending an epoch", self._end_epoch, entry)
                self._guard("finishing a watch", entry.watch.finish)

    def _on_loader(self, loader: Any) -> None:
        """A new pass over a watched model's training loader ends its previous pass: an epoch. A pass
        over another loader once training has begun may be validation: the model's next call, if it
        is in eval mode or without gradients, is read as a batch of the validation inputs."""
        for entry in self.entries:
            if entry.loader is not None and entry.loader() is loader:
                self._end_epoch(entry)
            elif (entry.watch is not None and entry.together is None and entry.steps > 0
                  and not entry.validation_read and entry.validation_hook is None):
                entry.validation_hook = entry.model.register_forward_pre_hook(functools.partial(
                    self._guard, "reading a validation batch", self._validation_batch, entry))

    def _validation_batch(self, entry: _Watched, module: Any, args: Any) -> None:
        import torch

        entry.validation_hook.remove()
        entry.validation_hook = None
        if torch.is_grad_enabled() and module.training:
            return  # a training pass: that loader was no validation data
        entry.validation_read = True
        if args and isinstance(args[0], torch.Tensor) and not entry.watch._finished:
            entry.watch.check_validation(args[0])

    @staticmethod
    def _end_epoch(entry: _Watched) -> None:
        """The epoch of the steps since the last one ended (none: nothing), with their mean loss."""
        watch = entry.watch
        if watch is None or entry.loader is None or watch._finished or entry.ended_by is not None:
            return
        steps = entry.steps
        if steps <= entry.epoch_start:
            return  # no step since: an evaluation pass over the training data, not a new epoch
        losses = watch.core.recorder.losses[entry.epoch_start:steps]
        losses = losses[np.isfinite(losses)]
        watch.end_epoch(entry.epochs, {"loss": float(losses.mean())} if losses.size else {})
        entry.epochs, entry.epoch_start = entry.epochs + 1, steps

    def _guard(self, what: str, function: Any, *args: Any) -> Any:
        """A failure of the session never ends the script: it is recorded and said once."""
        try:
            return function(*args)
        except Exception as err:
            message = f"{what}: {err!r}"
            if message not in self.errors:
                self.errors.append(message)
                print(f"retroprop watch: internal error while {message}; the script goes on",
                      file=sys.stderr)
            return None

    def _unhook(self) -> None:
        if self._hook is not None:
            self._hook.remove()
            self._hook = None

    # -- the script's optimizers, modules and losses ------------------------------------------
    def _on_optimizer(self, optimizer: Any) -> None:
        entry = _Watched(optimizer, len(self.entries))
        if not entry.wanted:
            return
        self.entries.append(entry)
        if self._hook is None:
            from torch.nn.modules.module import register_module_forward_pre_hook

            self._hook = register_module_forward_pre_hook(self._before_forward)

    def _before_forward(self, module: Any, args: Any) -> None:
        self._guard("finding the model", self._find_model, module, args)

    def _find_model(self, module: Any, args: Any = ()) -> None:
        for entry in self.entries:
            if entry.together is not None and entry.new_pass and id(module) in {id(p) for p in entry.parts}:
                entry.new_pass = False  # the first part called since the last backward starts a pass
                for hook in list(entry.together._forward_pre_hooks.values()):
                    hook(entry.together, ())
        pending = [e for e in self.entries if e.watch is None and e.unwatched is None]
        if not pending:
            if not any(e.together is not None for e in self.entries):
                self._unhook()
            return
        ids: set[int] | None = None
        for entry in pending:
            if id(module) in entry.inside:
                if any(part is module for part in entry.parts):
                    self._read_first_batch(entry, module, args)
                continue  # inside a module already seen holding some of its parameters
            if ids is None:
                ids = {id(p) for p in module.parameters()}
                if not ids:
                    return
                self._remember_called(module)
            if entry.wanted <= ids:
                self._guard("attaching the doctor", self._attach, entry, module)
            elif entry.wanted & ids:
                within = {id(m) for m in module.modules()}
                entry.parts = [p for p in entry.parts if id(p) not in within] + [module]
                entry.inside = set().union(*({id(m) for m in p.modules()} for p in entry.parts))
                self._read_first_batch(entry, module, args)

    @staticmethod
    def _read_first_batch(entry: _Watched, module: Any, args: Any) -> None:
        """The inputs of the first of an optimizer's parts called in training (in training mode, with
        gradients): the first training batch, kept (a sample of rows) for the doctor attached later.
        Read once: a part called later in a pass sees hidden values, not the data."""
        import torch

        if entry.batch_read or not (getattr(module, "training", True) and torch.is_grad_enabled()):
            return
        from retroprop.torch.watch import batch_rows

        entry.batch_read = True
        entry.first_batch = batch_rows(args)

    def _on_backward(self, tensors: Any) -> None:
        import torch

        is_loss = (isinstance(tensors, torch.Tensor) and tensors.dim() == 0 and tensors.is_floating_point()
                   and tensors.grad_fn is not None)
        scaled, self._scaled = self._scaled, None
        graph = (scaled[1] if scaled is not None and scaled[0] is tensors else tensors) if is_loss else None
        for entry in self.entries:
            if entry.watch is None and entry.unwatched is None and entry.parts:
                model = entry.parts[0] if len(entry.parts) == 1 else self._together(entry)
                self._guard("attaching the doctor", self._attach, entry, model)
            elif entry.watch is None and entry.unwatched is None:
                entry.backwards += 1
                if entry.backwards >= GIVE_UP_BACKWARDS:  # its parameters are in no module the script calls
                    self._guard("adopting a model", self._adopt, entry, graph)
                if entry.watch is None and entry.backwards >= GIVE_UP_BACKWARDS:
                    entry.unwatched = (f"no module holding its parameters was called in the "
                                       f"{GIVE_UP_BACKWARDS} backward passes after it was created")
            entry.new_pass = True
        if graph is None:
            return
        loss = graph.detach()
        for entry in self.entries:
            if entry.watch is not None and entry.ended_by is None:
                entry.watch.complete_setup(graph)  # the first loss's graph names the loss function
                entry.watch.observe(loss)

    def _remember_called(self, module: Any) -> None:
        """Keep a weak reference to a module with parameters the script called (the latest
        ``CALLED_KEPT``)."""
        self._called.pop(id(module), None)
        self._called[id(module)] = weakref.ref(module)
        while len(self._called) > CALLED_KEPT:
            del self._called[next(iter(self._called))]

    def _adopt(self, entry: _Watched, graph: Any) -> None:
        """An optimizer none of whose parameters any module called holds, given up on, while losses are
        back-propagated: the module the latest loss trains in its stead (the called module holding the
        most of the trainable tensors the loss reaches, none of them any optimizer's; the outermost of
        equals) is its model, watched with it, and the doctor is told that the optimizer holds none of
        the tensors the loss reaches (``unregistered_parameters``): an optimizer built on a model
        created before the one the script trains, or on a copy of it. Nothing when no such module."""
        from retroprop.torch.loss_graph import trainable_leaves, unregistered_leaves

        if graph is None:
            return
        reached = trainable_leaves(graph).keys()
        stepped = set().union(*(e.wanted for e in self.entries))
        best, best_key = None, (0, 0)
        for reference in self._called.values():
            module = reference()
            if module is None:
                continue
            held = {id(p) for p in module.parameters()}
            if held & stepped:
                continue
            key = (len(held & reached), len(held))
            if key[0] and key > best_key:
                best, best_key = module, key
        if best is None:
            return
        self._attach(entry, best)
        if entry.watch is not None:
            entry.watch.offer_unregistered(unregistered_leaves(graph, best, entry.optimizer))

    def _together(self, entry: _Watched) -> Any:
        from torch import nn

        owner = self._owner(entry.parts)
        if owner is not None:  # the parts are named as inside the module of the script that holds them
            entry.owner = owner
            inside = {id(m): name.replace(".", "_") for name, m in owner[1].named_modules()}
            names: list[str | None] = [inside[id(part)] for part in entry.parts]
        else:
            names = self._names(entry.parts)
        together = nn.Module()
        for part, name in zip(entry.parts, names, strict=True):
            key = name or type(part).__name__.lower()
            while key in together._modules:
                key += "_"
            together.add_module(key, part)
        entry.together = together
        return together

    def _attach(self, entry: _Watched, model: Any) -> None:
        from retroprop.torch import watch

        if getattr(entry.optimizer, "_retroprop_watched", False):
            # the script watches this optimizer itself (retroprop.torch.watch): one doctor per optimizer
            entry.unwatched = "the script watches it itself with retroprop.torch.watch"
            return

        for earlier in self.entries:  # an optimizer over the same parameters ends the earlier one's run
            if earlier is not entry and earlier.watch is not None and earlier.ended_by is None and (
                    earlier.wanted & entry.wanted):
                earlier.ended_by = entry.index
                earlier.watch.finish()
        model_name, optimizer_name = self._names([model, entry.optimizer])
        entry.names = (model_name, optimizer_name)
        # a scheduler records each group's initial rate: one may raise the rate later (a warm-up)
        scheduled = any("initial_lr" in group for group in entry.optimizer.param_groups)
        entry.model = model
        loader = self._training_loader(model)
        try:
            entry.watch = watch(model, entry.optimizer, repair=self.repair, every=self.every,
                                lr_scheduled=scheduled, data=loader)
            entry.loader = weakref.ref(loader) if loader is not None else None
            entry.watch.offer_first_batch(entry.first_batch)
            entry.first_batch = None
        except Exception as err:
            entry.unwatched = f"the doctor could not be attached: {err!r}"
            raise

    def _training_loader(self, model: Any) -> Any:
        """The loader the model's first training pass draws from: the DataLoader iterated last, when the
        pass builds a graph in training mode (an evaluation first, under no_grad or eval(), is no
        training data); None otherwise."""
        import torch

        loader = self._loader() if self._loader is not None else None
        if loader is None or not torch.is_grad_enabled() or not getattr(model, "training", True):
            return None
        return loader

    def _script_names(self) -> list[tuple[str, Any]]:
        """The names and values in the innermost frame of the script on the call stack (its locals, then
        its globals; private names left out); none when the script is not on the stack."""
        frame = sys._getframe()
        script = os.path.realpath(self.script)
        while frame is not None and os.path.realpath(frame.f_code.co_filename) != script:
            frame = frame.f_back
        if frame is None:
            return []
        return [(k, v) for scope in (frame.f_locals, frame.f_globals) for k, v in list(scope.items())
                if not k.startswith("_")]

    def _names(self, objects: list[Any]) -> list[str | None]:
        """The script's own names for ``objects`` (``_script_names``), else None."""
        scope = self._script_names()
        return [next((k for k, v in scope if v is obj), None) for obj in objects]

    def _owner(self, parts: list[Any]) -> tuple[str, Any] | None:
        """(its name, the module) for the smallest module the script names that holds every one of
        ``parts``: the model of a loop that calls ``model.forward(x)``, which calls its layers but never
        the model itself; None when no such module is named."""
        from torch import nn

        holding = [(k, v) for k, v in self._script_names() if isinstance(v, nn.Module)
                   and all(any(m is part for m in v.modules()) for part in parts)]
        return min(holding, key=lambda item: sum(1 for _ in item[1].modules()), default=None)


# ---------------------------------------------------------------------------------------------
# the command
# ---------------------------------------------------------------------------------------------
def _script_path(text: str) -> Path:
    path = Path(text)
    if path.is_dir():
        if not (path / "__main__.py").is_file():
            raise UserError(f"{path}: is a folder without a __main__.py; expected a Python script")
        return path
    if not path.exists():
        raise UserError(f"{path}: no such file; expected the training script to run (a .py file)")
    if not path.is_file():
        raise UserError(f"{path}: not a file; expected the training script to run (a .py file)")
    return path


def _run_script(script: Path, arguments: list[str], session: Session, *,
                quiet_stdout: bool) -> tuple[int, str | None]:
    """Run the script as ``python script args`` would; returns its exit status and, when it failed,
    what ended it."""
    import contextlib

    argv, path, folder = sys.argv[:], sys.path[:], os.getcwd()
    sys.argv = [str(script), *arguments]
    sys.path.insert(0, str(script.resolve().parent if script.is_file() else script.resolve()))
    session.install()
    status, ended = 0, None
    redirect = contextlib.redirect_stdout(sys.stderr) if quiet_stdout else contextlib.nullcontext()
    try:
        with redirect:
            runpy.run_path(str(script), run_name="__main__")
    except SystemExit as done:
        status, ended = _exit_status(done.code)
        if ended is not None and not isinstance(done.code, int):
            print(done.code, file=sys.stderr)
    except KeyboardInterrupt:
        status, ended = EXIT_INTERRUPTED, "interrupted (Ctrl-C)"
        print(f"retroprop watch: {script} was interrupted", file=sys.stderr)
    except Exception as err:
        _print_script_error(err, script)
        status, ended = EXIT_FAILED, f"{type(err).__name__}: {err}"
    finally:
        session.uninstall()
        sys.argv, sys.path[:] = argv, path
        os.chdir(folder)  # the outputs go where the command was run, whatever the script's chdir
    session.finish()
    return status, ended


def _exit_status(code: Any) -> tuple[int, str | None]:
    """``sys.exit(code)`` as Python's own exit status: None and 0 are success, an int is itself,
    anything else (a message) is 1."""
    if code is None or code == 0:
        return EXIT_OK, None
    if isinstance(code, int):
        return code, f"sys.exit({code})"
    return EXIT_FAILED, f"sys.exit({code!r})"


def _print_script_error(err: BaseException, script: Path) -> None:
    """The script's traceback as Python prints it: from the script's first frame on."""
    target = os.path.realpath(script)
    tb = err.__traceback__
    while tb is not None and not os.path.realpath(tb.tb_frame.f_code.co_filename).startswith(target):
        tb = tb.tb_next
    traceback.print_exception(type(err), err, tb, file=sys.stderr)


def _title(entry: _Watched) -> str:
    model_name, optimizer_name = entry.names
    model = f"`{model_name}` ({type(entry.model).__name__})" if model_name else type(entry.model).__name__
    if entry.together is not None:
        model = " + ".join(f"`{k}` ({type(m).__name__})" for k, m in entry.together.named_children())
        if entry.owner is not None:  # a loop calling model.forward(x)
            name, owner = entry.owner
            model = f"`{name}` ({type(owner).__name__}, watched through its modules {model})"
    optimizer = type(entry.optimizer).__name__
    optimizer = f"`{optimizer_name}` ({optimizer})" if optimizer_name else optimizer
    return f"model {model}, optimizer {optimizer}"


def _not_checked(entry: _Watched) -> list[str]:
    seen = "validation scores" if entry.loader is not None else "epochs and validation scores"
    notes = [f"the validation rules (overfitting, validation) did not run: `retroprop watch` cannot see a "
             f"script's {seen} (in the script, retroprop.torch.watch and doctor.end_epoch give them)"]
    if not entry.watch.core.losses_known:
        notes.insert(0, "the loss rules did not run: no step's loss was back-propagated with .backward() "
                        "as a 0-dim tensor")
    return notes


def _output_path(base: Path, position: int) -> Path:
    return base if position == 0 else base.with_name(f"{base.stem}-{position + 1}{base.suffix}")


def watch_script(args: argparse.Namespace) -> int:
    script = _script_path(args.script)
    outputs = Outputs("watch", to_stderr=args.json)
    report = Outputs.check(args.report, "report", REPORT_SUFFIXES)
    record = Outputs.check(args.record, "record", RECORD_SUFFIXES)
    try:  # before the script: a missing torch is said in one line, not as the script's failure
        import torch  # noqa: F401
    except ImportError:
        needs = "this needs PyTorch: pip install torch (the README names the tested version)"
        raise UserError(needs) from None

    session = Session(script, repair=args.repair, every=args.every)
    status, ended = _run_script(script, list(args.args), session, quiet_stdout=args.json)
    watched = [e for e in session.entries if e.watch is not None and e.steps > 0]
    unwatched = [e for e in session.entries if e.watch is None]
    problems = sorted({d.problem for e in watched for d in e.watch.diagnoses})
    doctor_errors = [err for e in watched for err in e.watch.core.errors] + session.errors
    healthy = bool(watched) and not problems and not doctor_errors
    models = []
    if not args.json:
        print(f"\nretroprop watch: {script} " + (f"ended: {ended}" if ended else "ended") +
              f"; the doctor watched {len(watched)} model{'s' * (len(watched) != 1)}")
    for position, entry in enumerate(watched):
        title = _title(entry)
        files: dict[str, str] = {}
        for what, base, writer in (("report", report, lambda t, e=entry, n=title: e.watch.report(t, title=n)),
                                   ("record", record, lambda t, e=entry, n=title: e.watch.record(n).save(t))):
            if base is not None:
                where = outputs.write(_output_path(base, position), what, writer)
                if where is not None:
                    files[what] = str(where)
        # a loop calling model.forward(x): the model is the script's module that holds the parts watched
        name, shown = entry.owner if entry.owner is not None else (entry.names[0], entry.model)
        models.append({"model": name, "model_class": type(shown).__name__,
                       "optimizer": entry.names[1], "optimizer_class": type(entry.optimizer).__name__,
                       "steps": entry.steps, "problems": sorted({d.problem for d in entry.watch.diagnoses}),
                       "diagnoses": [d.to_dict() for d in entry.watch.diagnoses],
                       "passed": [d.to_dict() for d in entry.watch.passed],
                       "treatments": [t.to_dict() for t in entry.watch.treatments],
                       "doctor_errors": entry.watch.core.errors, "not_checked": _not_checked(entry), **files})
        if not args.json:
            print(f"\n== {title}: {entry.steps} steps ==")
            print(entry.watch.core.summary())
            print("\nNot checked:\n" + "\n".join(f"- {note}" for note in _not_checked(entry)))
            for what, where in files.items():
                print(f"{what} written to {where}")
    missing = [f"{type(e.optimizer).__name__} (optimizer {e.index + 1}): " +
               (e.unwatched or "no module holding its parameters was called") for e in unwatched]
    if args.json:
        print(finite_json.dumps({"healthy": healthy, "problems": problems, "script": str(script),
                                 "script_status": status, "script_ended": ended, "models": models,
                                 "not_watched": missing, "doctor_errors": doctor_errors}, indent=1))
    else:
        print()
        for line in missing:
            print(f"not watched: {line}")
        for error in session.errors:
            print(f"the doctor failed: {error}")
        if healthy:
            print("healthy")
        elif not watched:
            print("nothing was watched: the script " + ("created no optimizer" if not session.entries else
                                                       "never stepped an optimizer of a model it called"))
        else:
            found = ", ".join(problems) or "none named by the doctor"
            failed = "; the doctor itself failed, so the run was not fully watched" if doctor_errors else ""
            print(f"problems found: {found}{failed}")
    if status != EXIT_OK:
        return status
    if outputs.incomplete:
        return EXIT_FAILED
    return EXIT_OK if healthy else EXIT_PROBLEM
