"""A console process that plays a boot from a small script, for the harness's own tests.

Each line of the script is one action:
  say TEXT          print TEXT and a newline ("\\xNN" escapes give raw bytes)
  put TEXT          print TEXT without a newline (a prompt)
  sleep SECONDS     pause
  firehose TEXT     print TEXT with a counter, forever, as fast as possible
  trickle S TEXT    print TEXT with a counter every S seconds, forever
  hang              stop printing, stay alive
  expect TEXT       read input lines until one contains TEXT
  echo              read one input line and print it back
  drop-newline      lose the next line ending typed (a UART FIFO overrun), keep the characters
  exit N            exit with status N
  pid PATH          write this process's id to PATH
  slow-term SECONDS take SECONDS to quit when terminated (QEMU told to quit)
"""

import ast
import os
import signal
import sys
import time


def out(data: bytes) -> None:
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def text_bytes(text: str) -> bytes:
    return ast.literal_eval("b'" + text.replace("'", "\\'") + "'")


# Line endings still to lose (drop-newline).
dropping = 0


def read_line() -> str:
    global dropping
    chars = []
    while True:
        ch = sys.stdin.buffer.read(1)
        if not ch:
            sys.exit(0)
        if ch in (b"\r", b"\n"):
            if dropping:
                dropping -= 1
                continue
            return b"".join(chars).decode(errors="replace")
        chars.append(ch)


def main(path: str) -> None:
    with open(path, encoding="utf-8") as handle:
        actions = [line.rstrip("\n") for line in handle if line.strip() and not line.startswith("#")]
    for action in actions:
        verb, _, arg = action.partition(" ")
        if verb == "say":
            out(text_bytes(arg) + b"\r\n")
        elif verb == "put":
            out(text_bytes(arg))
        elif verb == "sleep":
            time.sleep(float(arg))
        elif verb == "firehose":
            count = 0
            while True:
                out(b"".join(text_bytes(f"{arg} {count + i}") + b"\r\n" for i in range(64)))
                count += 64
        elif verb == "trickle":
            delay, _, text = arg.partition(" ")
            count = 0
            while True:
                out(text_bytes(f"{text} {count}") + b"\r\n")
                count += 1
                time.sleep(float(delay))
        elif verb == "hang":
            while True:
                time.sleep(3600)
        elif verb == "expect":
            while arg not in read_line():
                pass
        elif verb == "drop-newline":
            global dropping
            dropping += 1
        elif verb == "echo":
            out(read_line().encode() + b"\r\n")
        elif verb == "pid":
            with open(arg, "w", encoding="utf-8") as handle:
                handle.write(str(os.getpid()))
        elif verb == "slow-term":

            def quit_slowly(_signum: int, _frame: object, delay: float = float(arg)) -> None:
                time.sleep(delay)
                sys.exit(0)

            signal.signal(signal.SIGTERM, quit_slowly)
        elif verb == "exit":
            sys.exit(int(arg))
        else:
            raise SystemExit(f"scripted_board: unknown action {verb!r}")


if __name__ == "__main__":
    main(sys.argv[1])
