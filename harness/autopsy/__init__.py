"""The wedge autopsy: where every hart is when the console goes silent.

The package's layers: :mod:`~harness.autopsy.model` (the data), :mod:`~harness.autopsy.record`
(report.json's form of it), :mod:`~harness.autopsy.render` (text for the terminal) and
:mod:`~harness.autopsy.classify` are plain definitions that reports and replays import;
:mod:`~harness.autopsy.loops` (with :mod:`~harness.autopsy.decode`) says from a loop's code,
read through the backend, what a spinning hart waits on;
:mod:`~harness.probes.backend`, :mod:`~harness.probes.registry` (target kind -> backend),
the backends and :mod:`~harness.probes.take` talk to targets. Importing this package imports
nothing of either.

Layer: autopsy. May import: base, engine.
"""
