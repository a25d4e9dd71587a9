"""``hartbeat bisect``: find the first build of an ordered series that hangs, in few boots.

``series`` lists the builds (a folder or a git range), ``criterion`` says what a run counts as,
``stats`` turns runs into a hang rate and a stopping rule, ``search`` picks the builds to try,
``cache`` and ``journal`` avoid rerunning anything, ``trials`` boots a build, ``bisector`` ties
them together and ``report`` writes the answer.
"""
