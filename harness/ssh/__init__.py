"""SSH with paramiko: connect with verified host keys, deploy images by SFTP, run check steps.

Three board sections use it: ``[ssh]`` (a plan step ``ssh = "command"`` runs on the booted
board), ``[deploy]`` (the run's image files are copied to the board's Linux or a TFTP folder
before the power cycle) and ``[power] backend = "ssh"``. Host keys are checked against
``known_hosts`` and an unknown key is refused; ``insecure_ignore_host_key = true`` is the
explicit, logged opt-out. Passwords come from an environment variable named in the profile and
never reach a message, a log or a report.

One module per job: :mod:`~harness.ssh.settings` reads the sections (without paramiko),
:mod:`~harness.ssh.client` connects and runs commands (all the ``ssh`` power backend needs),
:mod:`~harness.ssh.step` is the plan's ``ssh`` step, :mod:`~harness.ssh.deploy` the SFTP copy, and
:mod:`~harness.ssh.hooks` the runner's entry to both, which loads paramiko only for boards that use SSH.

Layer: ssh. May import: base, engine, autopsy, model, lab.
"""
