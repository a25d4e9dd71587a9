"""``hartbeat bisect``: find the first build of an ordered series that hangs, in few boots.

``series`` lists the builds (a folder or a git range), ``criterion`` says what a run counts as,
``stats`` turns runs into a hang rate and a stopping rule, ``search`` holds what is known of each
build, ``strategies`` decide what to boot next and when to stop (``bayes``, ``repeat``: one class
each, one registry), ``cache`` and ``journal`` avoid rerunning anything, ``trials`` boots a build,
``bisector`` runs the boots a strategy asks for and keeps the log, and ``report`` composes and
writes the answer.

Layer: bisect. May import: base, engine, autopsy, model, lab, ssh, power, targets, probes, records,
run, analysis.
"""
