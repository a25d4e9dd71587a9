"""Boots a scripted board plays (tests/scripts/scripted_board.py) and the plans that judge them.

The runner's verdict tests, the replay's and the HTML report's play the same boots with
different endings (a wedge, a stall, a panic, a login, a wrong answer); the qsoe plan's limits
are the arguments of :func:`qsoe_plan`.
"""

from __future__ import annotations

# qsoe up to its /usr mount: the last milestone before login, where its init can wedge.
QSOE_BOOT = """
say OpenSBI v1.2
say U-Boot 2023.01
say fs-qrv: mounted qrvfs at /usr (dev=/dev/nvme0n1p8)
"""

# The ending of a silent wedge: init's last message, then nothing.
QSOE_WEDGE = "say tm_msg 0x11b   <- TM_REQ_SPAWN    exec level1.sh\nhang\n"

QSOE_PLAN = """
name = "qsoe"
silence = "{silence}"
timeout = "{timeout}"

[[milestone]]
name = "opensbi"
expect = 'OpenSBI v(?P<version>[0-9.]+)'
within = "10s"

[[milestone]]
name = "uboot"
expect = 'U-Boot (?P<uboot>\\d+\\.\\d+)'
within = "10s"

[[milestone]]
name = "usr-mounted"
expect = 'fs-qrv: mounted qrvfs at /usr'
within = "10s"

[[milestone]]
name = "login"
expect = 'login: $'
within = "{within}"
"""


def qsoe_plan(silence: str = "1s", timeout: str = "60s", within: str = "20s") -> str:
    """The qsoe plan's TOML: ``silence`` and ``timeout`` for the run, ``within`` for the login."""
    return QSOE_PLAN.format(silence=silence, timeout=timeout, within=within)


# Commands typed at a U-Boot-like prompt: the first one's output is right, the second one's is not.
COMMANDS_PLAN = """
name = "cmd"
silence = "2s"
[[milestone]]
name = "prompt"
expect = '=> $'
within = "5s"
[[milestone]]
name = "echo-ok"
send = "marker42"
expect = '^marker42$'
prompt = '=> $'
within = "5s"
[[milestone]]
name = "echo-wrong"
send = "something-else"
expect = '^marker43$'
prompt = '=> $'
within = "5s"
"""

# A prompt that echoes each command typed at it.
COMMANDS_SCRIPT = "put => \necho\nput => \necho\nput => \nhang\n"
